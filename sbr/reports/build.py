"""I/O edge of the reports: read the tracking store, write tables, figures and the index.

Layout under ``out`` (default ``reports/``)::

    tables/tableN.tex, tables/tableN.csv      (leading comment: provenance)
    claims/claims.csv, claims/claims.tex      (the paper's claims, judged)
    figures/fig1.png|pdf|json, figures/fig3.png|pdf|json  (.json: provenance sidecar)
    provenance.json                           (manifest: every output so far)
    index.md, index.html
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sbr import __version__
from sbr.reports import latex
from sbr.reports.aggregate import run_ids_of, summarize
from sbr.reports.index import index_html, index_markdown
from sbr.reports.plots import effects_figure, reproduced_vs_paper_figure
from sbr.reports.significance import (
    CI_NO_DATA,
    TableSamples,
    ci_points,
    effect_points,
    mlflow_loader,
    with_intervals,
)
from sbr.reports.tables import TABLE_NAMES, file_hash, load_layout

MANIFEST = "provenance.json"


def provenance(command: str, **extra: Any) -> dict[str, Any]:
    """The provenance entries every output records (command, version, time, extras)."""
    stamp = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    return {"command": command, "sbr_version": __version__, "generated": stamp, **extra}


def _record(out: Path, name: str, entry: dict[str, Any]) -> None:
    path = out / MANIFEST
    manifest = json.loads(path.read_text()) if path.is_file() else {}
    manifest[name] = entry
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def write_index(out: Path) -> list[Path]:
    """Rewrite ``index.md`` and ``index.html`` from the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / MANIFEST
    entries = json.loads(path.read_text()) if path.is_file() else {}
    (out / "index.md").write_text(index_markdown(entries))
    frames = _table_frames(out, entries)
    claims = frames.pop("claims", None)
    (out / "index.html").write_text(index_html(entries, tables=frames, claims=claims))
    return [out / "index.md", out / "index.html"]


def other_dataset(run_ids: Sequence[str], datasets: Mapping[str, str] | None) -> str | None:
    """The names of the non-COCO datasets the runs trained on (None: COCO or unknown)."""
    names = dict.fromkeys((datasets or {}).get(r, "") for r in run_ids)
    others = [n for n in names if n and n != "COCO"]
    return ", ".join(others) or None


def other_preset(run_ids: Sequence[str], presets: Mapping[str, str] | None) -> str | None:
    """The presets of the runs that are not the paper's recipe (None: paper, or unknown)."""
    from sbr.reports.fig3 import PAPER_PRESETS

    names = dict.fromkeys((presets or {}).get(r, "") for r in run_ids)
    others = [n for n in names if n and n not in PAPER_PRESETS]
    return ", ".join(others) or None


def build_table(
    name: str,
    tidy: pd.DataFrame,
    *,
    out: Path,
    command: str,
    tracking_uri: str | None,
    datasets: Mapping[str, str] | None = None,
    presets: Mapping[str, str] | None = None,
    ci: bool = False,
    samples_of: TableSamples | None = None,
) -> list[Path]:
    """Write ``tables/<name>.tex``, ``.csv`` and ``_wide.csv`` and record them in the manifest.

    ``ci`` prints each value's 95% bootstrap interval in the LaTeX cells (``--ci``).
    ``samples_of`` shares the resampled per-image data with other reports of the same
    run (default: read from ``tracking_uri`` for this table alone).

    ``datasets`` maps run ids to their ``sbr.dataset_name`` tag: a table of runs on
    another dataset than COCO names it in the caption and the provenance. ``presets``
    maps them to their ``sbr.preset``: runs of another recipe than ``paper`` say so too.
    """
    layout = layout_for_runs(name, tidy, presets)
    summary = summarize(tidy, layout)
    samples_of = samples_of or TableSamples(mlflow_loader(tracking_uri))
    # bootstrap CIs from the runs' per-image data
    summary = with_intervals(summary, layout, samples_of, show_ci=ci)
    run_ids = run_ids_of(summary)
    dataset = other_dataset(run_ids, datasets)
    preset = other_preset(run_ids, presets)
    prov = provenance(
        command,
        spec=layout.spec_file,
        spec_hash=layout.spec_hash,
        tracking_uri=tracking_uri or "",
        mlflow_runs=run_ids,
        **({"dataset": dataset} if dataset else {}),
        **({"preset": preset} if preset else {}),
    )
    folder = out / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    tex, csv = folder / f"{name}.tex", folder / f"{name}.csv"
    wide = folder / f"{name}_wide.csv"
    tex.write_text(latex.table(summary, layout, provenance=prov, dataset=dataset, preset=preset))
    csv.write_text(latex.table_csv(summary, layout, provenance=prov))
    wide.write_text(latex.wide_csv(summary, layout, provenance=prov))
    figure_files = _table_figure(
        summary, layout, preset, out / "figures" / f"{name}_vs_paper", prov
    )
    files = [p.relative_to(out).as_posix() for p in (tex, csv, wide, *figure_files)]
    entry = {"title": layout.title, "files": files, "provenance": prov}
    _record(out, name, entry | {"notes": _table_notes(summary, preset)})
    return [tex, csv, wide, *figure_files]


def _table_notes(summary: pd.DataFrame, preset: str | None) -> list[str]:
    """The index's notes on a table: missing values, rows without intervals, the recipe."""
    missing = int((summary["status"] != "ok").sum()) if not summary.empty else 0
    notes = [f"{missing} cell(s) without a reproduced value"] if missing else []
    no_data = summary.get("ci_status", pd.Series(dtype=object)) == CI_NO_DATA
    if no_data.any():
        rows = ", ".join(dict.fromkeys(summary.loc[no_data, "row"]))
        notes.append(f"no per-image evaluation data (no interval) for {rows}")
    if preset:
        notes.append(f"preset {preset}: a small-scale recipe, not the paper's training")
    return notes


def _table_figure(
    summary: pd.DataFrame, layout: Any, preset: str | None, stem: Path, prov: dict[str, Any]
) -> list[Path]:
    """Levels (reproduced vs paper AP) under the paper preset; effects under any other."""
    if preset:  # a small-scale recipe: levels differ from COCO's, effects can carry over
        points = effect_points(summary, layout)
        title = f"Table {layout.number}: effects, reproduced vs paper (paired 95% intervals)"
        return save_figure(effects_figure(points, title), stem, prov) if points else []
    points = ci_points(summary, layout)
    if not points:
        return []
    title = f"Table {layout.number}: reproduced vs paper (95% bootstrap intervals)"
    return save_figure(reproduced_vs_paper_figure(points, title), stem, prov)


def layout_for_runs(name: str, tidy: pd.DataFrame, presets: Mapping[str, str] | None) -> Any:
    """The table's layout with the seeds rule of its runs' preset where the spec sets none."""
    from dataclasses import replace

    from sbr.specs.claims import effective_min_seeds
    from sbr.specs.presets import load_preset
    from sbr.yamlspec.errors import SpecError

    layout = load_layout(name)
    if layout.spec_min_seeds is not None or not presets or tidy.empty:
        return layout
    run_ids = tidy.loc[tidy["table"] == name, "run_id"]
    names = {presets.get(r, "") for r in run_ids} - {""}
    if len(names) != 1:  # no runs, or runs of several presets: the default rule
        return layout
    try:
        preset = load_preset(names.pop())
    except (OSError, ValueError, SpecError):  # a preset file that is gone or elsewhere
        return layout
    return replace(layout, min_seeds=effective_min_seeds(None, preset))


def _claims_inputs(
    tidy: pd.DataFrame, samples_of: TableSamples, presets: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """:class:`sbr.reports.claims.TableData` of every table (claims may cross tables)."""
    from sbr.reports.claims import TableData

    tables = {}
    for name in TABLE_NAMES:
        layout = layout_for_runs(name, tidy, presets)
        summary = summarize(tidy, layout)
        tables[name] = TableData(layout, summary, samples_of(summary, layout))
    return tables


def build_claims(
    tidy: pd.DataFrame,
    *,
    out: Path,
    command: str,
    tracking_uri: str | None,
    datasets: Mapping[str, str] | None = None,
    presets: Mapping[str, str] | None = None,
    samples_of: TableSamples | None = None,
) -> list[Path]:
    """Write ``claims/claims.csv`` and ``claims.tex`` (every claim of the specs, judged).

    ``samples_of`` as in :func:`build_table`.
    """
    from sbr.reports import claims

    samples_of = samples_of or TableSamples(mlflow_loader(tracking_uri))
    tables = _claims_inputs(tidy, samples_of, presets)
    frame = claims.claims_frame(tables)
    run_ids = sorted({r for t in tables.values() for r in run_ids_of(t.summary)})
    dataset, preset = other_dataset(run_ids, datasets), other_preset(run_ids, presets)
    counts = claims.headline_counts(frame, [c for t in tables.values() for c in t.layout.claims])
    line = claims.headline_line(counts, dataset or "", preset or "")
    prov = provenance(command, tracking_uri=tracking_uri or "", mlflow_runs=run_ids)
    folder = out / "claims"
    folder.mkdir(parents=True, exist_ok=True)
    csv, tex = folder / "claims.csv", folder / "claims.tex"
    csv.write_text(claims.claims_csv(frame, latex.provenance_comment(prov, prefix="# ")))
    tex.write_text(claims.claims_tex(frame, latex.provenance_comment(prov)))
    entry = {
        "title": "Does the paper hold here? The paper's claims, judged",
        "files": [p.relative_to(out).as_posix() for p in (csv, tex)],
        "provenance": prov, "notes": [], "headline": line,
    }  # fmt: skip
    _record(out, "claims", entry)
    return [csv, tex]


def _table_frames(out: Path, entries: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The CSV of every table in the manifest (for the HTML index), by table name."""
    frames = {}
    for name, entry in entries.items():
        csv = next(  # the long CSV (one record per cell), not the wide one
            (f for f in entry.get("files", []) if f.endswith(".csv") and "_wide" not in f), None
        )
        if csv and (out / csv).is_file():
            frames[name] = pd.read_csv(out / csv, comment="#", keep_default_na=False,
                                       na_values=[""])  # fmt: skip
    return frames


def save_figure(fig: Any, stem: Path, prov: dict[str, Any]) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` (provenance in their metadata) and ``stem.json``."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(prov, sort_keys=True)
    png, pdf, side = stem.with_suffix(".png"), stem.with_suffix(".pdf"), stem.with_suffix(".json")
    fig.savefig(png, dpi=150, metadata={"Software": "sbr report", "Description": text})
    fig.savefig(
        pdf, metadata={"Creator": "sbr report", "Subject": prov["command"], "Keywords": text}
    )
    side.write_text(json.dumps(prov, indent=2, sort_keys=True) + "\n")
    return [png, pdf, side]


def _row_runs(tidy: pd.DataFrame, table: str, row: str) -> list[str]:
    """Finished training runs of a row, lowest seed first, newest first within a seed."""
    runs = tidy[
        (tidy["table"] == table)
        & (tidy["row"] == row)
        & (tidy["status"] == "finished")
        & (tidy["kind"] != "evaluation")
        & (tidy["kind"] != "ablation")
    ].drop_duplicates("run_id")
    runs = runs.assign(_seed=runs["seed"].fillna(-1).astype(float))
    runs = runs.sort_values(["_seed", "start_time"], ascending=[True, False])
    return [str(r) for r in runs["run_id"]]


def build_fig3(
    tidy: pd.DataFrame, *, out: Path, command: str, tracking_uri: str | None
) -> list[Path]:
    """Fig. 3 from the IoU histograms logged by the runs of :data:`FIG3_ROWS`.

    Returns no paths (and records a note) when no run has histograms.
    """
    from sbr.metrics import TAG_DATASET_NAME, TAG_PRESET
    from sbr.reports.fig3 import FIG3_ROWS, fig3_caption, fig3_figure
    from sbr.tracking.runs import latest_iou_histogram, run_tags

    histograms, run_ids, tags = {}, [], []
    for title, table, row in FIG3_ROWS:
        if title in histograms:  # an earlier (preferred) row gave this panel
            continue
        for run_id in _row_runs(tidy, table, row):
            hist = latest_iou_histogram(run_id, tracking_uri)
            if hist is not None:
                histograms[title], run_ids = hist, [*run_ids, run_id]
                tags.append(run_tags(run_id, tracking_uri))
                break
    title = "IoU distribution of training RoIs per loop"
    prov = provenance(command, tracking_uri=tracking_uri or "", mlflow_runs=run_ids)
    if not histograms:
        rows = ", ".join(f"{t}/{r}" for _, t, r in FIG3_ROWS)
        note = f"not generated: no run of {rows}"
        _record(out, "fig3", {"title": title, "files": [], "provenance": prov, "notes": [note]})
        return []
    caption = fig3_caption(
        [t.get(TAG_PRESET, "") for t in tags], [t.get(TAG_DATASET_NAME, "") for t in tags]
    )
    title = caption
    paths = save_figure(fig3_figure(histograms, caption=caption), out / "figures" / "fig3", prov)
    notes = [f"panel missing: {t}" for t in dict.fromkeys(t for t, _, _ in FIG3_ROWS)
             if t not in histograms]  # fmt: skip
    files = [p.relative_to(out).as_posix() for p in paths]
    _record(out, "fig3", {"title": title, "files": files, "provenance": prov, "notes": notes})
    return paths


def build_fig1(
    ann_file: Path,
    *,
    out: Path,
    command: str,
    config: str | None = None,
    allowed_border: float = -1,
    device: str = "cpu",
) -> tuple[list[Path], Any]:
    """Fig. 1 from an annotation file and a config's RPN anchor generator."""
    from sbr.reports.fig1 import (
        DEFAULT_CONFIG,
        anchor_coverage,
        default_anchor_generator,
        load_annotations,
    )
    from sbr.reports.plots import anchor_coverage_figure

    coco = load_annotations(ann_file)
    generator = default_anchor_generator(config)
    result = anchor_coverage(coco, generator, allowed_border=allowed_border, device=device)
    prov = provenance(
        command,
        annotations=str(ann_file),
        annotations_hash=file_hash(ann_file),
        config=config or DEFAULT_CONFIG,
        allowed_border=allowed_border,
        n_boxes=result.n_boxes,
        seconds=round(result.seconds, 3),
        mlflow_runs=[],
        percent_missing=[round(p, 3) for p in result.percent_missing],
    )
    fig = anchor_coverage_figure(result.bins, result.percent_missing)
    paths = save_figure(fig, out / "figures" / "fig1", prov)
    title = "GT boxes with no anchor per IoU bin"
    files = [p.relative_to(out).as_posix() for p in paths]
    _record(out, "fig1", {"title": title, "files": files, "provenance": prov, "notes": []})
    return paths, result


def _read_store(uri: str) -> tuple[pd.DataFrame, dict[str, str], dict[str, str]]:
    """The store's tidy results and, per run id, its dataset name and preset tags."""
    from sbr.metrics import TAG_DATASET_NAME, TAG_PRESET
    from sbr.tracking.runs import fetch_runs, runs_to_frame

    records = fetch_runs(uri)
    datasets = {r.run_id: r.tags.get(TAG_DATASET_NAME, "") for r in records}
    presets = {r.run_id: r.tags.get(TAG_PRESET, "") for r in records}
    return runs_to_frame(records), datasets, presets


def build_report(
    targets: Sequence[str],
    *,
    out: Path,
    command: str,
    tracking_uri: str | None = None,
    tidy: pd.DataFrame | None = None,
    ci: bool = False,
) -> list[Path]:
    """Write the named tables (``table2``...) and Fig. 3 (always refreshed), then the index.

    Args:
        targets: Table names, ``fig3`` and/or ``claims``; ``all`` = every table, Fig. 3
            and the claims.
        out: Output folder.
        command: The command line recorded as provenance.
        tracking_uri: MLflow store; None: ``$MLFLOW_TRACKING_URI`` or ``./mlflow.db``.
        tidy: Results frame to use instead of reading the store (tests).
        ci: Print each value's 95% bootstrap interval in the LaTeX (``--ci``).
    """
    from sbr.tracking.mlflow import resolve_tracking_uri

    names = [*TABLE_NAMES, "fig3", "claims"] if "all" in targets else list(dict.fromkeys(targets))
    if "fig3" not in names:
        # Fig. 3 draws from whichever runs recorded IoU histograms (R3-CNN and Mask R-CNN
        # rows of Tables 2-4): refresh it with every table, skipped when there are none.
        names.append("fig3")
    unknown = [n for n in names if n not in (*TABLE_NAMES, "fig3", "claims")]
    if unknown:
        raise ValueError(
            f"unknown report target(s) {unknown}; expected all, claims, fig3, table2..table11"
        )
    uri = resolve_tracking_uri(tracking_uri)
    tidy, datasets, presets = _read_store(uri) if tidy is None else (tidy, {}, {})
    out.mkdir(parents=True, exist_ok=True)
    samples_of = TableSamples(mlflow_loader(uri))  # each table resampled once, for all targets
    paths: list[Path] = []
    for name in names:
        if name == "fig3":
            paths += build_fig3(tidy, out=out, command=command, tracking_uri=uri)
        elif name == "claims":
            paths += build_claims(tidy, out=out, command=command, tracking_uri=uri,
                                  datasets=datasets, presets=presets,
                                  samples_of=samples_of)  # fmt: skip
        else:
            paths += build_table(name, tidy, out=out, command=command, tracking_uri=uri,
                                 datasets=datasets, presets=presets, ci=ci,
                                 samples_of=samples_of)  # fmt: skip
    return paths + write_index(out)


__all__ = [
    "MANIFEST",
    "build_claims",
    "build_fig1",
    "build_fig3",
    "build_report",
    "build_table",
    "other_dataset",
    "provenance",
    "save_figure",
    "write_index",
]
