"""Capturing a child's stdout and stderr: to the terminal as it arrives, into the run's one log line by line.

Each stream is read by its own thread (see ``pump``). The log is shared, so each stream writes whole lines only: a
stderr line never lands in the middle of a stdout line, however the threads are scheduled.
"""

from __future__ import annotations

import collections
import os
import select
import threading
import time
from collections.abc import Callable
from typing import IO

__all__ = ["pump", "redactor", "LINE_FLUSH_SECONDS"]

LINE_FLUSH_SECONDS = 0.5  # an output line that has not ended after this long goes to the log unfinished
_MAX_PARTIAL = 1 << 20


def redactor(values: list[str]) -> Callable[[bytes], bytes] | None:
    """A function replacing each of ``values`` by ``***`` in a chunk of output, or None when there are none: the
    run's log keeps no secret the command printed (the values come from gitxp.version.secrets.secret_values)."""
    encoded = [v.encode(errors="surrogateescape") for v in values if v]
    if not encoded:
        return None

    def redact(data: bytes) -> bytes:
        for value in encoded:
            if value in data:
                data = data.replace(value, b"***")
        return data

    return redact


class _LineLog:
    """One stream's writer into the run's shared log: whole lines only, so that a stderr line never lands in the
    middle of a stdout line. Bytes up to the last line end (``\\n`` or ``\\r``, so that progress bars stay live)
    go to the log at once; an unfinished line waits until it ends, for at most ``LINE_FLUSH_SECONDS`` (a prompt
    without a newline still shows in the dashboard's tail), or until it is ``_MAX_PARTIAL`` bytes long, or EOF."""

    def __init__(
        self, log: IO[bytes], lock: threading.Lock, redact: Callable[[bytes], bytes] | None = None
    ) -> None:
        self.log, self.lock, self.redact = log, lock, redact
        self.partial = b""
        self.since = 0.0  # when the unfinished line began to wait

    def add(self, chunk: bytes) -> None:
        data = self.partial + chunk
        cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        if cut == 0 and len(data) < _MAX_PARTIAL:
            if not self.partial:
                self.since = time.monotonic()
            self.partial = data
            return
        if cut == 0:
            cut = len(data)
        self._write(data[:cut])
        self.partial = data[cut:]
        self.since = time.monotonic()

    def wait(self) -> float | None:
        """Seconds the unfinished line may still wait (None: there is none)."""
        if not self.partial:
            return None
        return max(0.0, self.since + LINE_FLUSH_SECONDS - time.monotonic())

    def flush(self) -> None:
        if self.partial:
            self._write(self.partial)
            self.partial = b""

    def _write(self, data: bytes) -> None:
        if (
            self.redact is not None
        ):  # whole lines: a secret the command printed is masked (gitxp.version.secrets)
            data = self.redact(data)
        with self.lock:
            self.log.write(data)
            self.log.flush()  # the dashboard tails the log while the run runs


def pump(
    source: IO[bytes],
    sinks: list[IO[bytes]],
    log: IO[bytes],
    log_lock: threading.Lock,
    on_line: Callable[[str], None] | None,
    tail: collections.deque[str] | None,
    on_caught_up: Callable[[], None] | None = None,
    *,
    redact: Callable[[bytes], bytes] | None = None,
) -> None:
    """Copy a child's stream to the terminal as it arrives and to the run's log line by line (see ``_LineLog``,
    ``redact`` masking secrets in what is kept); hand complete lines to ``on_line``; call ``on_caught_up`` after a
    chunk's lines when nothing more is waiting in the pipe (what was read is all the child has said so far: a
    decision taken now is not on stale lines)."""
    pending = b""
    lines_out = _LineLog(log, log_lock, redact)
    fd = source.fileno()
    while True:
        wait = lines_out.wait()
        if wait is not None and (wait == 0 or not select.select([fd], [], [], wait)[0]):
            lines_out.flush()  # a line that does not end (yet): show it rather than hold it back
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        for sink in sinks:
            try:
                sink.write(chunk)
                sink.flush()
            except (OSError, ValueError):
                pass
        lines_out.add(chunk)
        if on_line is not None or tail is not None:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                text = raw.decode(errors="replace").rstrip("\r")
                if tail is not None:  # kept (as an error message): masked like the log
                    tail.append(text if redact is None else redact(raw).decode(errors="replace").rstrip("\r"))
                if on_line is not None:
                    on_line(text)
        if on_caught_up is not None and not select.select([fd], [], [], 0)[0]:
            on_caught_up()
    lines_out.flush()
    if pending:
        text = pending.decode(errors="replace")
        if tail is not None:
            tail.append(text if redact is None else redact(pending).decode(errors="replace"))
        if on_line is not None:
            on_line(text)
