"""Load MMEngine checkpoints under torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default. MMEngine 0.10.7
calls ``torch.load`` without that argument, and its own checkpoints pickle
objects the restricted unpickler refuses (``HistoryBuffer`` in the message hub,
numpy arrays and scalars), so ``--resume`` fails with ``UnpicklingError``
(mmengine#1655, fixed on mmengine's main branch but never released).

This module is the one place sbr deals with it: it replaces MMEngine's loader
for local files by one that keeps ``weights_only=True`` and allows exactly the
extra types a Runner checkpoint contains. Arbitrary pickled code is still
refused, so loading a checkpoint from elsewhere stays as safe as torch makes it.
"""

from __future__ import annotations

import os
from typing import Any

_installed = False


def checkpoint_safe_globals() -> list[Any]:
    """Types that MMEngine Runner checkpoints pickle besides tensors and containers."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer

    numpy_types: list[Any] = [np.ndarray, np.dtype]
    # numpy >= 1.25 pickles dtypes as instances of per-type classes (np.dtypes.Float64DType...).
    numpy_types += [type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDGSUV"]
    numpy_types += [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32]
    numpy_types += [np.int64, np.uint64, np.float16, np.float32, np.float64]
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    return [HistoryBuffer, multiarray._reconstruct, multiarray.scalar, *numpy_types]


def load_from_local_safe(filename: str, map_location: Any = None) -> Any:
    """MMEngine checkpoint loader for local paths with ``weights_only=True``."""
    import torch

    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f"{filename} can not be found.")
    with torch.serialization.safe_globals(checkpoint_safe_globals()):
        return torch.load(filename, map_location=map_location, weights_only=True)


def install_checkpoint_compat() -> None:
    """Route MMEngine's local checkpoint loading through :func:`load_from_local_safe`.

    Idempotent; a no-op on torch < 2.6 where MMEngine's own loader works.
    """
    global _installed
    if _installed:
        return
    import torch
    from mmengine.runner.checkpoint import CheckpointLoader

    major, minor = (int(x) for x in torch.__version__.split(".")[:2])
    if (major, minor) >= (2, 6):
        CheckpointLoader.register_scheme(prefixes="", loader=load_from_local_safe, force=True)
    _installed = True
