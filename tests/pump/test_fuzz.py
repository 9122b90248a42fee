"""Fuzz the frame parser and the request handler: no crash, no change on bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intrathecal.library import default_library
from intrathecal.pump import commands as c
from intrathecal.pump.frame import HEADER, MAX_PAYLOAD, Decoder, Frame, FrameError, encode
from intrathecal.pump.persistence import PumpStore
from intrathecal.pump.server import PumpServer
from intrathecal.pump.state import state_to_json
from tests.conftest import MONDAY
from tests.pump.helpers import DEMAND, MORPHINE, SERIAL

VALID = {"type": "demand_bolus", "request_id": "r-1", "serial": SERIAL}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)


@given(st.binary(max_size=200), st.integers(1, 64))
def test_decoder_never_raises_on_any_bytes(data: bytes, chunk: int) -> None:
    decoder = Decoder()
    for start in range(0, len(data), chunk):
        for item in decoder.feed(data[start : start + chunk]):
            assert isinstance(item, Frame | FrameError)
    tail = decoder.finish()
    assert tail is None or tail.code == "truncated"


@given(st.integers(0, 2**32 - 1), st.data())
def test_any_single_bit_flip_is_never_taken_for_a_frame(seq: int, data: st.DataObject) -> None:
    frame = encode(seq, VALID)
    bit = data.draw(st.integers(0, len(frame) * 8 - 1))
    damaged = bytearray(frame)
    damaged[bit // 8] ^= 1 << (bit % 8)
    decoder = Decoder()
    items = decoder.feed(bytes(damaged))
    assert not any(isinstance(i, Frame) for i in items)
    errors = [i for i in items if isinstance(i, FrameError)]
    tail = decoder.finish()
    # A damaged length can leave the decoder waiting: the end of the stream says truncated.
    assert errors or (tail is not None and tail.code == "truncated")


@given(st.integers(0, 2**32 - 1), st.data())
def test_a_truncated_frame_is_reported_as_such(seq: int, data: st.DataObject) -> None:
    frame = encode(seq, VALID)
    cut = data.draw(st.integers(1, len(frame) - 1))
    decoder = Decoder()
    assert decoder.feed(frame[:cut]) == []
    tail = decoder.finish()
    assert tail is not None and tail.code == "truncated"
    if cut >= HEADER.size:
        assert tail.seq == seq


def test_frames_split_anywhere_decode_whole() -> None:
    stream = encode(7, VALID) + encode(8, {**VALID, "request_id": "r-2"})
    for cut in range(len(stream) + 1):
        decoder = Decoder()
        items = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert [i.seq for i in items if isinstance(i, Frame)] == [7, 8]


def test_an_oversized_length_is_refused_before_reading_it() -> None:
    head = HEADER.pack(b"IT", 1, 0, MAX_PAYLOAD + 1, 3)
    items = Decoder().feed(head)
    assert isinstance(items[0], FrameError) and items[0].code == "too_long"


# -- the request handler ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PumpServer]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    library = default_library()
    store, fw = PumpStore.create(root, SERIAL, "synchromed-ii-20", MONDAY, library)
    fw.handle("a", c.Refill(20.0, (MORPHINE,)), MONDAY)
    staged = fw.handle("b", c.StageProgram(DEMAND), MONDAY)["result"]
    fw.handle("c", c.ActivateProgram(staged["checksum"]), MONDAY)  # type: ignore[index]
    store.save(fw)
    yield PumpServer(root, speed=0.0, start_s=MONDAY, library=library)


def snapshot(server: PumpServer) -> tuple[str, int]:
    fw = server.pumps[SERIAL].firmware
    return json.dumps(state_to_json(fw.state), sort_keys=True), len(fw.events)


def mutated_requests() -> st.SearchStrategy[dict[str, Any]]:
    keys = [
        "type",
        "request_id",
        "serial",
        "volume_ml",
        "duration_s",
        "kind",
        "drugs",
        "code",
        "checksum",
        "program_toml",
        "since",
        "pump_time_s",
        "fault",
        "seconds",
        "extra",
    ]
    types = st.sampled_from([*c.PUMP_COMMANDS, *c.SERVER_REQUESTS, "nope"])
    return st.dictionaries(st.sampled_from(keys), json_values | types, max_size=6)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=json_values | mutated_requests())
def test_bad_requests_change_nothing(server: PumpServer, payload: Any) -> None:
    before = snapshot(server)
    reply = server.handle_payload(payload)
    assert isinstance(reply, dict) and isinstance(reply.get("ok"), bool)
    json.dumps(reply, allow_nan=False)  # every reply can be framed
    if reply["ok"] is False and reply["code"] in ("bad_request", "unknown_pump"):
        assert snapshot(server) == before
        assert reply["errors"] and all("field" in e and "message" in e for e in reply["errors"])


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=120))
def test_frames_with_bad_json_change_nothing(server: PumpServer, body: bytes) -> None:
    before = snapshot(server)
    reply = server.handle_frame(Frame(seq=1, reply=False, payload=body))
    assert reply["ok"] is False
    assert snapshot(server) == before


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.one_of(
        st.builds(c.Refill, st.floats(-5, 50), st.none(), st.none(), st.none() | st.floats(0, 30)),
        st.builds(c.Bolus, st.sampled_from(c.BOLUS_KINDS), st.floats(1e-6, 30), st.floats(1, 2e5)),
        st.builds(c.SetClock, st.floats(0, 7e9)),
        st.builds(c.ActivateProgram, st.text("0123456789abcdef", min_size=64, max_size=64)),
        st.builds(c.StageProgram, st.text(max_size=200)),
        st.just(c.DemandBolus()),
        st.just(c.Stop()),
        st.just(c.Resume()),
    )
)
def test_refused_commands_change_only_the_log(server: PumpServer, command: c.Command) -> None:
    fw = server.pumps[SERIAL].firmware
    therapy_before = {
        k: v
        for k, v in state_to_json(fw.state).items()
        if k not in ("event_count", "replies", "reply_digests")
    }
    count = len(fw.events)
    reply = fw.handle(f"fuzz-{count}", command, fw.state.now_s)
    if reply["ok"] is False:
        after = {
            k: v
            for k, v in state_to_json(fw.state).items()
            if k not in ("event_count", "replies", "reply_digests")
        }
        assert after == therapy_before
        assert [e.kind for e in fw.events[count:]] == ["refused"]


# -- issue 12: huge numbers and deep nesting get an answer, never an exception ------------------


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(
    kind=st.sampled_from(["refill", "set_clock", "bolus", "advance", "interrogate"]),
    key=st.sampled_from(["volume_ml", "pump_time_s", "duration_s", "seconds", "since"]),
    digits=st.integers(310, 1000),
    negative=st.booleans(),
)
def test_huge_integers_in_any_number_field_are_bad_requests(
    server: PumpServer, kind: str, key: str, digits: int, negative: bool
) -> None:
    before = snapshot(server)
    number = ("-" if negative else "") + "9" * digits
    body = f'{{"type":"{kind}","request_id":"h","serial":"{SERIAL}","{key}":{number}}}'
    if kind == "advance":
        body = f'{{"type":"advance","request_id":"h","{key}":{number}}}'
    reply = server.handle_frame(Frame(seq=1, reply=False, payload=body.encode()))
    assert reply["ok"] is False and reply["code"] in ("bad_request", "bad_json")
    json.dumps(reply, allow_nan=False)
    assert snapshot(server) == before


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=20)
@given(depth=st.integers(500, 200_000), opener=st.sampled_from(["[", '{"a":']))
def test_deeply_nested_payloads_are_answered(server: PumpServer, depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    inner = "1" if opener != "[" else ""
    body = (opener * depth + inner + closer * depth).encode()
    reply = server.handle_frame(Frame(seq=1, reply=False, payload=body))
    assert reply["ok"] is False and reply["code"] in ("bad_request", "bad_json")
