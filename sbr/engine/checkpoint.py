"""Load MMEngine checkpoints under torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default. MMEngine 0.10.7
calls ``torch.load`` without that argument, and its own Runner checkpoints hold
objects torch's restricted unpickler refuses: the message hub's
``HistoryBuffer`` (whose ``statistics_methods`` pickle as ``getattr(cls,
"min")``), numpy arrays and scalars. ``--resume`` then fails with
``UnpicklingError`` (mmengine#1655: fixed on mmengine's main branch, never
released).

This module is the one place sbr deals with it. It replaces MMEngine's loader
for local files by one that unpickles with an allowlist: everything torch's own
``weights_only`` loader accepts, the numpy and MMEngine types a Runner
checkpoint contains, and a ``getattr`` that only resolves HistoryBuffer's
statistic methods. A pickle that reaches for anything else (``os.system``,
``builtins.eval``...) is refused, as torch would refuse it.
"""

from __future__ import annotations

import os
import pickle
from types import SimpleNamespace
from typing import Any

_installed = False
#: HistoryBuffer methods that MMEngine pickles by reference in ``statistics_methods``.
_HISTORY_STATISTICS = frozenset({"min", "max", "mean", "current"})


def _qualified(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def checkpoint_safe_globals() -> dict[str, Any]:
    """``module.name`` -> object for every global a Runner checkpoint may reference."""
    import numpy as np
    import torch
    from mmengine.logging.history_buffer import HistoryBuffer

    try:  # the allowlist behind torch.load(weights_only=True)
        from torch._weights_only_unpickler import _get_allowed_globals

        allowed = dict(_get_allowed_globals())
    except ImportError:  # pragma: no cover - older or reorganised torch
        allowed = {}
    allowed.update(
        {_qualified(fn): fn for fn in torch.serialization.get_safe_globals() if callable(fn)}
    )
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    extra: list[Any] = [HistoryBuffer, np.ndarray, np.dtype]
    extra += [type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDGSUV"]
    extra += [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32]
    extra += [np.int64, np.uint64, np.float16, np.float32, np.float64]
    allowed.update({_qualified(obj): obj for obj in extra})
    # numpy 1.x and 2.x name the array helpers differently; a checkpoint may use either.
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[f"{module}._reconstruct"] = multiarray._reconstruct
        allowed[f"{module}.scalar"] = multiarray.scalar
    return allowed


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` restricted to the statistic methods of MMEngine's HistoryBuffer."""
    from mmengine.logging.history_buffer import HistoryBuffer

    if obj is HistoryBuffer and name in _HISTORY_STATISTICS:
        return getattr(obj, name)
    raise pickle.UnpicklingError(f"refusing getattr({obj!r}, {name!r}) in a checkpoint")


class _AllowlistUnpickler(pickle.Unpickler):
    allowed: dict[str, Any] = {}

    def find_class(self, module: str, name: str) -> Any:
        module = "builtins" if module == "__builtin__" else module
        if (module, name) == ("builtins", "getattr"):
            return _history_buffer_getattr
        try:
            return self.allowed[f"{module}.{name}"]
        except KeyError:
            raise pickle.UnpicklingError(
                f"global {module}.{name} is not allowed in a checkpoint"
            ) from None


def load_from_local_safe(filename: str, map_location: Any = None) -> Any:
    """MMEngine checkpoint loader for local paths, unpickling with an allowlist."""
    import torch

    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f"{filename} can not be found.")
    unpickler = type("Unpickler", (_AllowlistUnpickler,), {"allowed": checkpoint_safe_globals()})
    pickle_module = SimpleNamespace(Unpickler=unpickler, load=pickle.load, __name__="sbr_pickle")
    return torch.load(
        filename, map_location=map_location, weights_only=False, pickle_module=pickle_module
    )


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
