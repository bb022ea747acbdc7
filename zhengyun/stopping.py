"""Stopping the long-running commands — `zhengyun serve`, `dashboard`, `demo` — within STOP_SECONDS of
Ctrl-C or SIGTERM, whatever they were doing (docs/reference.md#command-line).

On the first signal every part is asked to stop at once (a child process terminated, a server told to
exit, a loop's event set), then all are waited for together until one shared deadline, GRACE_SECONDS
on. Whatever still runs then is killed (child processes) or left behind (threads: every unit of work is
one transaction, so a thread cut off mid-way leaves nothing half done). The first signal also arms a
watchdog: should the process still be there FORCE_SECONDS after it — a thread the interpreter waits for
at exit, stuck in a database call — the watchdog kills the children it was given and ends the process
(exit code 128 + the signal's number). A second signal changes nothing: the watchdog is already on its
way. And once a stopped command is done, its process ends at once (`end_if_stopped`): the interpreter's
own teardown of every module and object — moto's and botocore's models in the demo — took seconds on a
loaded machine, and no watchdog runs during it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

#: the promise: from the signal to the end of the process
STOP_SECONDS = 5.0
#: the parts stop by themselves within this
GRACE_SECONDS = 2.5
#: …and the watchdog ends the process at this, well inside the promise on a loaded machine
FORCE_SECONDS = 3.5

_lock = threading.Lock()
_kills: list[Callable[[], None]] = []
_armed: list[int] = []


def adopt(kill: Callable[[], None]) -> None:
    """Have the watchdog call `kill` (end a child process) before it ends this process."""
    with _lock:
        _kills.append(kill)


def adopt_process(proc: subprocess.Popen[bytes]) -> None:
    """Have the watchdog kill `proc` (if it still runs) before it ends this process."""

    def kill() -> None:
        if proc.poll() is None:
            proc.kill()

    adopt(kill)


def arm(signum: int) -> None:
    """Start the watchdog (once): FORCE_SECONDS from now the process ends, whatever still runs."""
    with _lock:
        if _armed:
            return
        _armed.append(signum)
    timer = threading.Timer(FORCE_SECONDS, _force, args=(signum,))
    timer.daemon = True
    timer.name = "zhengyun-stop-watchdog"
    timer.start()


def stopped() -> bool:
    """Whether a stop signal has arrived."""
    return bool(_armed)


def end_if_stopped(code: int) -> None:
    """After a stop signal: flush the output and the logs and end the process now, with `code`, skipping
    the interpreter's teardown. Without one: nothing (the command returns as usual)."""
    if not _armed:
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed pipe: nothing more can be said
            pass
    os._exit(code)


def _force(signum: int) -> None:
    with _lock:
        kills = list(_kills)
    for kill in kills:
        try:
            kill()
        except Exception:  # the child ended meanwhile: nothing to kill
            pass
    try:
        sys.stderr.write(f"zhengyun: not stopped within {FORCE_SECONDS:g} s of the signal; ended\n")
        sys.stderr.flush()
    finally:
        os._exit(128 + signum)


@contextmanager
def interrupts() -> Iterator[None]:
    """Inside the block SIGINT and SIGTERM raise KeyboardInterrupt in the main thread — the first one only,
    so that the `finally` clauses stopping the parts run undisturbed — and arm the watchdog."""

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        first = not _armed
        arm(signum)
        if first:
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass(frozen=True)
class Part:
    """Something to stop: `ask()` starts stopping it and returns at once; `wait(seconds)` is True once it
    has stopped (within `seconds`); `force()` (if any) ends it when it has not by the deadline."""

    name: str
    ask: Callable[[], None]
    wait: Callable[[float], bool]
    force: Callable[[], None] | None = None


def process_part(name: str, proc: subprocess.Popen[bytes]) -> Part:
    """A child process: SIGTERM, then SIGKILL at the deadline."""

    def wait(seconds: float) -> bool:
        try:
            proc.wait(timeout=max(seconds, 0))
            return True
        except subprocess.TimeoutExpired:
            return False

    def ask() -> None:
        if proc.poll() is None:
            proc.terminate()

    def force() -> None:
        proc.kill()
        proc.wait()

    return Part(name, ask, wait, force)


def thread_part(name: str, thread: threading.Thread, ask: Callable[[], None]) -> Part:
    """A thread told to end by `ask`; one that has not by the deadline is left behind (a daemon)."""

    def wait(seconds: float) -> bool:
        thread.join(timeout=max(seconds, 0))
        return not thread.is_alive()

    return Part(name, ask, wait)


def stop_together(parts: Sequence[Part], grace: float = GRACE_SECONDS) -> list[str]:
    """Ask every part to stop, at once, then wait for all of them until one deadline `grace` seconds on;
    force those that have not stopped. The names of the parts that did not stop by themselves."""
    deadline = time.monotonic() + grace
    for part in parts:
        try:
            part.ask()
        except Exception:  # already stopped, or cannot be asked: waited for like the others
            pass
    late = []
    for part in parts:
        if not part.wait(deadline - time.monotonic()):
            late.append(part.name)
            if part.force is not None:
                part.force()
    return late
