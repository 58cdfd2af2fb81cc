"""Stopping a running Polars query when its time is up, at no cost while it runs.

Polars stops a query the way Ctrl-C does: its own SIGINT handler sets a flag that its engines
(streaming included) check between small steps, and the collect then fails with
KeyboardInterrupt. So a query with a time limit runs as any other, on the calling thread and the
engine it would use anyway, and one watchdog thread for the process sends SIGINT to the main
thread when a query's time is up. The KeyboardInterrupt that the interpreter derives from that
signal is absorbed, and the query fails with its time limit instead; a Ctrl-C of the user stays
a KeyboardInterrupt. Registering a deadline costs microseconds and wakes nothing.

Python runs signal handlers on the main thread only, so this serves the main thread (the CLI, a
notebook, a script): :func:`can_stop` says when. A process started with SIGINT ignored (a
shell's background job, some schedulers) is served too: Polars installs its handler all the same,
and the interpreter then derives no KeyboardInterrupt from the signal. A query on another
thread runs on a worker thread of its own so that its caller can stop waiting; a main thread that
waits for it (a notebook cell showing progress) sends its stop with :func:`serving_stops`, and
elsewhere the work is abandoned and ends on its own (any stop, such as Ctrl-C, still ends it).

``signal.signal(SIGINT, ...)`` replaces Polars' handler at the C level (Jupyter's kernel does it
before each cell), so the handler installed when this module is first imported is put back while
a query runs and the one found is restored afterwards. A query that has not stopped some seconds
after a stop sent for it from another thread (an operator that checks rarely) is abandoned.

Polars keeps its stop raised until all of its work in the process has ended, and refuses to
start anything while it is raised. So a query that starts while the work of an earlier stop is
still winding down (an abandoned query on another thread that checks rarely) first waits for it,
instead of failing at once with a KeyboardInterrupt that looks like the user's Ctrl-C.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import heapq
import math
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

import polars  # installs the SIGINT handler recorded below; _PROBE uses it

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


class StillStopping(Exception):
    """Polars' stop stayed raised for ``_GRACE_S``: earlier work in the process has not ended."""


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


#: Python-level SIGINT dispositions under which Polars' handler gets the watchdog's signal: the
#: interpreter's own, or none at all (a process started with SIGINT ignored, as a shell's
#: background job or a scheduler does; Polars installs its handler all the same)
_STOPPABLE = (signal.default_int_handler, signal.SIG_IGN)


def can_stop() -> bool:
    """Whether a query waited for on this thread can be stopped by interrupting Polars."""
    return (
        _RECORDED
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) in _STOPPABLE
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


#: an empty plan: Polars refuses even to resolve its schema while its stop is raised (a
#: microsecond; a collect of it takes tens)
_PROBE = polars.LazyFrame()


def wait_for_earlier_stops() -> None:
    """Return once Polars accepts work, i.e. no stop of earlier work is still raised
    (:class:`StillStopping` if one stays raised for ``_GRACE_S``).

    A statement calls it before it first uses Polars. A stop raised after this check (its own
    time limit, Ctrl-C) still stops it; a Ctrl-C that lands within the check's
    microsecond is taken for an earlier stop, and the next one stops the statement."""
    give_up = time.monotonic() + _GRACE_S
    pause = 0.002
    while True:
        try:
            _PROBE.collect_schema()
            return
        except KeyboardInterrupt:
            pass
        if time.monotonic() >= give_up:
            raise StillStopping
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def run_until(call: Callable[[], T], seconds: float) -> T:
    """``call()`` (a Polars collect); past ``seconds`` it is stopped and :class:`TimeUp` raised.

    On the main thread it runs right there under the watchdog. Elsewhere it runs on a worker
    thread, stopped from the main thread where that serves stops, abandoned otherwise."""
    if can_stop():
        with _polars_handler():
            return _run_watched(call, seconds)
    if not (_serving and _RECORDED):
        try:
            return _start(call).result(timeout=seconds)
        except FutureTimeout:
            raise TimeUp(stopped=False) from None
    with _polars_handler():
        future = _start(call)
        try:
            return future.result(timeout=seconds)
        except FutureTimeout:
            pass
        done = threading.Event()
        _REQUESTS.put(done)
        done.wait(_GRACE_S)
        try:
            return future.result(timeout=_GRACE_S)  # finished in the same instant
        except KeyboardInterrupt:
            raise TimeUp(stopped=True) from None
        except FutureTimeout:  # Polars' flag stays raised until that work ends
            raise TimeUp(stopped=False) from None


@contextlib.contextmanager
def _polars_handler() -> Iterator[None]:
    """Polars' SIGINT handler in place for the duration (a notebook kernel replaces it)."""
    assert _LIBC is not None and _POLARS_ACTION is not None
    found = _sigaction(_LIBC, None)
    rearm = _handler(found) != _handler(_POLARS_ACTION)
    if rearm:
        _sigaction(_LIBC, _POLARS_ACTION)
    try:
        yield
    finally:
        if rearm:
            _sigaction(_LIBC, found)


def _run_watched(call: Callable[[], T], seconds: float) -> T:
    ticket = _WATCHDOG.arm(seconds)
    answer: list[T] = []  # call()'s result once it returns (T itself may admit None)
    interrupted = False
    error: BaseException | None = None
    try:
        answer.append(call())
    except KeyboardInterrupt:
        interrupted = True
    except BaseException as raised:
        error = raised
    # The watchdog marks a ticket fired before it signals, under the lock disarm() takes, so
    # once disarm() says fired the signal has reached this thread and the interpreter's
    # KeyboardInterrupt for it (its echo) is due at the next call. It may surface at any call
    # from here, so each is inside the loop; a Ctrl-C's echo is absorbed the same way.
    echoed = False
    while True:
        try:
            fired = _WATCHDOG.disarm(ticket)
            if fired and not echoed:
                _echo_point()
            break
        except KeyboardInterrupt:
            echoed = True
    if error is not None:
        raise error
    if fired:
        if interrupted:
            raise TimeUp(stopped=True)
        return answer[0]  # the answer came as the time ran out
    if interrupted or echoed:
        raise KeyboardInterrupt  # Ctrl-C, raised once
    return answer[0]


def _echo_point() -> None:
    """A call: the interpreter runs pending signal handlers on entering it."""


class _Ticket:
    __slots__ = ("active", "deadline", "fired")

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.active = True
        self.fired = False

    def __lt__(self, other: _Ticket) -> bool:
        return self.deadline < other.deadline


class _Watchdog:
    """One thread that signals the main thread when the earliest armed deadline passes."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._tickets: list[_Ticket] = []
        self._wakes_at = math.inf
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> _Ticket:
        ticket = _Ticket(time.monotonic() + seconds)
        with self._lock:
            heapq.heappush(self._tickets, ticket)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="loglake-time-limits", daemon=True
                )
                self._thread.start()
            elif ticket.deadline < self._wakes_at:
                self._lock.notify()
        return ticket

    def disarm(self, ticket: _Ticket) -> bool:
        with self._lock:
            ticket.active = False
            return ticket.fired

    def _watch(self) -> None:
        main = threading.main_thread().ident
        assert main is not None
        with self._lock:
            while True:
                while self._tickets and not self._tickets[0].active:
                    heapq.heappop(self._tickets)
                if not self._tickets:
                    self._wakes_at = math.inf
                    self._lock.wait()
                    continue
                first = self._tickets[0]
                left = first.deadline - time.monotonic()
                if left > 0:
                    self._wakes_at = first.deadline
                    self._lock.wait(left)
                    continue
                heapq.heappop(self._tickets)
                first.fired, first.active = True, False
                signal.pthread_kill(main, signal.SIGINT)


_WATCHDOG = _Watchdog()
