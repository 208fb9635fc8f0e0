"""The ``sbr`` command line.

Every sub-command lives in a module of this package and imports its heavy
dependencies (torch, mmdet, ray, mlflow) inside the command body, so that
``sbr --help`` and argument errors stay instant.
"""

from __future__ import annotations

import os
import warnings

# Before torch is imported: OpenMP threads that spin while waiting make every
# parallel region crawl (~10x) as soon as another process shares the cores, as
# Ray trials, data loaders and CI neighbours do. Passive waiting costs nothing alone.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import click  # noqa: E402

from sbr import __version__  # noqa: E402
from sbr.cli.ablation import run_ablation, validate
from sbr.cli.bench import bench
from sbr.cli.data import data
from sbr.cli.models import models
from sbr.cli.report import report
from sbr.cli.status import status
from sbr.cli.train import train
from sbr.cli.ui import ui


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sbr")
def main() -> None:
    """SBR-CNN experiment lab: data, training, ablations and reports."""


# mmengine 0.10.7 imports pkg_resources (needed for `mmdet::` config scopes) and
# setuptools warns about it on every start; it is noise for sbr's users.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

main.add_command(data)
main.add_command(train)
main.add_command(models)
main.add_command(validate)
main.add_command(run_ablation)
main.add_command(report)
main.add_command(status)
main.add_command(ui)
main.add_command(bench)

__all__ = ["main"]
