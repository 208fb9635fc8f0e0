"""``sbr ui`` stopped by SIGTERM (a process manager, ``kill``): no server process survives.

Real processes: ``sbr ui`` serves an empty SQLite store; once it answers, the test sends
SIGTERM to the ``sbr`` process alone (not its group, as ``kill PID`` does). Every process
of the server's group (``mlflow server``, uvicorn) must be gone and the port free.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from ci_gate import require

pytestmark = pytest.mark.slow

SERVER_TIMEOUT_S = 120
EXIT_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
            if fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(stat.parent.name))
    return members


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.is_file() else []


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _port_free(port: int) -> bool:
    """Nothing listens on ``port``: a new server (which sets SO_REUSEADDR, as uvicorn does)
    could bind it. Without SO_REUSEADDR the bind would also fail on the TIME_WAIT entries of
    the connections the server closed, which say nothing about a process holding the port."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_sigterm_stops_the_server_and_frees_the_port(tmp_path: Path) -> None:
    require("mlflow")
    port = _free_port()
    sbr = Path(sys.executable).with_name("sbr")
    command = [str(sbr), "ui", "--port", str(port), "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    log = tmp_path / "ui.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    server_groups: set[int] = set()
    try:
        deadline = time.monotonic() + SERVER_TIMEOUT_S
        while True:
            assert process.poll() is None, f"sbr ui exited early:\n{log.read_text()[-3000:]}"
            server_groups |= {os.getpgid(c) for c in _children(process.pid)}
            if _healthy(port):
                break
            assert time.monotonic() < deadline, f"no server on {port}:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        server_groups |= {os.getpgid(c) for c in _children(process.pid)}
        members = [pid for group in server_groups for pid in _group_members(group)]
        assert len(members) >= 2, f"expected mlflow server + uvicorn, found {members}"

        os.kill(process.pid, signal.SIGTERM)  # the sbr process only, as `kill PID` does
        assert process.wait(timeout=EXIT_TIMEOUT_S) == 0, log.read_text()[-3000:]

        left = [pid for group in server_groups for pid in _group_members(group)]
        assert not left, f"server processes {left} outlived `sbr ui`"
        assert _port_free(port), f"port {port} is still held after `sbr ui` exited"
    finally:
        for group in {*server_groups, process.pid}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
