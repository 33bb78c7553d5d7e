"""A time limit on a call, in any thread: sympy can run for minutes on one expression.

In the main thread of a POSIX process the limit is a SIGALRM timer. Anywhere else (a
Dask worker's task thread, a joblib or web-server thread), where signals cannot reach,
a timer thread raises the exception in the calling thread asynchronously
(``PyThreadState_SetAsyncExc``): it takes effect at the next Python bytecode that thread
runs, so it stops pure-Python work such as sympy's, not a long call into C. Either way
:class:`TimeLimitExceeded` surfaces only inside :func:`call_with_time_limit`, never after
it returned. Outside the main thread, once the time is up the exception is raised again every ``REPEAT`` seconds
until the call ends: sympy catches broad exceptions in places (its trigonometric
simplification ran on for minutes in a Dask worker after swallowing the first one).
"""
from __future__ import annotations

import ctypes
import signal
import threading
import time


#: seconds between the raises after the time is up
REPEAT = 0.2


class TimeLimitExceeded(Exception):
    """Raised by :func:`call_with_time_limit` when the time is up."""


def call_with_time_limit(fn, seconds: float | None):
    """fn(); raises :class:`TimeLimitExceeded` after ``seconds`` (None or 0: no limit)."""
    if not seconds:
        return fn()
    if hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread():
        return _with_alarm(fn, float(seconds))
    return _with_async_exception(fn, float(seconds))


def _with_alarm(fn, seconds: float):
    def handler(signum, frame):
        raise TimeLimitExceeded()

    old_handler = signal.signal(signal.SIGALRM, handler)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    t0 = time.monotonic()
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay > 0:  # give back whatever alarm was pending before
            signal.setitimer(signal.ITIMER_REAL, max(old_delay - (time.monotonic() - t0), 1e-3), old_interval)


def _set_async_exception(thread_id: int, exception) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               None if exception is None else ctypes.py_object(exception))


def _with_async_exception(fn, seconds: float):
    caller = threading.get_ident()
    done = threading.Event()

    def raise_until_done():
        wait = seconds
        while not done.wait(wait):
            _set_async_exception(caller, TimeLimitExceeded)
            wait = REPEAT

    timer = threading.Thread(target=raise_until_done, daemon=True)
    timer.start()
    try:
        return fn()
    finally:
        done.set()
        timer.join()  # stopped: nothing can be set on this thread after this line
        # an exception set but not raised yet (fn returned just as the timer fired) is
        # cleared; one already raised is propagating as TimeLimitExceeded
        _set_async_exception(caller, None)


__all__ = ["TimeLimitExceeded", "call_with_time_limit"]
