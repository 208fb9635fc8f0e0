"""Runs of a dead ``run-ablation`` process are closed as KILLED; live ones are left alone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sbr import metrics as M


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize(
    ("driver", "closed"),
    [
        (lambda: f"{socket.gethostname()}:{_dead_pid()}", True),
        (lambda: f"{socket.gethostname()}:{os.getpid()}", False),
        (lambda: f"elsewhere.example:{_dead_pid()}", False),  # cannot tell: leave it
        (lambda: "", False),  # written by an older sbr: leave it
    ],
    ids=["dead-driver", "live-driver", "other-host", "no-driver-tag"],
)
def test_orphaned_runs_are_closed(tmp_path: Path, driver, closed: bool) -> None:
    from sbr.runners.execute import close_orphaned_runs
    from sbr.tracking.mlflow import PARENT_TAG, Tracker, default_tracking_uri

    tracker = Tracker(default_tracking_uri(tmp_path))
    tags = {M.TAG_DRIVER: driver()} if driver() else {}
    parent = tracker.start_run(tags={M.TAG_KIND: "ablation", **tags})
    running = tracker.start_run(
        tags={M.TAG_KIND: "training", M.TAG_STATUS: "running"}, parent=parent
    )
    done = tracker.start_run(tags={M.TAG_KIND: "training", M.TAG_STATUS: "finished"}, parent=parent)
    tracker.end_run(done)

    ids = close_orphaned_runs(tracker)

    assert sorted(ids) == (sorted([parent, running]) if closed else [])
    statuses = {r.info.run_id: (r.info.status, r.data.tags.get(M.TAG_STATUS)) for r in
                tracker.search({})}  # fmt: skip
    if closed:
        assert statuses[parent] == ("KILLED", "interrupted")
        assert statuses[running] == ("KILLED", "interrupted")
    else:
        assert statuses[parent][0] == statuses[running][0] == "RUNNING"
    assert statuses[done] == ("FINISHED", "finished")
    assert tracker.search({PARENT_TAG: parent})  # children stay nested under it
