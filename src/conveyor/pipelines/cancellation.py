"""Cancellation: how a running step learns that it must stop.

Each step runs with its own `Cancellation`, a child of its parent step's: cancelling a step
cancels everything inside it, and the whole build is the root. A step may poll it (`is_set()`,
`ctx.check_cancelled()`), block on it (`wait(seconds)`, like `threading.Event`), or register a
callback that acts at once (the shell step kills its process group from one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

CancelCallback = Callable[[], None]


class StepCancelled(Exception):
    """Raised by `Context.check_cancelled()` in a step that was cancelled; the executor reports
    the step killed."""


class Cancellation:
    """A one-way signal with a reason, propagated to children and callbacks."""

    def __init__(self, parent: Cancellation | None = None) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._children: set[Cancellation] = set()
        self._callbacks: list[CancelCallback] = []
        self._parent = parent
        self.reason: str | None = None

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or `timeout` seconds pass; True when cancelled."""
        return self._event.wait(timeout)

    def cancel(self, reason: str = "cancelled") -> None:
        """Cancel this and every child; run the callbacks (each once)."""
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            children, self._children = list(self._children), set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()
        for child in children:
            child.cancel(reason)

    def child(self) -> Cancellation:
        """A cancellation that ends with this one (already cancelled if this one is)."""
        child = Cancellation(self)
        with self._lock:
            if not self._event.is_set():
                self._children.add(child)
                return child
        child.cancel(self.reason or "cancelled")
        return child

    def detach(self) -> None:
        """Forget this child in its parent (its step has ended)."""
        parent = self._parent
        if parent is not None:
            with parent._lock:
                parent._children.discard(self)

    def on_cancel(self, callback: CancelCallback) -> CancelCallback:
        """Run `callback` when cancelled (at once if it already is); returns a function that
        unregisters it."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return lambda: self._forget(callback)
        callback()
        return lambda: None

    def _forget(self, callback: CancelCallback) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)
