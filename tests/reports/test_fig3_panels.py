"""Fig. 3: which runs give the panels, each loop's positive share, and the caption."""

from __future__ import annotations

import pytest

from sbr.reports.fig3 import FIG3_ROWS, fig3_caption, fig3_figure, share_above

BINS = [round(0.1 * i, 1) for i in range(11)]


def test_panels_prefer_the_papers_rows_then_fall_back_to_any_tables_baseline() -> None:
    panels = {}
    for title, table, row in FIG3_ROWS:
        panels.setdefault(title, []).append(f"{table}/{row}")
    assert list(panels) == ["Mask R-CNN", "R³-CNN"]
    assert panels["Mask R-CNN"][0] == "table2/row2"  # the paper plots Mask R-CNN 3x
    assert panels["R³-CNN"][0] == "table2/row4"  # B0
    assert "table4/row1" in panels["Mask R-CNN"] and "table4/row4" in panels["R³-CNN"]


@pytest.mark.parametrize(
    ("counts", "share"),
    [([1] * 10, 0.5), ([0] * 5 + [2] * 5, 1.0), ([3] * 5 + [0] * 5, 0.0), ([0] * 10, 0.0)],
    ids=["uniform", "all-above", "all-below", "empty"],
)
def test_share_above(counts, share) -> None:
    assert share_above({"loop 1": counts}, BINS, 0.5) == {"loop 1": pytest.approx(share)}


def test_share_above_needs_a_bin_edge() -> None:
    with pytest.raises(ValueError, match="not a bin edge"):
        share_above({"loop 1": [1] * 10}, BINS, 0.55)


@pytest.mark.parametrize(
    ("presets", "datasets", "words"),
    [
        (["paper"], ["coco"], "(paper recipe)"),
        (["mini", "mini"], ["synth"], "Preset mini: a CPU-scale recipe on the synth data"),
        (["smoke", "mini"], [], "Preset mini, smoke"),
        ([""], [""], "Preset unknown"),
    ],
    ids=["paper", "mini", "mixed", "untagged"],
)
def test_caption_says_where_the_numbers_come_from(presets, datasets, words) -> None:
    caption = fig3_caption(presets, datasets)
    assert words in caption
    assert ("not the paper's COCO training" in caption) is (presets != ["paper"])


def test_legend_gives_each_loops_share_and_the_figure_its_caption() -> None:
    hist = {
        "bins": BINS,
        "loops": {"loop0/pass0": [1] * 10, "loop1/pass0": [0] * 5 + [1] * 5},
    }
    fig = fig3_figure({"R³-CNN": hist}, caption="from the mini preset")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["loop 1 (50.0% >= 0.5)", "loop 2 (100.0% >= 0.5)"]
    assert fig._suptitle.get_text() == "from the mini preset"
