"""Stopping a running Polars query when its time is up, at no cost while it runs.

Polars stops a query the way Ctrl-C does: its own SIGINT handler sets a flag that its engines
(streaming included) check between small steps, and the collect then fails with
KeyboardInterrupt. So a query with a time limit runs on a worker thread, on the engine it would
use anyway, while the main thread waits; when the time is up the main thread raises SIGINT at
itself, absorbs the KeyboardInterrupt the interpreter derives from it, and the worker stops within
milliseconds. Nothing watches the query while it runs, so a limit that is not reached costs a
thread start.

Python runs signal handlers on the main thread only, so the stop is sent from the main thread (the
CLI, a notebook, a script): :func:`can_stop` says when, and a main thread that waits for a query
on another thread (a notebook cell showing progress) sends its stops with :func:`serving_stops`.
Elsewhere, when a query's time is up its caller gets the error and the work is abandoned, ending
on its own (any stop, such as Ctrl-C, still ends it). ``signal.signal(SIGINT, ...)``
replaces Polars' handler at the C level (Jupyter's kernel does it before each cell), so the
handler installed when this module is first imported is put back for the time a query waits and
the one found is restored afterwards. A query that has not stopped some seconds after the stop
(an operator that checks rarely, or Polars' handler replaced before this module saw it) is
abandoned: its caller gets the error, and the work ends on its own.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

import polars  # noqa: F401 - installs the SIGINT handler recorded below

T = TypeVar("T")

#: how long a stopped query may take to wind down before it is abandoned; most stop within
#: milliseconds, but some operators (an explode of billions of rows) check for the stop rarely
_GRACE_S = 30.0
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
_RECORDED = (
    _LIBC is not None and _POLARS_ACTION is not None and _handler(_POLARS_ACTION) is not None
)


def can_stop() -> bool:
    """Whether a query waited for on this thread can be stopped by interrupting Polars."""
    return (
        _RECORDED
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


#: stops asked of the main thread by queries waited for on other threads (see serving_stops)
_REQUESTS: queue.SimpleQueue[threading.Event] = queue.SimpleQueue()
_serving = 0


@contextlib.contextmanager
def serving_stops() -> Iterator[Callable[[], None]]:
    """For a main thread that waits while another thread runs queries (a notebook cell showing
    progress): yields ``serve``, to be called at least every few tenths of a second while
    waiting, which sends the stops those queries ask for when their time is up."""
    global _serving
    if not can_stop():
        yield lambda: None
        return
    _serving += 1
    try:
        yield _serve
    finally:
        _serving -= 1
        _serve()


def _serve() -> None:
    while True:
        try:
            done = _REQUESTS.get_nowait()
        except queue.Empty:
            return
        _send_stop()
        done.set()


def _send_stop() -> None:
    with contextlib.suppress(KeyboardInterrupt):  # the interpreter's echo of the stop
        signal.raise_signal(signal.SIGINT)


def run_until(call: Callable[[], T], seconds: float) -> T:
    """``call()`` (a Polars collect) on a worker thread; past ``seconds`` :class:`TimeUp` is
    raised, the work interrupted where :func:`can_stop` allows it (or where the main thread
    serves stops for this one)."""
    on_main = can_stop()
    if not on_main and not (_serving and _RECORDED):
        try:
            return _start(call).result(timeout=seconds)
        except FutureTimeout:
            raise TimeUp(stopped=False) from None
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
        if on_main:
            _send_stop()
        else:
            done = threading.Event()
            _REQUESTS.put(done)
            done.wait(_GRACE_S)
        try:
            return future.result(timeout=_GRACE_S)  # finished in the same instant
        except KeyboardInterrupt:
            raise TimeUp(stopped=True) from None
        except FutureTimeout:  # Polars' flag stays raised until that work ends
            raise TimeUp(stopped=False) from None
    finally:
        if rearm:
            _sigaction(_LIBC, found)


def _wait_quietly(future: Future[T]) -> None:
    with contextlib.suppress(BaseException):  # the caller re-raises the interrupt itself
        future.result(timeout=_GRACE_S)
