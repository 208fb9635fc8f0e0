"""``sbr ui``: the MLflow UI on the tracking store."""

from __future__ import annotations

import os
import subprocess
import sys

import click

#: A filter to paste in the MLflow UI's search box (runs serving Table 3).
EXAMPLE_FILTER = "tags.`sbr.tables` LIKE '%table3%' and tags.`sbr.kind` = 'training'"
#: MLflow's UI folds nested runs under their parent unless the list is sorted by a metric.
LIST_TIP = "trial runs are nested under their ablation run: sort by a metric for a flat list"


def server_env() -> dict[str, str]:
    """The server's environment: without MLflow's GenAI job runner (8 extra processes)."""
    return {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **os.environ}


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
    process = subprocess.Popen(server_command(uri, host=host, port=port), env=server_env())
    try:
        sys.exit(process.wait())
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=30)


__all__ = ["EXAMPLE_FILTER", "LIST_TIP", "server_command", "server_env", "ui"]
