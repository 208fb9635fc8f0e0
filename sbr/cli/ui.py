"""``sbr ui``: the MLflow UI on the tracking store."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

import click

#: A filter to paste in the MLflow UI's search box (runs serving Table 3).
EXAMPLE_FILTER = "tags.`sbr.tables` LIKE '%table3%' and tags.`sbr.kind` = 'training'"
#: Query of a UI link that opens MLflow 3.x's model-training view (not its GenAI one).
MODEL_TRAINING_VIEW = "workflowType=machine_learning"
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


def compare_url(base: str, run_ids: Sequence[str], experiment_ids: Sequence[str]) -> str:
    """The MLflow UI's compare-runs page of ``run_ids``.

    MLflow 3.x routes it as ``#/compare-runs?runs=[...]&experiments=[...]``, both JSON
    lists of ids (``experiments`` sorted), as its own "Compare" button builds it; the
    sidebar stays in the model-training view (:func:`runs_url`).
    """

    def ids(values: Sequence[str]) -> str:
        return urllib.parse.quote(json.dumps(list(values), separators=(",", ":")), safe="[],")

    query = f"runs={ids(run_ids)}&experiments={ids(sorted(set(experiment_ids)))}"
    return f"{base.rstrip('/')}/#/compare-runs?{query}&{MODEL_TRAINING_VIEW}"


def table_runs(uri: str, layout: Any) -> tuple[list[str], list[str]]:
    """(run ids, their experiment ids) of a table's final runs, in row order.

    One run per row and seed, picked as the reports pick them
    (:func:`sbr.reports.aggregate.summarize`): the training run of a training row, the
    evaluation-only run of an evaluation row, finished runs only.

    Args:
        uri: Tracking store.
        layout: The table (:func:`sbr.reports.tables.load_layout`).
    """
    from sbr.reports.aggregate import summarize
    from sbr.tracking.runs import fetch_runs, runs_to_frame

    records = fetch_runs(uri)
    summary = summarize(runs_to_frame(records), layout)  # one record per (row, column)
    picked = (run for joined in summary["run_ids"] for run in str(joined).split(",") if run)
    run_ids = list(dict.fromkeys(picked))
    wanted = set(run_ids)
    return run_ids, sorted({r.experiment_id for r in records if r.run_id in wanted})


def runs_url(base: str, experiment_id: str) -> str:
    """The experiment's runs table in the UI's model-training view.

    MLflow 3.17's UI picks its GenAI or model-training view from its own ``workflowType``
    setting (the sidebar's switch, remembered by the browser; GenAI at first), not from the
    experiment's ``mlflow.experimentKind`` tag: the link asks for the model-training one.
    """
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?{MODEL_TRAINING_VIEW}"


def _store_lines(uri: str, table: str | None, base: str) -> list[str]:
    """The runs-table link, and with ``table`` its compare link. Exits 2 on an unknown
    table (before the store is read), or on a store that cannot be read when a table is
    asked for."""
    from sbr.cli.ablation import EXIT_SPEC_ERROR, _fail
    from sbr.metrics import DEFAULT_EXPERIMENT
    from sbr.reports.tables import load_layout
    from sbr.tracking.mlflow import Tracker, TrackingError, check_tracking
    from sbr.yamlspec.errors import SpecError

    try:
        layout = None if table is None else load_layout(table)
    except SpecError as exc:
        _fail(exc)
    try:
        check_tracking(uri)
    except TrackingError as exc:
        if layout is None:  # the server may still come up: only the link is missing
            return []
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_SPEC_ERROR)
    experiment_id = Tracker(uri).find_experiment_id()
    lines = []
    if experiment_id is not None:
        lines.append(f"runs of {DEFAULT_EXPERIMENT}: {runs_url(base, experiment_id)}")
    if layout is not None:
        lines.append(_compare_line(uri, layout, base))
    return lines


def _compare_line(uri: str, layout: Any, base: str) -> str:
    """``compare table4 (N runs, one per row and seed): <link>``."""
    run_ids, experiments = table_runs(uri, layout)
    if not run_ids:
        return f"compare {layout.name}: no finished run of {layout.name} in {uri} yet"
    link = compare_url(base, run_ids, experiments)
    return f"compare {layout.name} ({len(run_ids)} runs, one per row and seed): {link}"


def server_command(uri: str, *, host: str, port: int) -> list[str]:
    """The ``mlflow server`` command line serving ``uri``."""
    return [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", uri, "--host", host, "--port", str(port), "--workers", "1",
    ]  # fmt: skip


@click.command()
@click.argument("table", required=False)
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default as run-ablation).")
def ui(table: str | None, port: int, host: str, tracking_uri: str | None) -> None:
    """Start the MLflow UI on the tracking store and print its URL (Ctrl-C stops it).

    With TABLE (``table4``, or a spec file), also print a link to MLflow's compare-runs
    page of that table's final runs: one per row and seed, as ``sbr report`` picks them.

    SIGTERM and SIGHUP stop it as Ctrl-C does: the server and all its processes exit.

    With an ``http(s)://`` tracking URI the server already exists: its URLs are printed.
    Runs are filterable by sbr's tags (``sbr.tables``, ``sbr.rows``, ``sbr.trial``,
    ``sbr.kind``, ``sbr.status``, ``sbr.preset``).
    """
    from sbr.tracking.mlflow import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    remote = uri.startswith(("http://", "https://"))
    base = uri.rstrip("/") if remote else f"http://{host}:{port}"
    lines = _store_lines(uri, table, base)
    click.echo(f"MLflow UI: {base}" + ("" if remote else f"  (store {uri})"))
    for line in lines:
        click.echo(line)
    click.echo(f"filter example: {EXAMPLE_FILTER}")
    click.echo(LIST_TIP)
    if not remote:
        sys.exit(serve(server_command(uri, host=host, port=port), server_env()))


__all__ = [
    "EXAMPLE_FILTER",
    "compare_url",
    "runs_url",
    "table_runs",
    "FORWARDED_SIGNALS",
    "LIST_TIP",
    "serve",
    "server_command",
    "server_env",
    "stop_group",
    "ui",
]
