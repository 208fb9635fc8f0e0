"""``sbr data``: synthetic COCO data, dataset checks and ``dataset.yaml`` (the data work)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def data() -> None:
    """Create, check and describe COCO-format datasets."""


@data.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Dataset root to write (annotations/, train/, val/).",
)
@click.option(
    "--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Random seed."
)
@click.option(
    "--images", default=128, show_default=True, type=click.IntRange(min=0), help="Training images."
)
@click.option(
    "--val-images",
    default=None,
    type=click.IntRange(min=0),
    help="Validation images  [default: max(8, images // 4)]",
)
@click.option(
    "--size", default=160, show_default=True, type=click.IntRange(min=32), help="Image side (px)."
)
def synth(out: Path, seed: int, images: int, val_images: int | None, size: int) -> None:
    """Write a synthetic COCO dataset (deterministic per seed).

    Shapes (rectangle, ellipse, triangle, star) over textured backgrounds, with
    occlusion-aware polygons, in OUT/annotations/instances_{train,val}.json and
    OUT/{train,val}/*.jpg.
    """
    from sbr.data.synth import synthesize

    summary = synthesize(out, seed=seed, images=images, val_images=val_images, size=size)
    parts = [f"Wrote synthetic COCO data (seed {seed}, {size}x{size} px) to {out}."]
    for split, stats in summary["splits"].items():
        classes = ", ".join(f"{k} {v}" for k, v in stats["instances"].items())
        areas = ", ".join(f"{k} {v}" for k, v in stats["areas"].items())
        parts.append(
            f"{split}: {stats['images']} images in {out / split} "
            f"({stats['empty_images']} without objects), annotations {stats['ann_file']}, "
            f"{sum(stats['instances'].values())} instances ({classes}; areas {areas})."
        )
    click.echo(" ".join(parts))


@data.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--img-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Image folder when PATH is one annotation file [default: the split's folder].",
)
@click.option(
    "--decode/--no-decode",
    default=None,
    help="Fully decode every image, or only read headers [default: decode up to 5000 images].",
)
def check(path: Path, img_dir: Path | None, decode: bool | None) -> None:
    """Check a COCO dataset (root folder or one annotation file).

    Prints one line per problem kind and exits 1, or prints a summary and exits 0.
    """
    from sbr.data.check import check_dataset
    from sbr.data.layout import DataError, dataset_classes, detect_layout, format_classes

    try:
        report = check_dataset(path, img_dir=img_dir, decode=decode)
    except ValueError as err:
        raise click.UsageError(str(err)) from err
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        raise SystemExit(1)
    if path.is_dir():  # what an ablation on this root trains on
        try:
            layout = detect_layout(path)
            classes = dataset_classes(layout)
        except DataError as err:
            click.echo(f"error: {err}", err=True)
            raise SystemExit(1) from None
        click.echo(
            f"layout {layout.source}: train {layout.train.ann_file} + {layout.train.img_dir}, "
            f"val {layout.val.ann_file} + {layout.val.img_dir}; "
            f"{len(classes)} classes: {format_classes(classes)}"
        )


@data.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing dataset.yaml.")
def init(root: Path, force: bool) -> None:
    """Write ROOT/dataset.yaml from the annotation files and image folders found in ROOT.

    \b
    dataset.yaml declares the splits sbr trains (train) and evaluates (val) on:
      name: my-data                # optional; report captions name it
      train: {ann_file: labels/train.json, img_dir: images/train/}
      val:   {ann_file: labels/valid.json, img_dir: images/valid/}
    Paths are relative to ROOT. A COCO layout (annotations/instances_{train,val}[2017].json
    with {train,val}[2017]/) needs no dataset.yaml; init writes it out all the same.
    """
    from sbr.data.layout import DataError, dataset_classes, format_classes, init_dataset_yaml

    try:
        file, layout = init_dataset_yaml(root, force=force)
        classes = dataset_classes(layout)
    except DataError as err:
        click.echo(f"error: {err}", err=True)
        raise SystemExit(2) from None
    click.echo(f"wrote {file}")
    for split in layout.splits:
        click.echo(f"  {split.name}: {split.ann_file} + {split.img_dir}")
    click.echo(f"  {len(classes)} classes: {format_classes(classes)}")
