"""Every class exported by sbr.models is registered under its own name, without clashes."""

import inspect

import mmengine.registry as root
import pytest
from mmdet.registry import HOOKS, MODELS, TASK_UTILS
from mmdet.utils import register_all_modules

import sbr.models

REGISTRIES = {"MODELS": MODELS, "TASK_UTILS": TASK_UTILS, "HOOKS": HOOKS}
ROOT_REGISTRIES = {"MODELS": root.MODELS, "TASK_UTILS": root.TASK_UTILS, "HOOKS": root.HOOKS}


def _registries_holding(name: str) -> list[str]:
    return [key for key, registry in REGISTRIES.items() if name in registry.module_dict]


@pytest.mark.parametrize("name", sbr.models.__all__, ids=sbr.models.__all__)
def test_exported_class_is_registered_once_under_its_own_name(name):
    cls = getattr(sbr.models, name)
    assert inspect.isclass(cls)
    holders = _registries_holding(name)
    assert len(holders) == 1, f"{name} is registered in {holders}"
    assert REGISTRIES[holders[0]].module_dict[name] is cls
    assert cls.__module__.startswith("sbr.models.")


@pytest.mark.parametrize("name", sbr.models.__all__, ids=sbr.models.__all__)
def test_exported_name_does_not_clash_with_mmdet_or_mmengine(name):
    register_all_modules(init_default_scope=False)  # load every mmdet component
    for key, registry in REGISTRIES.items():
        others = {n for n, c in registry.module_dict.items() if not c.__module__.startswith("sbr.")}
        assert name not in others, f"{name} also names an mmdet {key} entry"
    for key, registry in ROOT_REGISTRIES.items():
        assert name not in registry.module_dict, f"{name} also names an mmengine/mmcv {key} entry"


def test_all_lists_every_registered_sbr_class():
    registered = {
        name
        for registry in REGISTRIES.values()
        for name, cls in registry.module_dict.items()
        if cls.__module__.startswith("sbr.")
    }
    assert registered == set(sbr.models.__all__)
