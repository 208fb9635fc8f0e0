"""``sbr ui`` in a real browser: headless Chromium (Debian's) finds sbr's runs in the MLflow UI.

A small store with the runs ``run-ablation`` would log for Tables 3-4 (their tags and
readable names, from the shipped specs' expansion) is written through
:class:`sbr.tracking.mlflow.Tracker` (no training), the real ``sbr ui table4`` serves it,
and Chromium's ``--dump-dom`` of the experiment's runs page (a React single-page app) must
list the runs by name, list only Table 3's trainings under a filter on the ``sbr.tables``
tag, and the compare link ``sbr ui table4`` prints must open on Table 4's six rows.

The MLflow UI folds nested runs under their (collapsed) parent when the runs are sorted by
date; sorted by a metric it lists them flat, so the URLs sort by ``coco/bbox_mAP``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from ci_gate import require, required
from ui_store import write_runs

from sbr.metrics import (
    BBOX_AP,
    DEFAULT_EXPERIMENT,
    TAG_KIND,
    TAG_STATUS,
    TAG_TABLES,
    TAG_TRIAL,
)

mlflow = require("mlflow")

REQUIRE_CHROMIUM = required("SBR_REQUIRE_CHROMIUM")
CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None and not REQUIRE_CHROMIUM,
        reason="chromium not installed (scripts/install_system_deps.sh installs it; "
        "set SBR_REQUIRE_CHROMIUM=1 to make this a failure)",
    ),
]

ABLATIONS = Path(__file__).resolve().parents[2] / "ablations"
#: Tables 3 and 4 of the shipped specs, one seed: their runs as ``run-ablation`` names them.
TABLES = ("table3", "table4")
SEED = 1
#: A run of another experiment in the same store: the experiment's page must not list it.
ABSENT = "t3-rowz-other-experiment"
OTHER_EXPERIMENT = "sbr-other-experiment"
SERVER_TIMEOUT_S = 120
PAGE_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kill_group(process: subprocess.Popen, grace_s: float = 5.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left of it (children included)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    # mlflow's job runners (and chromium's helpers) may outlive the group's leader
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _sbr_command() -> list[str]:
    script = Path(sys.executable).with_name("sbr")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from sbr.cli import main; main()"]


@dataclass(frozen=True)
class Store:
    """The store the UI serves, and what it holds."""

    uri: str
    experiment_id: str
    other_id: str
    parent: str  # the ablation run's name
    names: dict[str, str]  # run id -> name, every run of Tables 3-4
    tables: dict[str, str]  # run id -> its sbr.tables tag
    table4: list[str]  # Table 4's final runs, one per row (the compare page's)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """An MLflow store holding an ablation parent run and its nested runs of Tables 3-4."""
    from sbr.tracking.mlflow import (
        KIND_ABLATION,
        KIND_TRAINING,
        STATUS_FINISHED,
        Tracker,
        default_tracking_uri,
    )
    from sbr.tracking.names import parent_name

    uri = default_tracking_uri(tmp_path_factory.mktemp("ui_store"))
    tracker = Tracker(uri)
    name = parent_name(list(TABLES), ["mini"], ["synth"], "2026-12-03")
    tags = {TAG_KIND: KIND_ABLATION, TAG_TABLES: ",".join(TABLES)}
    parent = tracker.start_run(tags=tags, name=name)
    names, tables, table4 = write_runs(tracker, parent, TABLES, [SEED])
    tracker.end_run(parent)
    other = Tracker(uri, experiment=OTHER_EXPERIMENT)
    tags = {TAG_KIND: KIND_TRAINING, TAG_TRIAL: ABSENT, TAG_TABLES: "table3"}
    run_id = other.start_run(tags={**tags, TAG_STATUS: STATUS_FINISHED}, name=ABSENT)
    other.log_metrics(run_id, {BBOX_AP: 0.99})  # would sort first if it leaked in
    other.end_run(run_id)
    return Store(uri, tracker.experiment_id, other.experiment_id, name, names, tables, table4)


@dataclass(frozen=True)
class Served:
    """The real ``sbr ui table4``: its base URL and the compare link it printed."""

    base: str
    runs: str  # the experiment's runs table, in the model-training view
    compare: str


def _printed_link(log: str, pattern: str) -> str:
    found = re.search(rf"^{pattern}: (\S+)$", log, flags=re.M)
    assert found, f"`sbr ui table4` printed no line {pattern!r}:\n{log[-3000:]}"
    return found.group(1)


@pytest.fixture(scope="module")
def served(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The real ``sbr ui table4`` serving ``store``, once it answers HTTP."""
    port = _free_port()
    workdir = tmp_path_factory.mktemp("ui_server")  # mlflow server may write mlartifacts/ here
    log_path = workdir / "server.log"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    command = [*_sbr_command(), "ui", "table4", "--port", str(port), "--tracking-uri", store.uri]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the teardown kills it whole
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"`sbr ui` exited with {process.returncode} before serving:\n"
                    + log_path.read_text(errors="replace")[-4000:]
                )
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"`sbr ui` did not answer on {base} within {SERVER_TIMEOUT_S} s:\n"
                    + log_path.read_text(errors="replace")[-4000:]
                )
            time.sleep(0.5)
        log = log_path.read_text(errors="replace")
        assert f"MLflow UI: {base}" in log
        runs = _printed_link(log, f"runs of {DEFAULT_EXPERIMENT}")
        compare = _printed_link(log, r"compare table4 \(\d+ runs, one per row and seed\)")
        yield Served(base, runs, compare)
    finally:
        _kill_group(process, grace_s=30.0)  # `sbr ui` exits once its server's group is gone


def _dump_dom(url: str, profile: Path) -> str:
    """The DOM of ``url`` after its scripts ran, as headless Chromium renders it."""
    command = [
        CHROMIUM or "chromium",
        "--headless=new",
        "--no-sandbox",  # root in a container: the sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        # virtual time waits for pending fetches, then runs the app's timers on for 15 s
        "--virtual-time-budget=15000",
        "--dump-dom",
        url,
    ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        out, err = b"", b"chromium timed out after 90 s"
    finally:
        _kill_group(process, grace_s=2.0)
    if not out.strip():
        raise AssertionError(f"chromium dumped no DOM for {url}:\n{err.decode()[-3000:]}")
    return out.decode("utf-8", errors="replace")


def _page_text(url: str, expected: Sequence[str], tmp_path: Path) -> str:
    """The visible text of ``url``, re-rendered until every ``expected`` string shows."""
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    attempt = 0
    while True:
        attempt += 1
        dom = _dump_dom(url, tmp_path / f"profile{attempt}")
        text = re.sub(r"<script\b.*?</script>|<style\b.*?</style>", " ", dom, flags=re.S)
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))
        if all(name in text for name in expected) or time.monotonic() > deadline:
            return text
        time.sleep(2)


def _sorted_by_ap(runs_link: str, search_filter: str | None = None) -> str:
    """``sbr ui``'s runs link, sorted by a metric (a flat list), maybe filtered."""
    query = {"orderByKey": f"metrics.`{BBOX_AP}`", "orderByAsc": "false"}
    if search_filter:
        query["searchFilter"] = search_filter
    return f"{runs_link}&" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)


def test_chromium_finds_every_run_by_its_readable_name(
    served: Served, store: Store, tmp_path: Path
) -> None:
    assert CHROMIUM, "chromium is required (SBR_REQUIRE_CHROMIUM=1 or CI) but not installed"
    expected = [store.parent, *store.names.values()]
    assert "R³-CNN L_e=2 · T4 r3 · s1" in expected  # the names are the readable ones
    assert served.runs.startswith(f"{served.base}/#/experiments/{store.experiment_id}/runs?")
    text = _page_text(_sorted_by_ap(served.runs), expected, tmp_path)
    missing = [name for name in expected if name not in text]
    assert not missing, f"the MLflow UI does not show {missing}; page text:\n{text[:3000]}"
    # the model-training view: its sidebar, not the GenAI one (Traces, Judges, Prompts...)
    assert "Model registry" in text and "Judges" not in text, text[:1000]
    assert ABSENT not in text, f"the page of {DEFAULT_EXPERIMENT} lists {OTHER_EXPERIMENT}'s run"
    assert DEFAULT_EXPERIMENT in text  # the experiment's name


def test_the_server_does_serve_the_other_experiments_run(served: Served, store: Store) -> None:
    """The run the experiment page must not list is in the served store (the check can fail)."""
    request = urllib.request.Request(
        f"{served.base}/ajax-api/2.0/mlflow/runs/search",
        data=json.dumps({"experiment_ids": [store.other_id]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        runs = json.load(response).get("runs", [])
    assert [run["info"]["run_name"] for run in runs] == [ABSENT]


def test_chromium_filter_on_sbr_tables_keeps_only_table3(
    served: Served, store: Store, tmp_path: Path
) -> None:
    assert CHROMIUM, "chromium is required (SBR_REQUIRE_CHROMIUM=1 or CI) but not installed"
    table3 = [name for run, name in store.names.items() if store.tables[run] == "table3"]
    others = [name for run, name in store.names.items() if store.tables[run] != "table3"]
    assert table3 and others
    url = _sorted_by_ap(
        served.runs, f"tags.`{TAG_TABLES}` = 'table3' and tags.`{TAG_KIND}` = 'training'"
    )
    text = _page_text(url, table3, tmp_path)
    missing = [name for name in table3 if name not in text]
    assert not missing, f"the filtered UI does not show {missing}; page text:\n{text[:3000]}"
    shown = [name for name in others if name in text]
    assert not shown, f"the filter on {TAG_TABLES} = table3 still shows {shown}"
    assert ABSENT not in text


def test_chromium_opens_the_compare_link_of_table4_with_its_rows(
    served: Served, store: Store, tmp_path: Path
) -> None:
    """``sbr ui table4``'s link: MLflow's compare page of Table 4's six rows (one seed)."""
    assert CHROMIUM, "chromium is required (SBR_REQUIRE_CHROMIUM=1 or CI) but not installed"
    assert served.compare.startswith(f"{served.base}/#/compare-runs?runs=")
    expected = [store.names[run] for run in store.table4]
    assert len(set(expected)) == 6
    assert len(expected) == 6
    text = _page_text(served.compare, expected, tmp_path)
    missing = [name for name in expected if name not in text]
    assert not missing, f"the compare page does not show {missing}; page text:\n{text[:3000]}"
    only_t3 = [name for run, name in store.names.items() if store.tables[run] == "table3"]
    shown = [name for name in only_t3 if name in text]
    assert not shown, f"the compare page of table4 shows Table 3's runs {shown}"
    assert "Model registry" in text  # the model-training view's sidebar


def test_sbr_ui_table_on_an_http_server_prints_the_links_and_returns(
    served: Served, store: Store
) -> None:
    """Over http(s) the server exists: ``sbr ui table4`` prints the same links, starts nothing."""
    from click.testing import CliRunner

    from sbr.cli import main

    result = CliRunner().invoke(main, ["ui", "table4", "--tracking-uri", served.base])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"MLflow UI: {served.base}\n")
    assert _printed_link(result.output, f"runs of {DEFAULT_EXPERIMENT}") == served.runs
    compare = _printed_link(result.output, r"compare table4 \(6 runs, one per row and seed\)")
    assert compare == served.compare
