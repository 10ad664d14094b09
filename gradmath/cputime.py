"""A limit on the CPU time of a block of code, by ``ITIMER_PROF``; limits nest.

CPU time rather than wall-clock time, so that what a bounded search finds does not depend on how busy
the machine is. Only the main thread of a POSIX process can take the timer signal: :func:`timer_usable`
says whether this is one. Inside an enclosing limit that ends first, the enclosing one stays in charge;
otherwise the inner one runs and hands the enclosing one what is left of it afterwards.

>>> import time
>>> with cpu_time_limit(5, lambda: TimeoutError("too slow")):
...     sum(range(10))
45
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

__all__ = ["cpu_time_limit", "timer_usable"]


def timer_usable() -> bool:
    """Whether this thread can take the CPU-time timer's signal (the main thread, on POSIX)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def cpu_time_limit(seconds: float, error: Callable[[], BaseException]):
    """Raise ``error()`` inside the block once it has used ``seconds`` of CPU time (main thread only)."""

    def _ring(signum, frame):
        raise error()

    outer = signal.getitimer(signal.ITIMER_PROF)[0]
    if outer and outer <= seconds:  # an enclosing limit ends first: it stays in charge
        yield
        return
    previous = signal.signal(signal.SIGPROF, _ring)
    start = time.process_time()
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
        if outer:  # give the enclosing limit what is left of it
            signal.setitimer(signal.ITIMER_PROF, max(outer - (time.process_time() - start), 1e-3))
