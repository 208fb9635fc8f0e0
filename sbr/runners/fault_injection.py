"""TEST HOOK: fault injection into a trial's training. Never active in a user's run.

The runner tests need real failures at a known point (an exception, or a SIGKILL of
the trial's own process, as a crashed Ray worker) to check retries and resumes. This
module is the single place that makes them. It is switched on only by
:attr:`sbr.runners.execute.RunSettings.faults`, which no CLI flag, spec or preset
sets; only tests fill it. A trial without a fault gets no hook at all.

The attempts already failed are counted in ``<trial dir>/.faults``, so a retry of the
same trial (a new process) sees how many faults it has had.

In a data-parallel trial only rank 0 fails. Rank 0 writes the checkpoints, and it
reaches the hook of iteration ``at_iter`` only after the checkpoint of the iteration
before is on disk. A fault on another rank may reach the hook while rank 0 is still
writing that checkpoint; the group is then torn down mid-write and the retry starts
from an earlier point. That happens in real clusters too, but a test cannot say
where the retry resumes.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Counter of injected faults, in the trial's folder.
FAULT_FILE = ".faults"


@dataclass(frozen=True)
class Fault:
    """Test-only fault: raise before iteration ``at_iter`` in the first ``times`` attempts."""

    at_iter: int
    times: int = 1
    #: SIGKILL the trial's own process instead of raising (a real worker crash).
    kill: bool = False


def inject_fault(trial_dir: Path, fault: Fault, iteration: int) -> None:
    """Fail (raise or SIGKILL) if ``iteration`` is the fault's and attempts remain."""
    if iteration != fault.at_iter:
        return
    marker = Path(trial_dir) / FAULT_FILE
    done = int(marker.read_text()) if marker.is_file() else 0
    if done >= fault.times:
        return
    marker.write_text(str(done + 1))
    if fault.kill:
        os.kill(os.getpid(), signal.SIGKILL)
    raise RuntimeError(f"injected fault before iteration {iteration}")


def fault_injection_hook(fault: Fault, trial_dir: Path) -> Any:
    """TEST HOOK: an MMEngine hook that injects ``fault`` before its training iteration."""
    from mmengine.hooks import Hook

    class SBRTestFaultInjectionHook(Hook):
        priority = "VERY_HIGH"

        def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
            if runner.rank == 0:  # the checkpoint writer: see the module docstring
                inject_fault(trial_dir, fault, runner.iter)

    return SBRTestFaultInjectionHook()


__all__ = ["FAULT_FILE", "Fault", "fault_injection_hook", "inject_fault"]
