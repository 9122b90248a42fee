# Every target creates the virtual environment itself on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EXAMPLE := examples/morphine-bupivacaine.toml

.PHONY: venv run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Until the clinic web app exists (issue 5), the main job shows the engine on a bundled example.
run: $(STAMP)
	@mkdir -p out
	$(VENV)/bin/itp program check $(EXAMPLE) --plot out/rate.png
	@echo
	$(VENV)/bin/itp delivery $(EXAMPLE) --from 2026-01-05T00:00:00Z --to 2026-02-04T00:00:00Z --worst-case
	@echo
	$(VENV)/bin/itp delivery $(EXAMPLE) --from 2026-01-05T00:00:00Z --to 2026-01-06T00:00:00Z --presses examples/presses.txt
	@echo
	@echo "Rate chart written to out/rate.png"

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) bench/engine.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .hypothesis
