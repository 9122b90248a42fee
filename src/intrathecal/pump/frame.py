"""Telemetry frames: encoding and an incremental decoder that never raises.

Layout (big-endian), documented in docs/pump.md ("Wire protocol"):

    offset  size  field
    0       2     magic  b"IT"
    2       1     version (1)
    3       1     flags: bit 0 set on a reply
    4       4     length of the payload in bytes (at most 1 MiB)
    8       4     sequence number (unsigned 32 bit)
    12      n     payload: a UTF-8 JSON object
    12+n    4     CRC-32 (zlib/IEEE) of bytes 0 .. 12+n

A frame that cannot be trusted to mark where the next one starts (bad magic, unknown version,
too long, failed CRC) is a fatal error for the connection: it is answered, then the
connection is closed and the client reconnects. A frame that decodes but whose JSON is bad is
answered and the connection goes on.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

MAGIC = b"IT"
VERSION = 1
FLAG_REPLY = 0x01
HEADER = struct.Struct(">2sBBII")
CRC = struct.Struct(">I")
MAX_PAYLOAD = 1 << 20
SEQ_MODULUS = 1 << 32


@dataclass(frozen=True)
class Frame:
    seq: int
    reply: bool
    payload: bytes

    def json(self) -> Any:
        """The payload as JSON; raises ValueError when it is not a UTF-8 JSON document."""
        return json.loads(self.payload.decode("utf-8"))


@dataclass(frozen=True)
class FrameError:
    code: str  # bad_magic, bad_version, too_long, bad_crc, truncated
    message: str
    seq: int  # the sequence number read from the header, or 0 when there was none
    fatal: bool = True


def encode(seq: int, payload: dict[str, Any], *, reply: bool = False) -> bytes:
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(body) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(body)} bytes is over the {MAX_PAYLOAD} byte limit")
    return encode_raw(seq % SEQ_MODULUS, body, reply=reply)


def encode_raw(seq: int, body: bytes, *, reply: bool = False, version: int = VERSION) -> bytes:
    head = HEADER.pack(MAGIC, version, FLAG_REPLY if reply else 0, len(body), seq)
    return head + body + CRC.pack(zlib.crc32(head + body))


class Decoder:
    """Feed bytes as they arrive; get whole frames or errors. After a fatal error the decoder
    drops everything (the stream has lost its framing) and reports nothing more."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.broken = False

    @property
    def pending(self) -> bool:
        return bool(self._buffer)

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        if self.broken:
            return []
        self._buffer.extend(data)
        out: list[Frame | FrameError] = []
        while not self.broken:
            item = self._next()
            if item is None:
                break
            out.append(item)
        return out

    def finish(self) -> FrameError | None:
        """The stream ended: a partial frame left behind is reported as truncated."""
        if self.broken or not self._buffer:
            return None
        seq = HEADER.unpack_from(self._buffer)[4] if len(self._buffer) >= HEADER.size else 0
        got = len(self._buffer)
        self._buffer.clear()
        return FrameError("truncated", f"the stream ended inside a frame ({got} bytes)", seq)

    def _fail(self, code: str, message: str, seq: int) -> FrameError:
        self.broken = True
        self._buffer.clear()
        return FrameError(code, message, seq)

    def _next(self) -> Frame | FrameError | None:
        buffer = self._buffer
        if len(buffer) >= 2 and bytes(buffer[:2]) != MAGIC:
            return self._fail("bad_magic", f"frame does not start with {MAGIC!r}", 0)
        if len(buffer) < HEADER.size:
            return None
        _, version, flags, length, seq = HEADER.unpack_from(buffer)
        if version != VERSION:
            return self._fail("bad_version", f"version {version} is not supported (1)", seq)
        if length > MAX_PAYLOAD:
            return self._fail("too_long", f"payload of {length} bytes is over {MAX_PAYLOAD}", seq)
        total = HEADER.size + length + CRC.size
        if len(buffer) < total:
            return None
        (crc,) = CRC.unpack_from(buffer, HEADER.size + length)
        if zlib.crc32(bytes(buffer[: HEADER.size + length])) != crc:
            return self._fail("bad_crc", "CRC-32 does not match the frame", seq)
        payload = bytes(buffer[HEADER.size : HEADER.size + length])
        del buffer[:total]
        return Frame(seq=seq, reply=bool(flags & FLAG_REPLY), payload=payload)
