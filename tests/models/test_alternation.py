"""Alternation strings -> head indices (pure, no torch)."""

import subprocess
import sys
from pathlib import Path

import pytest

import sbr.models.alternation as alternation_module
from sbr.models.alternation import format_alternation, parse_alternation, resolve_stages

PAPER_ALTERNATIONS = [
    ("ab", [0, 1]),
    ("abb", [0, 1, 1]),
    ("aab", [0, 0, 1]),
    ("aba", [0, 1, 0]),
    ("aabb", [0, 0, 1, 1]),
    ("abab", [0, 1, 0, 1]),
    ("aabbb", [0, 0, 1, 1, 1]),
    ("abc", [0, 1, 2]),
]


@pytest.mark.parametrize(
    ("spec", "expected"), PAPER_ALTERNATIONS, ids=[s for s, _ in PAPER_ALTERNATIONS]
)
def test_parse_paper_alternations(spec, expected):
    assert parse_alternation(spec) == expected
    assert format_alternation(expected) == spec


@pytest.mark.parametrize(
    ("spec", "position", "letter"),
    [("abz!", 3, "!"), ("aB", 1, "B"), ("a1", 1, "1"), ("a b", 1, " ")],
    ids=["punctuation", "uppercase", "digit", "space"],
)
def test_parse_rejects_bad_letters(spec, position, letter):
    with pytest.raises(
        ValueError, match=rf"stages: invalid letter '{letter}' at position {position}"
    ):
        parse_alternation(spec)


def test_parse_rejects_empty_string():
    with pytest.raises(ValueError, match="stages: the alternation string is empty"):
        parse_alternation("")


def test_resolve_accepts_longer_schedule_than_needed():
    assert resolve_stages("aabbb", num_heads=2, num_stages=3, num_stages_test=4) == [0, 0, 1, 1, 1]


def test_resolve_accepts_list_of_ints_and_tuple():
    assert resolve_stages([0, 1, 0], num_heads=2, num_stages=3) == [0, 1, 0]
    assert resolve_stages((0, 0, 0, 0), num_heads=1, num_stages=3, num_stages_test=4) == [0] * 4


def test_resolve_none_means_single_head_everywhere():
    assert resolve_stages(None, num_heads=1, num_stages=2, num_stages_test=5) == [0] * 5


def test_resolve_none_with_two_heads_is_an_error():
    with pytest.raises(ValueError, match="stages is required when there are 2 head pairs"):
        resolve_stages(None, num_heads=2, num_stages=3)


def test_resolve_rejects_letter_without_head():
    with pytest.raises(ValueError, match=r"loop 2 asks for head 25 \('z'\) but only H=2"):
        resolve_stages("abz", num_heads=2, num_stages=3)


def test_resolve_rejects_head_b_with_one_head():
    with pytest.raises(ValueError, match=r"loop 1 asks for head 1 \('b'\) but only H=1"):
        resolve_stages("ab", num_heads=1, num_stages=2)


@pytest.mark.parametrize(
    ("num_stages", "num_stages_test", "needed"),
    [(3, 2, 3), (2, 4, 4)],
    ids=["train-longer", "test-longer"],
)
def test_resolve_rejects_too_short_schedule(num_stages, num_stages_test, needed):
    with pytest.raises(ValueError, match=rf"has 2 entries but must cover .* = {needed} loops"):
        resolve_stages("ab", num_heads=2, num_stages=num_stages, num_stages_test=num_stages_test)


@pytest.mark.parametrize(
    ("stages", "message"),
    [([0, -1], "entry 1 is -1"), ([0, 1.0], "entry 1 is 1.0"), ([True, 0], "entry 0 is True")],
    ids=["negative", "float", "bool"],
)
def test_resolve_rejects_bad_list_entries(stages, message):
    with pytest.raises(ValueError, match=rf"stages: {message}"):
        resolve_stages(stages, num_heads=2, num_stages=2)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(num_heads=0, num_stages=1), "num_heads"),
        (dict(num_heads=1, num_stages=0), "num_stages"),
        (dict(num_heads=1, num_stages=1, num_stages_test=0), "num_stages_test"),
    ],
    ids=["heads", "train-loops", "test-loops"],
)
def test_resolve_rejects_non_positive_counts(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must be a positive integer"):
        resolve_stages("a", **kwargs)


def test_alternation_module_is_pure_python():
    # Load the file on its own (not through the sbr.models package, which registers
    # the torch modules) in a fresh interpreter and check torch stays unloaded.
    path = Path(alternation_module.__file__)
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('alt', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "assert module.parse_alternation('aab') == [0, 0, 1]\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
