"""A lock per trial id in the shared storage folder: one trainer per trial, ever.

The lock is a file created with ``O_CREAT | O_EXCL`` (atomic on local and NFS v3+
file systems) holding the owner's pid and host. A lock is *stale* when its owner is a
dead process on this host, or when it has not been touched for ``stale_after_s``
(the owner's heartbeat touches it every minute), and is then broken.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType


class LockTimeout(TimeoutError):
    """The lock stayed held by a live owner for longer than the caller waited."""


def pid_alive(pid: int) -> bool:
    """True when process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class TrialLock:
    """Exclusive lock file; use as a context manager.

    Args:
        path: The lock file (``<storage>/<trial id>/.lock``).
        poll_s: Seconds between attempts while another owner holds it.
        stale_after_s: Age (since the last touch) after which any lock is stale.
        timeout_s: Give up (``LockTimeout``) after this long; None waits forever.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        poll_s: float = 2.0,
        stale_after_s: float = 3600.0,
        timeout_s: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.poll_s = poll_s
        self.stale_after_s = stale_after_s
        self.timeout_s = timeout_s
        self.owner = {"pid": os.getpid(), "host": socket.gethostname()}
        self.held = False

    def holder(self) -> dict | None:
        """The owner written in the lock file (None if absent or unreadable)."""
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def is_stale(self) -> bool:
        """True when the current lock's owner is gone or silent for too long."""
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return False
        if age > self.stale_after_s:
            return True
        owner = self.holder()
        if owner is None:  # being written right now, or garbage: wait for it to age
            return False
        return owner.get("host") == self.owner["host"] and not pid_alive(int(owner.get("pid", -1)))

    def try_acquire(self) -> bool:
        """One attempt (breaking a stale lock first); True when this process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.is_stale():
            self.path.unlink(missing_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({**self.owner, "since": time.time()}, handle)
        self.held = True
        return True

    def acquire(self) -> None:
        """Wait until the lock is ours."""
        start = time.monotonic()
        while not self.try_acquire():
            if self.timeout_s is not None and time.monotonic() - start > self.timeout_s:
                raise LockTimeout(f"{self.path} is held by {self.holder()}")
            time.sleep(self.poll_s)

    def touch(self) -> None:
        """Refresh the lock's age (a heartbeat)."""
        if self.held:
            os.utime(self.path)

    @contextlib.contextmanager
    def heartbeat(self, interval_s: float = 60.0) -> Iterator[None]:
        """Touch the lock every ``interval_s`` from a background thread while inside.

        The owner may spend hours in a training it does not run itself (data-parallel
        workers elsewhere); the heartbeat keeps the lock from looking stale meanwhile.
        """
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(interval_s):
                with contextlib.suppress(OSError):
                    self.touch()

        thread = threading.Thread(target=beat, name="sbr-lock-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def release(self) -> None:
        """Remove the lock if this process owns it."""
        if self.held and (self.holder() or {}).get("pid") == self.owner["pid"]:
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> TrialLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


__all__ = ["LockTimeout", "TrialLock", "pid_alive"]
