"""Writing an SSE stream as HTTP chunks, with stream faults and per-frame pacing.

With no per-frame delay, frames are batched into chunks of up to ``BATCH_BYTES`` (the first
frame goes alone so time-to-first-token stays honest); every frame stays a complete SSE
event. With a delay, each frame is written and flushed on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .formats.common import FrameStream
from .server import Exchange

BATCH_BYTES = 32 * 1024
MALFORMED_FRAME = b'data: {"emulator": "malformed frame", "text": "unterminated\n\n'


@dataclass
class StreamFaults:
    """Where to misbehave, in frames written (None: never)."""

    cut_after: int | None = None
    malformed_after: int | None = None
    error_frame_after: int | None = None
    error_frame: bytes = b""


def write_stream(ex: Exchange, frames: FrameStream, *, delay: float, faults: StreamFaults,
                 sleep: Callable[[float], bool], comment: str | None = None) -> None:
    """Write ``frames`` to an already started chunked response, then end it (or cut it).

    ``sleep(seconds)`` returns True when the server is stopping, which aborts the stream.
    """
    buf: list[bytes] = []
    size = 0
    sent = 0
    malformed_pending = faults.malformed_after is not None

    def flush() -> None:
        nonlocal size
        if buf:
            ex.write(b"".join(buf))
            buf.clear()
            size = 0

    if comment:
        ex.write(b": " + comment.encode() + b"\n\n")
    try:
        for kind, data in frames:
            at_end = kind == "done"
            if faults.cut_after is not None and (sent >= faults.cut_after or at_end):
                flush()
                ex.abort()
                return
            if faults.error_frame_after is not None and (sent >= faults.error_frame_after
                                                         or at_end):
                buf.append(faults.error_frame)
                flush()
                ex.end_stream()
                return
            if malformed_pending and (sent >= faults.malformed_after or at_end):  # type: ignore[operator]
                buf.append(MALFORMED_FRAME)
                size += len(MALFORMED_FRAME)
                malformed_pending = False
            if delay > 0 and sent and kind == "token":
                flush()
                if sleep(delay):
                    ex.abort()
                    return
            buf.append(data)
            size += len(data)
            if not at_end:
                sent += 1
            if sent <= 1 or delay > 0 or size >= BATCH_BYTES:
                flush()
        flush()
        ex.end_stream()
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()
