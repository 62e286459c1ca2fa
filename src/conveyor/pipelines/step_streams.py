"""What a step prints goes to its output: `sys.stdout` and `sys.stderr` while a build runs.

`run_build` puts a `StepStream` in place of each (`redirected_to_steps`); the executor marks the
step each thread runs (`printing_to`, a context variable, so steps running at once in threads of
`in_parallel` or `either` each get their own lines). A write from inside a step — a plain
`print()`, a library's warning, a traceback printed by code the step calls — becomes that step's
output, line by line, like `ctx.print`; a line is reported when its newline comes, or when the
step ends. A write from outside any step (the worker itself, a thread a step started on its own)
goes to the stream that was there before.

Only what goes through Python's `sys.stdout`/`sys.stderr` is seen: a subprocess writes to the
worker's file descriptors, not to these objects; run commands with `shell(ctx, ...)`, which
reports their output.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TextIO

from conveyor.pipelines.context import OutputWriter

_printing_to: ContextVar[OutputWriter | None] = ContextVar("printing_to", default=None)


class StepStream:
    """A text stream that sends each line to the output of the step writing it; the stream it
    replaced gets what is written outside steps."""

    def __init__(self, original: TextIO) -> None:
        self.original = original
        self._partial: dict[OutputWriter, str] = {}
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        writer = _printing_to.get()
        if writer is None:
            return self.original.write(text)
        with self._lock:
            pending = self._partial.pop(writer, "") + text
            *lines, rest = pending.split("\n")
            if rest:
                self._partial[writer] = rest
        for line in lines:
            writer.write_line(line.removesuffix("\r"))
        return len(text)

    def writelines(self, lines: Iterator[str]) -> None:
        for line in lines:
            self.write(line)

    def end_step(self, writer: OutputWriter) -> None:
        """Report the step's last line if it had no newline."""
        with self._lock:
            rest = self._partial.pop(writer, "")
        if rest:
            writer.write_line(rest.removesuffix("\r"))

    def flush(self) -> None:
        if _printing_to.get() is None:
            self.original.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.original.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.original, "encoding", None) or "utf-8"

    def __getattr__(self, name: str) -> object:
        return getattr(self.original, name)


@contextlib.contextmanager
def redirected_to_steps() -> Iterator[None]:
    """While inside, `sys.stdout` and `sys.stderr` are `StepStream`s (once: nested uses keep
    the outer ones)."""
    if isinstance(sys.stdout, StepStream):
        yield
        return
    saved_out, saved_err = sys.stdout, sys.stderr
    sys.stdout = StepStream(saved_out)
    sys.stderr = StepStream(saved_err)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved_out, saved_err


@contextlib.contextmanager
def printing_to(writer: OutputWriter) -> Iterator[None]:
    """While inside (in this thread or context), what is printed is the step's output."""
    token = _printing_to.set(writer)
    try:
        yield
    finally:
        _printing_to.reset(token)
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, StepStream):
                stream.end_step(writer)
