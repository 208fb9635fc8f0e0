"""``sbr ui`` in a real browser: headless Chromium (Debian's) finds sbr's runs in the MLflow UI.

A small store with sbr-shaped runs is written through :class:`sbr.tracking.mlflow.Tracker`
(no training), the real ``sbr ui`` serves it, and Chromium's ``--dump-dom`` of the
experiment's runs page (a React single-page app) must list the trial ids, and list only
Table 3's trials under a filter on the ``sbr.tables`` tag.

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
from pathlib import Path

import pytest
from ci_gate import require, required

from sbr.metrics import (
    BBOX_AP,
    DEFAULT_EXPERIMENT,
    TAG_KIND,
    TAG_ROWS,
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

#: trial id (= run name) -> (table, row, bbox mAP). Table 4's trial must be filtered out.
TRIALS = {
    "t3-rowa-r50-seed1": ("table3", "table3/row-a", 0.31),
    "t3-rowb-r50-seed1": ("table3", "table3/row-b", 0.42),
    "t4-rowc-r50-seed1": ("table4", "table4/row-c", 0.50),
}
PARENT = "ablation-table3-table4"
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


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An MLflow store holding an ablation parent run and its nested training runs."""
    from sbr.tracking.mlflow import (
        KIND_ABLATION,
        KIND_TRAINING,
        STATUS_FINISHED,
        Tracker,
        default_tracking_uri,
    )

    uri = default_tracking_uri(tmp_path_factory.mktemp("ui_store"))
    tracker = Tracker(uri)
    parent = tracker.start_run(
        tags={TAG_KIND: KIND_ABLATION, TAG_TABLES: "table3,table4"}, name=PARENT
    )
    for trial, (table, row, ap) in TRIALS.items():
        tags = {
            TAG_KIND: KIND_TRAINING,
            TAG_TRIAL: trial,
            TAG_TABLES: table,
            TAG_ROWS: row,
            TAG_STATUS: STATUS_FINISHED,
        }
        run_id = tracker.start_run(tags=tags, parent=parent, name=trial)
        tracker.log_metrics(run_id, {BBOX_AP: ap})
        tracker.end_run(run_id)
    tracker.end_run(parent)
    other = Tracker(uri, experiment=OTHER_EXPERIMENT)
    absent = dict(TRIALS)["t3-rowa-r50-seed1"]
    tags = {TAG_KIND: KIND_TRAINING, TAG_TRIAL: ABSENT, TAG_TABLES: absent[0], TAG_ROWS: absent[1]}
    run_id = other.start_run(tags={**tags, TAG_STATUS: STATUS_FINISHED}, name=ABSENT)
    other.log_metrics(run_id, {BBOX_AP: 0.99})  # would sort first if it leaked in
    other.end_run(run_id)
    return {"uri": uri, "experiment_id": tracker.experiment_id, "other_id": other.experiment_id}


@pytest.fixture(scope="module")
def ui_url(store: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real ``sbr ui`` serving ``store``; its base URL once it answers HTTP."""
    port = _free_port()
    workdir = tmp_path_factory.mktemp("ui_server")  # mlflow server may write mlartifacts/ here
    log_path = workdir / "server.log"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    command = [*_sbr_command(), "ui", "--port", str(port), "--tracking-uri", store["uri"]]
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
        assert f"MLflow UI: {base}" in log_path.read_text(errors="replace")
        yield base
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


def _runs_url(base: str, experiment_id: str, search_filter: str | None = None) -> str:
    query = {"orderByKey": f"metrics.`{BBOX_AP}`", "orderByAsc": "false"}
    if search_filter:
        query["searchFilter"] = search_filter
    return f"{base}/#/experiments/{experiment_id}/runs?" + urllib.parse.urlencode(
        query, quote_via=urllib.parse.quote
    )


def test_chromium_finds_every_run_on_the_experiment_page(
    ui_url: str, store: dict[str, str], tmp_path: Path
) -> None:
    assert CHROMIUM, "chromium is required (SBR_REQUIRE_CHROMIUM=1 or CI) but not installed"
    expected = [PARENT, *TRIALS]
    text = _page_text(_runs_url(ui_url, store["experiment_id"]), expected, tmp_path)
    missing = [name for name in expected if name not in text]
    assert not missing, f"the MLflow UI does not show {missing}; page text:\n{text[:3000]}"
    assert ABSENT not in text, f"the page of {DEFAULT_EXPERIMENT} lists {OTHER_EXPERIMENT}'s run"
    assert DEFAULT_EXPERIMENT in text  # the experiment's name


def test_the_server_does_serve_the_other_experiments_run(
    ui_url: str, store: dict[str, str]
) -> None:
    """The run the experiment page must not list is in the served store (the check can fail)."""
    request = urllib.request.Request(
        f"{ui_url}/ajax-api/2.0/mlflow/runs/search",
        data=json.dumps({"experiment_ids": [store["other_id"]]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        runs = json.load(response).get("runs", [])
    assert [run["info"]["run_name"] for run in runs] == [ABSENT]


def test_chromium_filter_on_sbr_tables_keeps_only_table3(
    ui_url: str, store: dict[str, str], tmp_path: Path
) -> None:
    assert CHROMIUM, "chromium is required (SBR_REQUIRE_CHROMIUM=1 or CI) but not installed"
    table3 = [trial for trial, (table, _, _) in TRIALS.items() if table == "table3"]
    others = [trial for trial in TRIALS if trial not in table3]
    assert table3 and others
    url = _runs_url(
        ui_url,
        store["experiment_id"],
        f"tags.`{TAG_TABLES}` = 'table3' and tags.`{TAG_KIND}` = 'training'",
    )
    text = _page_text(url, table3, tmp_path)
    missing = [name for name in table3 if name not in text]
    assert not missing, f"the filtered UI does not show {missing}; page text:\n{text[:3000]}"
    shown = [name for name in others if name in text]
    assert not shown, f"the filter on {TAG_TABLES} = table3 still shows {shown}"
    assert ABSENT not in text
