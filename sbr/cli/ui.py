"""``sbr ui``: the MLflow UI on the tracking store."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import click

#: A filter to paste in the MLflow UI's search box (runs serving Table 3).
EXAMPLE_FILTER = "tags.`sbr.tables` LIKE '%table3%' and tags.`sbr.kind` = 'training'"
#: MLflow's UI folds nested runs under their parent unless the list is sorted by a metric.
LIST_TIP = "trial runs are nested under their ablation run: sort by a metric for a flat list"


def server_env() -> dict[str, str]:
    """The server's environment: without MLflow's GenAI job runner (8 extra processes)."""
    return {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **os.environ}


#: Signals ``sbr ui`` forwards to the server's process group (a terminal, a process
#: manager or ``kill``); the server runs in a session of its own, so it sees only these.
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: Seconds the server's processes get to exit after a forwarded signal, before SIGKILL.
STOP_GRACE_S = 10.0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a member owned by someone else
        return True
    return True


def stop_group(pgid: int, sig: int = signal.SIGTERM, grace_s: float = STOP_GRACE_S) -> None:
    """Send ``sig`` to process group ``pgid``, wait for it to empty, SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
    deadline = time.monotonic() + grace_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def serve(command: list[str], env: dict[str, str]) -> int:
    """Run the server in its own process group until it exits or a signal stops it.

    ``mlflow server`` starts uvicorn (and possibly job runners) as children; a signal
    that reached only ``mlflow`` would leave them holding the port. So the server gets
    a session of its own, every signal of :data:`FORWARDED_SIGNALS` that ``sbr ui``
    receives goes to that whole group, and whatever is left of the group when the
    server exits is stopped too.

    Returns:
        The server's exit status, or 0 when a forwarded signal stopped it.
    """
    process = subprocess.Popen(command, env=env, start_new_session=True)
    received: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS}
    try:
        code = process.wait()
    finally:
        stop_group(process.pid, received[0] if received else signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_GRACE_S)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if received else code


def server_command(uri: str, *, host: str, port: int) -> list[str]:
    """The ``mlflow server`` command line serving ``uri``."""
    return [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", uri, "--host", host, "--port", str(port), "--workers", "1",
    ]  # fmt: skip


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default as run-ablation).")
def ui(port: int, host: str, tracking_uri: str | None) -> None:
    """Start the MLflow UI on the tracking store and print its URL (Ctrl-C stops it).

    SIGTERM and SIGHUP stop it as Ctrl-C does: the server and all its processes exit.

    With an ``http(s)://`` tracking URI the server already exists: its URL is printed.
    Runs are filterable by sbr's tags (``sbr.tables``, ``sbr.rows``, ``sbr.trial``,
    ``sbr.kind``, ``sbr.status``, ``sbr.preset``).
    """
    from sbr.tracking.mlflow import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    if uri.startswith(("http://", "https://")):
        click.echo(f"MLflow UI: {uri}")
        click.echo(f"filter example: {EXAMPLE_FILTER}")
        click.echo(LIST_TIP)
        return
    click.echo(f"MLflow UI: http://{host}:{port}  (store {uri})")
    click.echo(f"filter example: {EXAMPLE_FILTER}")
    click.echo(LIST_TIP)
    sys.exit(serve(server_command(uri, host=host, port=port), server_env()))


__all__ = [
    "EXAMPLE_FILTER",
    "FORWARDED_SIGNALS",
    "LIST_TIP",
    "serve",
    "server_command",
    "server_env",
    "stop_group",
    "ui",
]
