# Every target creates the virtual environment itself on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EXAMPLE := examples/morphine-bupivacaine.toml

.PHONY: venv run test lint bench clean screenshots lock

# Dependencies come from requirements.lock (exact versions with their hashes); the project
# itself is then installed editable without resolving anything again.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

# The clinic web app (issue 5): migrate/create out/clinic.db (or DATABASE_URL), seed a demo
# clinic when it has no patients, a virtual pump per implanted patient in out/pumps (existing
# ones reused), print the demo users, serve on http://127.0.0.1:8000 with the pumps served on
# 127.0.0.1:7474 at 60x (one pump minute a second); Ctrl-C stops both.
PUMP_SPEED ?= 60
run: $(STAMP)
	@mkdir -p out
	$(VENV)/bin/itp clinic migrate
	$(VENV)/bin/itp clinic seed --patients 50
	$(VENV)/bin/itp clinic pumps --state out/pumps
	@$(VENV)/bin/itp clinic users
	$(VENV)/bin/itp clinic run --host 127.0.0.1 --port 8000 --pumps out/pumps --pump-port 7474 --speed $(PUMP_SPEED)

test: $(STAMP)
	$(PY) -m pytest

# Refresh the manual's screenshots (docs/clinic.md; the browser tests take them).
screenshots: $(STAMP)
	ITP_SCREENSHOTS=docs/screenshots $(PY) -m pytest tests/browser -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) bench/engine.py
	$(PY) bench/clinic.py --workers 2
	$(PY) bench/outcomes.py

# Refresh requirements.lock after changing dependencies in pyproject.toml (docs/development.md, "Dependencies").
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet pip-tools
	.venv-lock/bin/pip-compile --quiet --generate-hashes --allow-unsafe --extra dev \
	  --all-build-deps --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .hypothesis
