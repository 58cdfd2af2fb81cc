"""Stopping a running Polars query when its time is up, at no cost while it runs.

Polars stops a query the way Ctrl-C does: its own SIGINT handler sets a flag that its engines
(streaming included) check between small steps, and the collect then fails with
KeyboardInterrupt. So a query with a time limit runs on a worker thread, on the engine it would
use anyway, while the main thread waits; when the time is up the main thread raises SIGINT at
itself, absorbs the KeyboardInterrupt the interpreter derives from it, and the worker stops within
milliseconds. Nothing watches the query while it runs, so a limit that is not reached costs a
thread start.

Python runs signal handlers on the main thread only, so the stop is sent from the main thread (the
CLI, a notebook, a script): :func:`can_stop` says when. A query with a time limit on another thread
runs the same way, but when its time is up its caller gets the error and the work is abandoned,
ending on its own (any stop, such as Ctrl-C, still ends it). ``signal.signal(SIGINT, ...)``
replaces Polars' handler at the C level (Jupyter's kernel does it before each cell), so the
handler installed when this module is first imported is put back for the time a query waits and
the one found is restored afterwards. Should a stop not take (Polars' handler was replaced before
this module saw it), the interrupt is marked unusable for the rest of the process.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

import polars  # noqa: F401 - installs the SIGINT handler recorded below

T = TypeVar("T")

#: how long a stopped query may take to wind down before the stop is deemed not to work
_GRACE_S = 5.0
#: bytes comfortably above ``sizeof(struct sigaction)`` on Linux and macOS
_SIGACTION_BYTES = 512


class TimeUp(Exception):
    """The call ran past its deadline; ``stopped`` tells whether its work was stopped too."""

    def __init__(self, stopped: bool):
        super().__init__("time is up")
        self.stopped = stopped


def _libc() -> ctypes.CDLL | None:
    if sys.platform not in ("linux", "darwin"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.sigaction  # noqa: B018 - present on every POSIX libc
    except (OSError, AttributeError):
        return None
    return libc


def _sigaction(libc: ctypes.CDLL, new: ctypes.Array[ctypes.c_char] | None) -> ctypes.Array:
    """The SIGINT disposition in force (as raw bytes), installing ``new`` if given."""
    old = ctypes.create_string_buffer(_SIGACTION_BYTES)
    if libc.sigaction(int(signal.SIGINT), new, old) != 0:
        raise OSError(ctypes.get_errno(), "sigaction failed")
    return old


def _handler(action: ctypes.Array) -> int | None:
    return ctypes.c_void_p.from_buffer(action).value


_LIBC = _libc()
#: Polars' SIGINT disposition as it was when loglake started (polars is imported by then)
_POLARS_ACTION = _sigaction(_LIBC, None) if _LIBC is not None else None
_usable = _LIBC is not None and _POLARS_ACTION is not None and _handler(_POLARS_ACTION) is not None


def can_stop() -> bool:
    """Whether a query waited for on this thread can be stopped by interrupting Polars."""
    return (
        _usable
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )


def restore_polars_handler() -> None:
    """Put Polars' SIGINT handler back, as it was when loglake started."""
    if _LIBC is not None and _POLARS_ACTION is not None:
        _sigaction(_LIBC, _POLARS_ACTION)


def _start(call: Callable[[], T]) -> Future[T]:
    future: Future[T] = Future()
    context = contextvars.copy_context()

    def work() -> None:
        try:
            future.set_result(context.run(call))
        except BaseException as error:  # handed to the waiting thread
            future.set_exception(error)

    threading.Thread(target=work, name="loglake-query", daemon=True).start()
    return future


def run_until(call: Callable[[], T], seconds: float) -> T:
    """``call()`` (a Polars collect) on a worker thread; past ``seconds`` :class:`TimeUp` is
    raised, the work interrupted where :func:`can_stop` allows it."""
    if not can_stop():
        try:
            return _start(call).result(timeout=seconds)
        except FutureTimeout:
            raise TimeUp(stopped=False) from None
    global _usable
    assert _LIBC is not None and _POLARS_ACTION is not None
    found = _sigaction(_LIBC, None)
    rearm = _handler(found) != _handler(_POLARS_ACTION)
    if rearm:
        _sigaction(_LIBC, _POLARS_ACTION)
    try:
        future = _start(call)
        try:
            return future.result(timeout=seconds)
        except FutureTimeout:
            pass
        except KeyboardInterrupt:  # Ctrl-C: the same signal has stopped the query
            _wait_quietly(future)
            raise
        with contextlib.suppress(KeyboardInterrupt):  # the interpreter's echo of the stop
            signal.raise_signal(signal.SIGINT)
        try:
            return future.result(timeout=_GRACE_S)  # finished in the same instant
        except KeyboardInterrupt:
            raise TimeUp(stopped=True) from None
        except FutureTimeout:
            _usable = False  # the stop did not reach Polars: use another way from now on
            raise TimeUp(stopped=False) from None
    finally:
        if rearm:
            _sigaction(_LIBC, found)


def _wait_quietly(future: Future[T]) -> None:
    with contextlib.suppress(BaseException):  # the caller re-raises the interrupt itself
        future.result(timeout=_GRACE_S)
