"""Property (issue 12, "How it must be shown"): for any sequence of commands, restarts, lost
saves, corrupted state files and retries, no demand bolus breaks the lockout (OPCA-24) or the
24 h maximum (OPCA-61), no request is applied twice, and delivered + remaining = filled."""

from __future__ import annotations

import itertools
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from intrathecal.library import default_library
from intrathecal.pump import commands as c
from intrathecal.pump.alarms import AlarmCode
from intrathecal.pump.firmware import Firmware
from intrathecal.pump.persistence import STATE, PumpStore
from tests.conftest import HOUR, MONDAY
from tests.pump.helpers import DEMAND, MORPHINE, SERIAL

LOCKOUT_S = 4 * HOUR
MAX_PER_24H = 3
LIBRARY = default_library()

actions = st.lists(
    st.one_of(
        st.tuples(st.just("press"), st.none()),
        st.tuples(st.just("retry"), st.integers(0, 30)),  # resend an earlier request
        st.tuples(st.just("advance"), st.floats(60, 10 * HOUR)),
        st.tuples(st.just("restart"), st.none()),  # saved, process restarted
        st.tuples(st.just("lost"), st.none()),  # killed before the save: memory is lost
        st.tuples(st.just("corrupt"), st.none()),  # state.json damaged on disk
        st.tuples(st.just("bolus"), st.floats(0.01, 0.08)),
        st.tuples(st.just("refill"), st.floats(5, 20)),
    ),
    max_size=14,
)


class Run:
    def __init__(self, root: Path) -> None:
        self.store, self.fw = PumpStore.create(root, SERIAL, "synchromed-ii-20", MONDAY, LIBRARY)
        self.root = root
        self.now = MONDAY
        self.sent: list[tuple[str, c.Command]] = []
        self.n = 0
        self.send(c.Refill(20.0, (MORPHINE,)))
        self.program()
        self.save()

    def send(self, command: c.Command, request_id: str | None = None) -> dict[str, object]:
        if request_id is None:
            self.n += 1
            request_id = f"q{self.n}"
            self.sent.append((request_id, command))
        return self.fw.handle(request_id, command, self.now)

    def program(self) -> None:
        staged = self.send(c.StageProgram(DEMAND))
        if staged["ok"]:
            self.send(c.ActivateProgram(staged["result"]["checksum"]))  # type: ignore[index]

    def save(self) -> None:
        self.store.save(self.fw)

    def reload(self) -> None:
        self.store = PumpStore(self.root / SERIAL)
        self.fw = self.store.load(LIBRARY)
        self.now = max(self.now, self.fw.state.now_s)
        if self.fw.state.alarm(AlarmCode.MEMORY_ERROR) is not None:
            # The clinic's answer to a memory error: refill, reprogram, clear.
            self.send(c.Refill(20.0, (MORPHINE,)))
            self.program()
            self.send(c.ClearAlarm(AlarmCode.MEMORY_ERROR))

    def step(self, kind: str, value: object) -> None:
        if kind == "press":
            self.send(c.DemandBolus())
        elif kind == "retry" and self.sent:
            request_id, command = self.sent[int(value) % len(self.sent)]  # type: ignore[call-overload]
            self.send(command, request_id)
        elif kind == "advance":
            self.now += float(value)  # type: ignore[arg-type]
            self.fw.advance(self.now)
        elif kind == "restart":
            self.save()
            self.reload()
        elif kind == "lost":
            self.reload()
        elif kind == "corrupt":
            self.save()
            path = self.root / SERIAL / STATE
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0x20
            path.write_bytes(bytes(data))
            self.reload()
        elif kind == "bolus":
            self.send(c.Bolus("clinician", float(value), 1800.0))  # type: ignore[arg-type]
        elif kind == "refill":
            self.send(c.Refill(float(value)))  # type: ignore[arg-type]
        s = self.fw.state
        assert abs(s.remaining_ml + s.delivered_since_fill_ml - s.filled_ml) < 1e-9


def accepted_presses(fw: Firmware) -> list[float]:
    return sorted(
        e.at_s for e in fw.events if e.kind == "bolus_started" and e.data.get("kind") == "demand"
    )


@settings(max_examples=30, deadline=None)
@given(actions)
def test_no_sequence_breaks_the_demand_limits_or_applies_a_request_twice(
    steps: list[tuple[str, object]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        run = Run(Path(folder))
        for kind, value in steps:
            run.step(kind, value)
        run.save()
        final = PumpStore(Path(folder) / SERIAL).load(LIBRARY)
    presses = accepted_presses(final)
    for earlier, later in itertools.pairwise(presses):
        assert later - earlier >= LOCKOUT_S - 1e-6  # OPCA-24, start to start
    for start in presses:
        in_window = [t for t in presses if start - 24 * HOUR < t <= start]
        assert len(in_window) <= MAX_PER_24H  # OPCA-61
    applied = Counter(
        e.data["request_id"]
        for e in final.events
        if e.kind == "command" and isinstance(e.data.get("request_id"), str)
    )
    assert all(count == 1 for count in applied.values()), applied.most_common(3)
