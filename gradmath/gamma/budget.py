"""A time budget for the search of γ: SymPy steps that could run for ever are cut off.

SymPy's ``solveset``, ``limit`` and ``simplify`` can take minutes (or hang) on ordinary
expressions such as ``x*tanh(x)``. On the main thread each such step runs under an
interval timer (:func:`signal.setitimer`) that raises :class:`OutOfTime` inside it when
the budget is spent; the interval searches check :meth:`Budget.check` in their loops.
The clock is the process's CPU time (``ITIMER_PROF``, :func:`time.process_time`), so the
same expression gets the same answer on a busy machine as on an idle one; the wall time
is the CPU time stretched by the machine's load.
Off the main thread no timer can interrupt SymPy, so :meth:`Budget.sympy` refuses the
step at once (:class:`OutOfTime`) and the search continues on the interval path, whose
loops are bounded by the same clock; only a ``trusted`` budget (the built-in activations,
whose SymPy steps are known to finish) runs them there without a timer, so a built-in
gets the same answer on every thread.

>>> b = Budget(5.0)
>>> with b.sympy(1.0):
...     1 + 1
2
>>> b.left() > 0
True
"""

from __future__ import annotations

import contextlib
import time

from gradmath.cputime import cpu_time_limit, timer_usable

__all__ = ["Budget", "OutOfTime"]


class OutOfTime(Exception):
    """The step ran past its share of the budget."""

    def __init__(self, *args):
        super().__init__(*args)
        from gradmath.cache import uncacheable

        uncacheable("a time limit ran out")   # what was found in time is not stored as the answer


class Budget:
    """``seconds`` of CPU time from now, shared by every step of one part of a search."""

    def __init__(self, seconds: float, *, trusted: bool = False):
        self.seconds = float(seconds)
        self.trusted = trusted
        self.end = time.process_time() + self.seconds

    def left(self) -> float:
        return self.end - time.process_time()

    def check(self) -> None:
        """Raise :class:`OutOfTime` when the budget is spent (called inside loops)."""
        if time.process_time() > self.end:
            raise OutOfTime(f"the search ran past its {self.seconds:g} s limit")

    @contextlib.contextmanager
    def sympy(self, seconds: float, *, untimed_elsewhere: bool = False):
        """Run the body for at most ``min(seconds, left())`` seconds.

        Off the main thread the body is refused (:class:`OutOfTime`), or, with
        ``untimed_elsewhere``, run without a timer: only for steps whose work is bounded
        by the size of the expression (the parser's limits), such as assumption queries.
        """
        limit = min(seconds, self.left())
        usable = timer_usable()
        if not usable and (untimed_elsewhere or self.trusted):
            yield
            return
        if limit <= 0.01:
            raise OutOfTime("no time left for a symbolic step")
        if not usable:
            raise OutOfTime("symbolic steps need the main thread's timer")
        with cpu_time_limit(limit, lambda: OutOfTime(f"a symbolic step ran past {limit:.2g} s")):
            yield
