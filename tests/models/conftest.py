"""Fixtures shared by the model tests (builders of tiny R³ models live in tiny_r3.py)."""

import pytest
import torch

import sbr.models  # noqa: F401  (registers the sbr components)


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Run each test with one intra-op thread.

    The tensors here are tiny: on a shared 2-core machine OpenMP worker threads
    only add spin-wait overhead (measured ~60 ms instead of <1 ms per small conv).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
