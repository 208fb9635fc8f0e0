#!/usr/bin/env python3
"""Mutation testing without mutmut: flip one operator or constant at a time, run the tests.

Usage (from the repository root)::

    python scripts/mutate.py sbr/reports/bootstrap.py -- tests/reports/test_bootstrap.py -k "not x"
    python scripts/mutate.py sbr/specs/expand.py --functions expand,spec_rows -- tests/specs -q

The repository's files (tracked and untracked, not ignored: ``git ls-files``) are copied
to a temporary folder, so the working tree is never touched and other test runs can go on.
For every mutable node of the module (outside docstrings), one mutant is written over the
copy's module file, the given pytest arguments are run there (``python -m pytest -x -q
<args>``, the copy first on ``PYTHONPATH``), and the mutant is *killed* when pytest fails
or times out, *survived* when it passes. The last line is ``kill rate K/N = P%``; ``--json``
writes every mutant's outcome.

Mutations: comparison operators (``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``,
``is`` <-> ``is not``, ``in`` <-> ``not in``), arithmetic (``+`` <-> ``-``, ``*`` <-> ``/``,
``//`` -> ``/``, ``**`` -> ``*``), boolean operators (``and`` <-> ``or``), ``not x`` -> ``x``,
numeric constants (``0`` -> ``1``, ``n`` -> ``n + 1``, ``x`` -> ``x * 2`` for floats),
``True`` <-> ``False``, and unary minus removed.

Lines carrying the comment ``pragma: no mutate`` are left alone (tuning constants
such as a chunk size, whose mutants cannot change a result).

A mutant that does not change behaviour (an equivalent mutant) survives; read the
survivors (``--show``) before adding tests for them.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

_COMPARE = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip
_BINARY = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div, ast.Pow: ast.Mult, ast.Mod: ast.FloorDiv,
}  # fmt: skip


_NO_MUTATE = "pragma: no mutate"


@dataclass
class Mutant:
    """One mutation: where (line), what, and the outcome once run."""

    number: int
    line: int
    description: str
    outcome: str = ""
    seconds: float = 0.0


def _docstring_ids(tree: ast.AST) -> set[int]:
    """``id()`` of every docstring constant (never mutated)."""
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(id(value))
    return found


def _constant_change(value: object) -> object | None:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return 1 if value == 0 else value + 1
    if isinstance(value, float):
        return 1.0 if value == 0 else value * 2
    return None


def _changes(node: ast.AST) -> Iterator[tuple[str, str]]:
    """``(field path, description)`` of each mutation of ``node`` itself."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _COMPARE:
                yield f"ops.{i}", f"{type(op).__name__} -> {_COMPARE[type(op)].__name__}"
    elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _BINARY:
        yield "op", f"{type(node.op).__name__} -> {_BINARY[type(node.op)].__name__}"
    elif isinstance(node, ast.BoolOp):
        yield "op", f"{type(node.op).__name__} -> {'Or' if isinstance(node.op, ast.And) else 'And'}"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        yield "drop", f"{type(node.op).__name__} removed"
    elif isinstance(node, ast.Constant) and _constant_change(node.value) is not None:
        yield "value", f"{node.value!r} -> {_constant_change(node.value)!r}"


def _apply(node: ast.AST, change: str) -> ast.AST:
    """A mutated copy of ``node`` (its replacement in the tree)."""
    new = copy.copy(node)
    if change.startswith("ops."):
        index = int(change.split(".")[1])
        new.ops = list(node.ops)
        new.ops[index] = _COMPARE[type(node.ops[index])]()
    elif change == "op" and isinstance(node, ast.BoolOp):
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif change == "op":
        new.op = _BINARY[type(node.op)]()
    elif change == "drop":
        return node.operand
    elif change == "value":
        new.value = _constant_change(node.value)
    return new


def _in_functions(tree: ast.Module, names: set[str] | None) -> set[int]:
    """``id()`` of the nodes inside the named functions (all nodes when ``names`` is None)."""
    roots = [tree]
    if names:
        roots = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and n.name in names]  # fmt: skip
    return {id(node) for root in roots for node in ast.walk(root)}


def enumerate_mutants(source: str, functions: set[str] | None = None) -> list[tuple[int, str, str]]:
    """``(node index, change, description)`` of every mutant, in tree-walk order."""
    tree = ast.parse(source)
    skip = _docstring_ids(tree)
    inside = _in_functions(tree, functions)
    lines = source.splitlines()
    found = []
    for index, node in enumerate(ast.walk(tree)):
        if id(node) in skip or id(node) not in inside:
            continue
        line = getattr(node, "lineno", 0)
        if line and _NO_MUTATE in lines[line - 1]:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            continue
        for change, description in _changes(node):
            found.append((index, change, f"line {line}: {description}"))
    return found


def mutated_source(source: str, node_index: int, change: str) -> str:
    """The module's source with one mutation applied (re-generated by ``ast.unparse``)."""
    tree = ast.parse(source)
    nodes = list(ast.walk(tree))
    target = nodes[node_index]
    replacement = _apply(target, change)
    for parent in nodes:
        for name, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, name, replacement)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if item is target:
                        value[i] = replacement
    return ast.unparse(ast.fix_missing_locations(tree))


def copy_repository(target: Path) -> Path:
    """Copy the repository's tracked and untracked (not ignored) files under ``target``."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = Path(name)
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def run_tests(pytest_args: list[str], timeout: float, root: Path) -> tuple[str, float]:
    """``killed`` when pytest fails (or times out), ``survived`` when it passes."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    )
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *pytest_args],
            env=env, cwd=root, capture_output=True, timeout=timeout,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return "killed (timeout)", time.monotonic() - start
    outcome = "survived" if done.returncode == 0 else "killed"
    if done.returncode not in (0, 1):  # 2-5: interrupted, internal error, usage, no tests
        outcome = f"killed (pytest exit {done.returncode})"
    return outcome, time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", type=Path, help="Python file to mutate")
    parser.add_argument("pytest_args", nargs="+", help="pytest arguments (after --)")
    parser.add_argument(
        "--functions", help="comma-separated function names to mutate (default: all)"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    parser.add_argument("--max", type=int, default=0, help="run at most this many mutants")
    parser.add_argument(
        "--lines", help="comma-separated source lines: only their mutants (re-run survivors)"
    )
    parser.add_argument("--json", type=Path, help="write every mutant's outcome here")
    parser.add_argument("--show", action="store_true", help="print each mutant as it runs")
    args = parser.parse_args(argv)
    original = args.module.read_text()
    functions = set(args.functions.split(",")) if args.functions else None
    plan = enumerate_mutants(original, functions)
    if args.lines:
        wanted = {int(x) for x in args.lines.split(",")}
        plan = [p for p in plan if int(p[2].split()[1].rstrip(":")) in wanted]
    if args.max:
        plan = plan[: args.max]
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp:
        root = copy_repository(Path(tmp))
        baseline, _ = run_tests(args.pytest_args, args.timeout, root)
        if baseline != "survived":
            print(f"the tests fail on the unmutated module ({baseline})", file=sys.stderr)
            return 2
        mutants = []
        for number, (index, change, description) in enumerate(plan, 1):
            (root / args.module).write_text(mutated_source(original, index, change))
            outcome, seconds = run_tests(args.pytest_args, args.timeout, root)
            line = int(description.split()[1].rstrip(":"))
            mutants.append(Mutant(number, line, description, outcome, seconds))
            if args.show or outcome == "survived":
                print(f"[{number}/{len(plan)}] {outcome:9} {description}", flush=True)
    killed = sum(1 for m in mutants if m.outcome.startswith("killed"))
    if args.json:
        args.json.write_text(json.dumps([asdict(m) for m in mutants], indent=2) + "\n")
    rate = 100.0 * killed / len(mutants) if mutants else 0.0
    print(f"{args.module}: kill rate {killed}/{len(mutants)} = {rate:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
