"""A wall-clock budget for the search of γ: SymPy steps that could run for ever are cut off.

SymPy's ``solveset``, ``limit`` and ``simplify`` can take minutes (or hang) on ordinary
expressions such as ``x*tanh(x)``. On the main thread each such step runs under an
interval timer (:func:`signal.setitimer`) that raises :class:`OutOfTime` inside it when
the budget is spent; the interval searches check :meth:`Budget.check` in their loops.
Off the main thread no timer can interrupt SymPy, so :meth:`Budget.sympy` refuses the
step at once (:class:`OutOfTime`) and the search continues on the interval path, whose
loops are bounded by the same clock.

>>> b = Budget(5.0)
>>> with b.sympy(1.0):
...     1 + 1
2
>>> b.left() > 0
True
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time

__all__ = ["Budget", "OutOfTime"]


class OutOfTime(Exception):
    """The step ran past its share of the budget."""


class Budget:
    """``seconds`` of wall-clock time from now, shared by every step of one search."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.end = time.monotonic() + self.seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def check(self) -> None:
        """Raise :class:`OutOfTime` when the budget is spent (called inside loops)."""
        if time.monotonic() > self.end:
            raise OutOfTime(f"the search ran past its {self.seconds:g} s limit")

    @contextlib.contextmanager
    def sympy(self, seconds: float):
        """Run the body for at most ``min(seconds, left())`` seconds (main thread only)."""
        limit = min(seconds, self.left())
        if limit <= 0.01:
            raise OutOfTime("no time left for a symbolic step")
        usable = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
        if not usable:
            raise OutOfTime("symbolic steps need the main thread's timer")

        def _ring(signum, frame):
            raise OutOfTime(f"a symbolic step ran past {limit:.2g} s")

        previous = signal.signal(signal.SIGALRM, _ring)
        if signal.getitimer(signal.ITIMER_REAL)[0]:  # someone else's timer: leave it alone
            signal.signal(signal.SIGALRM, previous)
            raise OutOfTime("another interval timer is running")
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
