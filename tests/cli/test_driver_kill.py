"""Kill the ``sbr run-ablation`` driver mid-run, rerun the same command: nothing is lost.

Real processes only: the driver (with its local Ray) runs in a session of its own and is
SIGKILLed as a process group once one trial has finished and the other has logged an
iteration past its last checkpoint (so the rerun redoes steps MLflow may already hold).
The rerun must skip the finished trial, resume the interrupted one from its checkpoint,
and leave MLflow with one finished training run per trial and a gapless loss history.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from ci_gate import require  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from tiny_trials import GOOD_ROW, write_preset, write_spec  # noqa: E402

from sbr import metrics as M  # noqa: E402
from sbr.cli.status import status as status_command  # noqa: E402

pytestmark = pytest.mark.slow

ITERS = 8
#: Seconds to wait for each phase (the driver alone needs ~20 s to start on 2 busy cores).
PHASE_TIMEOUT_S = 600


def _tail(log: Path, chars: int = 6000) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else "(no output)"
    return f"--- driver output ({log}) ---\n{text[-chars:]}"


def _wait(
    what: str, ready: Callable[[], bool], proc: subprocess.Popen, log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"driver exited ({proc.returncode}) before {what}\n{_tail(log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{_tail(log)}")
        time.sleep(0.2)


def _alive(pids: set[int]) -> list[str]:
    """The processes among ``pids`` that are still alive (zombies count as dead)."""
    import psutil

    alive = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{pid} {' '.join(proc.cmdline())[:200]}")
        except psutil.NoSuchProcess:
            pass
    return alive


def _session(sid: int) -> set[int]:
    """Live processes of the session ``sid``."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == sid:
                    pids.add(int(entry.name))
            except OSError:
                pass
    return pids


def _kill_driver(proc: subprocess.Popen) -> None:
    """SIGKILL the driver's process group; fail if any process of it survives."""
    import psutil

    tree = {p.pid for p in psutil.Process(proc.pid).children(recursive=True)} | {proc.pid}
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while (survivors := _alive(tree | _session(proc.pid))) and time.monotonic() < deadline:
        time.sleep(0.2)
    if survivors:
        for line in survivors:  # leave nothing behind, then report
            with contextlib.suppress(OSError):
                os.kill(int(line.split()[0]), signal.SIGKILL)
        pytest.fail("processes survived the driver's death:\n" + "\n".join(survivors))


def _progress(work_dir: Path) -> tuple[int, int]:
    """(newest checkpointed iteration, newest iteration in the MMEngine log) of a work dir."""
    saved = max((int(p.stem[5:]) for p in work_dir.glob("iter_*.pth")), default=0)
    text = "".join(p.read_text(errors="replace") for p in work_dir.glob("*/*.log"))
    return saved, max((int(n) for n in re.findall(r"Iter\(train\) \[(\d+)/", text)), default=0)


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("iter_*.pth")}


def test_killed_driver_rerun_skips_finished_and_resumes_interrupted_trial(tmp_path: Path) -> None:
    require("ray")
    require("psutil")
    from sbr.data.synth import synthesize
    from sbr.tracking.mlflow import Tracker

    synthesize(tmp_path / "data", seed=0, images=8, val_images=4)
    (tmp_path / "spec").mkdir()
    (tmp_path / "preset").mkdir()
    spec = write_spec(tmp_path / "spec", GOOD_ROW)  # checkpoints every iteration
    preset = write_preset(tmp_path / "preset", iters=ITERS)
    storage = tmp_path / "store"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = [
        str(Path(sys.executable).with_name("sbr")),
        "run-ablation", str(spec), "--preset", str(preset), "--data", str(tmp_path / "data"),
        "--seeds", "2",  # one row, two trials (seeds 0 and 1)
        "--storage", str(storage), "--tracking-uri", uri, "--num-cpus", "1", "--no-params",
    ]  # fmt: skip
    env = {**os.environ, "SBR_CACHE_DIR": str(tmp_path / "cache"), "MLFLOW_TRACKING_URI": uri}

    def trials() -> list[Path]:
        return [d for d in storage.iterdir() if d.is_dir() and d.name != "_ray"]

    def past_checkpoint(work_dir: Path) -> bool:
        # Iteration k is logged (text, then MLflow) before its checkpoint is saved.
        saved, logged = _progress(work_dir)
        return saved >= 2 and logged > saved

    def kill_point() -> tuple[Path, Path] | None:
        """(finished trial, trial past its 2nd checkpoint) once both exist."""
        dirs = trials() if storage.is_dir() else []
        done = [d for d in dirs if (d / "outcome.json").is_file()]
        busy = [d for d in dirs if d not in done and past_checkpoint(d / "work")]
        return (done[0], busy[0]) if done and busy else None

    seen: list[tuple[Path, Path] | None] = []

    def ready() -> bool:  # keeps what it saw: the folders change after the kill decision
        seen.append(kill_point())
        return seen[-1] is not None

    first_log = tmp_path / "driver1.log"
    with first_log.open("wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        what = "one trial finished and the other past a checkpoint"
        _wait(what, ready, proc, first_log, PHASE_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            _kill_driver(proc)
    finished, interrupted = seen[-1]  # as seen when the kill was decided
    assert not (interrupted / "outcome.json").is_file(), "killed too late\n" + _tail(first_log)
    assert len(trials()) == 2, [d.name for d in trials()]
    kept = _mtimes(finished / "work")
    assert f"iter_{ITERS}.pth" in kept, kept

    # Between the two runs, `sbr status` tells the dead trial from the finished one.
    shown = CliRunner().invoke(
        status_command,
        [str(spec), "--preset", str(preset), "--data", str(tmp_path / "data"), "--seeds", "2",
         "--tracking-uri", uri, "--json"],
    )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    rows = {r["trial"]: r for r in json.loads(shown.stdout)}
    assert (rows[finished.name]["status"], rows[finished.name]["iteration"]) == ("finished", None)
    assert rows[interrupted.name]["status"] == "interrupted"
    assert rows[interrupted.name]["iteration"] >= 2  # its MLflow steps reach its checkpoint

    second_log = tmp_path / "driver2.log"
    with second_log.open("wb") as out:
        try:
            rerun = subprocess.run(  # --worker-logs: the trials' MMEngine output shows live
                [*command, "--worker-logs"], stdout=out, stderr=subprocess.STDOUT, env=env,
                timeout=PHASE_TIMEOUT_S, start_new_session=True,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            pytest.fail(f"rerun timed out after {PHASE_TIMEOUT_S} s\n{_tail(second_log)}")
    output = second_log.read_text(encoding="utf-8", errors="replace")
    assert rerun.returncode == 0, _tail(second_log)
    status = {}
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in (finished.name, interrupted.name):
            status[words[0]] = words[1]
    assert status == {finished.name: "skipped", interrupted.name: "finished"}, _tail(second_log)
    assert "1 skipped, 1 finished" in output or "1 finished, 1 skipped" in output, output
    # --worker-logs forwards the resumed trial's training log; without it (the first
    # driver) the trials' output stays in their work dirs and MLflow
    assert re.search(rf"Iter\(train\) \[{ITERS}/{ITERS}\]", output), _tail(second_log)
    assert "Iter(train)" not in first_log.read_text(encoding="utf-8", errors="replace")

    # The interrupted trial resumed from its checkpoint; the finished one was not retrained.
    outcome = json.loads((interrupted / "outcome.json").read_text())
    assert outcome["status"] == "finished" and outcome["end_iter"] == ITERS, outcome
    assert outcome["start_iter"] >= 2, outcome
    logs = sorted((interrupted / "work").glob("*/*.log"))
    assert len(logs) == 2 and "resumed" in logs[-1].read_text(), logs
    assert _mtimes(finished / "work") == kept
    assert len(list((finished / "work").glob("*/*.log"))) == 1

    # MLflow: one finished training run per trial, loss logged at every step exactly once.
    tracker = Tracker(uri)
    for trial in (finished, interrupted):
        runs = tracker.search({M.TAG_TRIAL: trial.name, M.TAG_KIND: "training"})
        assert len(runs) == 1, [(r.info.run_id, r.info.status) for r in runs]
        (run,) = runs
        assert run.data.tags[M.TAG_STATUS] == "finished", run.data.tags
        assert run.info.status == "FINISHED", run.info
        steps = [s for s, _ in tracker.metric_history(run.info.run_id, f"{M.LOSS_PREFIX}loss")]
        assert steps == list(range(1, ITERS + 1)), (trial.name, steps)

    # The killed invocation's own run was closed as KILLED by the rerun, not left running.
    newest, killed = tracker.search({M.TAG_KIND: "ablation"})
    assert (newest.info.status, killed.info.status) == ("FINISHED", "KILLED")
    assert killed.data.tags[M.TAG_STATUS] == "interrupted"
