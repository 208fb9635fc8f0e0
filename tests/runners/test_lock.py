"""The per-trial lock file: exclusive, stale locks broken, live ones waited for."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sbr.runners.lock import LockTimeout, TrialLock


def test_second_owner_cannot_take_a_held_lock(tmp_path: Path) -> None:
    first = TrialLock(tmp_path / "t" / ".lock")
    assert first.try_acquire()
    owner = json.loads((tmp_path / "t" / ".lock").read_text())
    assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
    second = TrialLock(tmp_path / "t" / ".lock", poll_s=0.05, timeout_s=0.2)
    with pytest.raises(LockTimeout, match="held by"):
        second.acquire()
    first.release()
    assert second.try_acquire()
    second.release()
    assert not (tmp_path / "t" / ".lock").exists()


def test_lock_of_a_dead_process_on_this_host_is_broken(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / ".lock"
    path.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    with TrialLock(path, timeout_s=1) as lock:
        assert lock.holder()["pid"] == os.getpid()


def test_silent_lock_of_another_host_is_broken_only_when_old(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    path.write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
    fresh = TrialLock(path, stale_after_s=60)
    assert not fresh.is_stale() and not fresh.try_acquire()
    old = time.time() - 120
    os.utime(path, (old, old))
    assert fresh.is_stale() and fresh.try_acquire()
    fresh.release()


def test_touch_refreshes_the_age(tmp_path: Path) -> None:
    lock = TrialLock(tmp_path / ".lock")
    lock.acquire()
    old = time.time() - 500
    os.utime(lock.path, (old, old))
    lock.touch()
    assert time.time() - lock.path.stat().st_mtime < 5
    lock.release()


HOLDER = """
import sys, time
from sbr.runners.lock import TrialLock
lock = TrialLock(sys.argv[1])
lock.owner["host"] = "another-node"  # its pid cannot be checked from here: only its age
lock.acquire()
with lock.heartbeat(interval_s=0.2):
    print("held", flush=True)
    time.sleep(600)
"""


def test_heartbeat_keeps_a_live_lock_and_expiry_frees_a_killed_holders(tmp_path: Path) -> None:
    """A holder on another node beats every 0.2 s: its lock never ages past 3 s while it
    lives; SIGKILLed, it stops beating and the lock is taken once 3 s have passed."""
    path = tmp_path / ".lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        waiter = TrialLock(path, poll_s=0.1, stale_after_s=3.0, timeout_s=4.5)
        with pytest.raises(LockTimeout):  # 4.5 s > 3 s: only the heartbeat kept it fresh
            waiter.acquire()
        assert waiter.holder()["host"] == "another-node"
    finally:
        holder.kill()
        holder.wait()
    killed_at = time.time()
    assert not waiter.is_stale()  # the dead holder's lock is still fresh...
    waiter.timeout_s = 30.0
    waiter.acquire()  # ...and expires, since nobody touches it any more
    assert path.stat().st_mtime - killed_at > 2.0  # taken only after the expiry
    assert waiter.holder()["pid"] == os.getpid()
    waiter.release()
