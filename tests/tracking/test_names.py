"""Display names of sbr's MLflow runs (pure: no store)."""

from __future__ import annotations

import pytest

from sbr.tracking.names import MAX_RUN_NAME, compress_rows, cut, parent_name, run_name

T4 = [f"table4/row{n}" for n in range(2, 7)]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (["table2/row4", "table3/row4", *T4], "T2 r4, T3 r4, T4 r2-r6"),
        (["table4/row3"], "T4 r3"),
        (["table4/row2", "table4/row3"], "T4 r2-r3"),
        (["table4/row1", "table4/row3", "table4/row4", "table4/row5"], "T4 r1,r3-r5"),
        (["table4/row3", "table4/row2"], "T4 r3,r2"),  # the order given, no sorting
        (["table4/row2", "table2/row1", "table4/row3"], "T4 r2-r3, T2 r1"),
        (["tiny/good", "tiny/variant"], "tiny good,variant"),
        (["table11/grid-1", "table11/row2"], "T11 grid-1,r2"),
        (["table4/row3", "table4/row3"], "T4 r3"),
        ([], ""),
    ],
    ids=[
        "shared-training",
        "one-row",
        "two-in-a-row",
        "gap",
        "order-kept",
        "tables-in-first-seen-order",
        "user-ablation",
        "grid-ids",
        "duplicates",
        "no-rows",
    ],
)
def test_compress_rows(rows: list[str], expected: str) -> None:
    assert compress_rows(rows) == expected


@pytest.mark.parametrize(
    ("label", "rows", "seed", "expected"),
    [
        ("R³-CNN", ["table2/row4", "table3/row4", *T4], 1, "R³-CNN · T2 r4, T3 r4, T4 r2-r6 · s1"),
        ("R³-CNN L_e=2", ["table4/row3"], 1, "R³-CNN L_e=2 · T4 r3 · s1"),
        ("Mask", ["table4/row1"], 0, "Mask · T4 r1 · s0"),
    ],
    ids=["training", "evaluation-variant", "seed-0"],
)
def test_run_name(label: str, rows: list[str], seed: int, expected: str) -> None:
    assert run_name(label, rows, seed) == expected


def test_a_long_row_list_is_cut_and_the_seed_stays() -> None:
    rows = [f"table{t}/row{r}" for t in range(2, 12) for r in range(1, 40, 2)]
    name = run_name("R³-CNN", rows, 2)
    assert len(name) == MAX_RUN_NAME
    assert name.startswith("R³-CNN · T2 r1,r3,") and name.endswith("… · s2")


def test_a_huge_label_is_cut_to_the_limit() -> None:
    name = run_name("x" * 300, ["table4/row1"], 0)
    assert len(name) == MAX_RUN_NAME and name.endswith("…")


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ((["table4"], ["mini"], ["synth"], "2026-12-03"), "table4 · mini · synth · 2026-12-03"),
        (
            (["table2", "table3"], ["paper"], ["COCO"], "2026-12-03"),
            "table2,table3 · paper · COCO · 2026-12-03",
        ),
        ((["table4"], ["mini"], [], "2026-12-03"), "table4 · mini · 2026-12-03"),
    ],
    ids=["one-table", "two-tables", "dataset-from-the-config"],
)
def test_parent_name(parts: tuple, expected: str) -> None:
    assert parent_name(*parts) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [("abcdef", 6, "abcdef"), ("abcdefg", 6, "abcde…"), ("abc", 1, "…")],
    ids=["fits", "cut", "tiny-limit"],
)
def test_cut(text: str, limit: int, expected: str) -> None:
    assert cut(text, limit) == expected
