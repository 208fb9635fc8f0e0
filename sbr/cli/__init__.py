"""The ``sbr`` command line.

Every sub-command lives in a module of this package and imports its heavy
dependencies (torch, mmdet, ray, mlflow) inside the command body, so that
``sbr --help`` and argument errors stay instant.
"""

from __future__ import annotations

import warnings

import click

from sbr import __version__
from sbr.cli.ablation import run_ablation, validate
from sbr.cli.data import data
from sbr.cli.models import models
from sbr.cli.train import train


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

__all__ = ["main"]
