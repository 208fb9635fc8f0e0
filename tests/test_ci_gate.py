"""The CI gate (tests/ci_gate.py): in CI a missing dependency fails instead of skipping.

Besides ``require``, the gate reads every test module: no bare ``importorskip``, no
``pytest.skip`` inside a test's body, no ``return`` before the checks of its branch (a
test that returns early passes without checking anything), and every ``skipif`` goes
through a ``REQUIRE_`` variable or ``under_ci``/``required`` (so that CI turns the skip
into a failure).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from ci_gate import cuda_required, require, required, under_ci


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ["CI", *(k for k in os.environ if k.startswith("SBR_REQUIRE_"))]:
        monkeypatch.delenv(key, raising=False)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"CI": "true"}, True),
        ({"CI": "false"}, False),
        ({"SBR_REQUIRE_CHROMIUM": "1"}, True),
        ({"SBR_REQUIRE_PDFLATEX": "0"}, False),
    ],
    ids=["plain", "ci-true", "ci-false", "sbr-require", "sbr-require-off"],
)
def test_under_ci(monkeypatch, env, expected) -> None:
    _clear(monkeypatch)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert under_ci() is expected
    assert required("SBR_REQUIRE_NOTHING") is expected


def test_cuda_is_required_only_where_asked(monkeypatch) -> None:
    """CI machines without a GPU skip the GPU tests; ``SBR_REQUIRE_CUDA=1`` fails them."""
    _clear(monkeypatch)
    monkeypatch.setenv("CI", "true")
    assert under_ci() and not cuda_required()
    monkeypatch.setenv("SBR_REQUIRE_CUDA", "1")
    assert cuda_required()


def test_missing_module_fails_in_ci_and_skips_outside(monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(ImportError):
        require("sbr_no_such_module")
    _clear(monkeypatch)
    with pytest.raises(pytest.skip.Exception):
        require("sbr_no_such_module")


def test_no_test_module_skips_on_a_missing_dependency_by_itself() -> None:
    """Test modules import optional dependencies through ``ci_gate.require`` (a failure
    under CI), never with a bare ``pytest.importorskip``."""
    tests = Path(__file__).parent
    offenders = [
        f"{path.relative_to(tests)}:{number}"
        for path in sorted(tests.rglob("*.py"))
        if path.name not in ("ci_gate.py", "test_ci_gate.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "importorskip(" in line and not line.lstrip().startswith("#")
    ]
    assert not offenders, f"use ci_gate.require instead of importorskip: {offenders}"


#: What makes a ``skipif`` condition gated: a ``SBR_REQUIRE_*`` flag or ``ci_gate``'s checks.
GATES = ("REQUIRE_", "under_ci(", "required(")


def _own_nodes(function: ast.AST) -> list[ast.AST]:
    """The nodes of ``function``'s body, nested functions, lambdas and classes left out."""
    found, stack = [], list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _blocks(node: ast.AST) -> list[list[ast.stmt]]:
    """The statement lists directly under ``node`` (body, else, finally, handlers' bodies)."""
    return [
        value
        for name in ("body", "orelse", "finalbody")
        if isinstance(value := getattr(node, name, None), list)
    ]


def _checks(statement: ast.stmt) -> bool:
    """The statement asserts something (``assert``, or ``pytest.raises``/``warns``)."""
    return any(
        isinstance(n, ast.Assert) or _is_call_of(n, "raises") or _is_call_of(n, "warns")
        for n in ast.walk(statement)
    )


def _unchecked_returns(block: list[ast.stmt]) -> list[ast.Return]:
    """``return`` statements of ``block`` that no earlier statement of it checks before:
    an early return that skips the test's checks (a return after asserting is a branch)."""
    returns, checked = [], False
    for statement in block:
        if isinstance(statement, ast.Return) and not checked:
            returns.append(statement)
        checked = checked or _checks(statement)
    return returns


def _is_call_of(node: ast.AST, attribute: str) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == attribute
    )


def _collected_tests(tree: ast.Module) -> list[ast.AST]:
    """What pytest collects: ``test*`` functions of the module and of its ``Test*`` classes."""
    scopes = [tree.body] + [
        c.body for c in tree.body if isinstance(c, ast.ClassDef) and c.name.startswith("Test")
    ]
    return [
        node
        for body in scopes
        for node in body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name.startswith("test")
    ]


def silent_passes(source: str) -> list[str]:
    """``line: what`` for each way a test module can pass without checking under CI:
    a ``return`` or ``pytest.skip(...)`` in a ``test_*`` body, an un-gated ``skipif``."""
    tree = ast.parse(source)
    found = []
    for test in _collected_tests(tree):
        for inner in [test, *_own_nodes(test)]:
            if _is_call_of(inner, "skip"):
                found.append(f"{inner.lineno}: pytest.skip in {test.name}")
            for block in _blocks(inner):
                found += [f"{r.lineno}: return in {test.name}" for r in _unchecked_returns(block)]
    for node in ast.walk(tree):
        if _is_call_of(node, "skipif"):
            condition = ast.get_source_segment(source, node) or ""
            if not any(gate in condition for gate in GATES):
                found.append(f"{node.lineno}: un-gated skipif")
    return sorted(found, key=lambda item: int(item.split(":")[0]))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            "def test_a():\n    if x is None:\n        return\n    assert x\n",
            ["3: return in test_a"], id="early-return",
        ),
        pytest.param(
            "def test_a():\n    if x is None and not REQUIRE_X:\n        return  # skip\n",
            ["3: return in test_a"], id="gated-early-return",
        ),
        pytest.param(
            "import pytest\ndef test_a():\n    pytest.skip('no tool')\n",
            ["3: pytest.skip in test_a"], id="skip-in-body",
        ),
        pytest.param(
            "def test_a():\n    def inner():\n        return 1\n    assert inner()\n",
            [], id="nested-return",
        ),
        pytest.param(
            "def test_a():\n    assert a\n    if x:\n        return\n    assert b\n",
            ["4: return in test_a"], id="return-skips-later-checks",
        ),
        pytest.param(
            "def test_a():\n    if x:\n        assert not p\n        return\n    assert p\n",
            [], id="checked-branch-returns",
        ),
        pytest.param(
            "def test_a():\n    try:\n        f()\n    finally:\n        return\n",
            ["5: return in test_a"], id="return-in-finally",
        ),
        pytest.param(
            "def helper():\n    return 1\n", [], id="helper-return",
        ),
        pytest.param(
            "class Model:\n    def test_step(self):\n        return 1\n", [], id="not-a-test",
        ),
        pytest.param(
            "class TestA:\n    def test_b(self):\n        return\n",
            ["3: return in test_b"], id="test-class-method",
        ),
        pytest.param(
            "@pytest.mark.skipif(shutil.which('pdflatex') is None, reason='x')\n"
            "def test_a():\n    assert 1\n",
            ["1: un-gated skipif"], id="ungated-pdflatex",
        ),
        pytest.param(
            "@pytest.mark.skipif(\n    shutil.which('shellcheck') is None and not REQUIRE_SC,"
            "\n    reason='x')\ndef test_a():\n    assert 1\n",
            [], id="gated-shellcheck",
        ),
        pytest.param(
            "mark = pytest.mark.skipif(not under_ci() and CHROMIUM is None, reason='x')\n",
            [], id="gated-under-ci",
        ),
    ],
)  # fmt: skip
def test_silent_passes_finds_early_returns_and_ungated_skips(
    source: str, expected: list[str]
) -> None:
    assert silent_passes(source) == expected


def test_no_test_passes_silently_under_ci() -> None:
    """No test module returns early, skips in a body, or skips a required tool un-gated."""
    tests = Path(__file__).parent
    offenders = [
        f"{path.relative_to(tests)}:{item}"
        for path in sorted(tests.rglob("*.py"))
        if path.name != "test_ci_gate.py"
        for item in silent_passes(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, f"tests that pass without checking under CI: {offenders}"
