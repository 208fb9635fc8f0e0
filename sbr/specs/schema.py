"""The ablation-spec schema: frozen dataclasses and a small explicit validator.

A spec file (``ablations/table2.yaml``) is parsed by :mod:`sbr.yamlspec.loader` into
line-tracking dicts, then checked here key by key: unknown keys are rejected with
close-match suggestions, wrong types name what was expected, and every error
carries ``file:line`` and the key path (:class:`~sbr.yamlspec.errors.SpecError`).
The format is documented in ``ablations/README.md``.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sbr.specs.checks import (
    INT,
    LIST,
    MAPPING,
    OPT_STR,
    PAPER_VALUE,
    POS_INT,
    POS_NUMBER,
    STR,
    Kind,
    Path_,
    check_keys,
    describe,
    expect,
    get,
    is_int,
    is_number,
    loc_of,
    plain,
)
from sbr.specs.claims import Claim, PaperLookup, PaperRows, parse_claims
from sbr.yamlspec.errors import Loc, SpecError, format_key

SCHEMA_VERSION = 1
#: Paper columns whose value is a configuration fact checked against the composed config.
STRUCTURAL_COLUMNS = ("L_t", "L_e", "H", "Alt")
#: Name of the paper column holding the inference speed (img/s), used by cost estimates.
SPEED_COLUMN = "Speed"


@dataclass(frozen=True)
class Override:
    """One dotted config override.

    Attributes:
        path: Dotted key (``model.roi_head.num_stages``); list items by index
            (``param_scheduler.1.end``).
        value: Plain YAML value (dicts and lists included).
        new: True when the spec wrote ``+path``: the key may be absent from the config.
        loc: Where the key is written (not part of equality).
    """

    path: str
    value: Any
    new: bool = False
    loc: Loc | None = field(default=None, compare=False)

    def as_pair(self) -> tuple[str, Any]:
        """``(path, value)`` as ``Config.merge_from_dict`` takes it."""
        return self.path, self.value


@dataclass(frozen=True)
class Row:
    """One row of a paper table (or of a user ablation).

    Attributes:
        id: Unique id inside the spec (``row4``).
        label: The label as the paper prints it.
        config: Base MMEngine config, a path or a name relative to ``sbr/configs``.
        overrides: Training overrides: part of the trial identity.
        eval_overrides: Evaluation-only overrides (e.g. L_e): NOT part of the trial identity.
        schedule: Key of the preset's ``schedules`` (None: the spec default).
        paper: The paper's printed values, column -> number/str/None (None = lost in the paper).
        assumed_speed: img/s used for cost estimates when the paper prints no speed.
        note: Free text (paper vs code choices, readings of garbled cells).
        loc: Where the row starts.
    """

    id: str
    label: str
    config: str
    overrides: tuple[Override, ...] = ()
    eval_overrides: tuple[Override, ...] = ()
    schedule: str | None = None
    paper: tuple[tuple[str, Any], ...] = ()
    assumed_speed: float | None = None
    note: str = ""
    loc: Loc | None = field(default=None, compare=False)
    field_locs: Mapping[str, Loc] = field(default_factory=dict, compare=False)

    @property
    def paper_values(self) -> dict[str, Any]:
        """The paper's values as a dict (column order kept)."""
        return dict(self.paper)

    def loc_of(self, key: str) -> Loc | None:
        """Location of one of the row's keys (falls back to the row itself)."""
        return self.field_locs.get(key, self.loc)


@dataclass(frozen=True)
class Grid:
    """A product of axes: one row per combination of the axis values.

    Attributes:
        id: Prefix of the generated row ids (``<id>-1``, ``<id>-2``...).
        label: Prefix of the generated labels (the axis values are appended).
        config: Base config of every generated row.
        axes: Training axes, dotted path -> values.
        eval_axes: Evaluation-only axes (each combination is one more evaluation).
        overrides / eval_overrides / schedule / assumed_speed / note: as in :class:`Row`.
    """

    id: str
    label: str
    config: str
    axes: tuple[tuple[Override, tuple[Any, ...]], ...] = ()
    eval_axes: tuple[tuple[Override, tuple[Any, ...]], ...] = ()
    overrides: tuple[Override, ...] = ()
    eval_overrides: tuple[Override, ...] = ()
    schedule: str | None = None
    assumed_speed: float | None = None
    note: str = ""
    loc: Loc | None = field(default=None, compare=False)
    field_locs: Mapping[str, Loc] = field(default_factory=dict, compare=False)

    def row_ids(self) -> tuple[str, ...]:
        """Ids of the generated rows, ``<id>-1``... one per combination of all axes
        (the rows themselves: :func:`sbr.specs.expand.grid_rows`)."""
        count = math.prod(len(values) for _, values in (*self.axes, *self.eval_axes))
        return tuple(f"{self.id}-{number}" for number in range(1, count + 1))


@dataclass(frozen=True)
class Defaults:
    """Settings every spec inherits from ``ablations/defaults.yaml`` (a spec may override them).

    Attributes:
        preset: Preset used when the command line names none.
        data_root: Dataset root; None = the preset's.
        schedule: Default schedule name (a key of the preset's ``schedules``).
        seeds: Seeds every row is repeated with.
        resources: Resources per trial (for the execution layer), e.g. ``{gpus: 8, cpus: 16}``.
        assumed_speed: img/s for cost estimates when neither the row nor the paper gives one.
    """

    preset: str = "paper"
    data_root: str | None = None
    schedule: str = "1x"
    seeds: tuple[int, ...] = (0,)
    resources: tuple[tuple[str, float], ...] = ()
    assumed_speed: float = 3.4


@dataclass(frozen=True)
class AblationSpec:
    """A parsed spec file: one paper table or one user ablation."""

    name: str
    file: str
    title: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[Row, ...] = ()
    grids: tuple[Grid, ...] = ()
    seeds: tuple[int, ...] | None = None
    defaults: Defaults = Defaults()
    notes: str = ""
    schema_version: int = SCHEMA_VERSION
    #: Row the reports compare every row with (paired bootstrap); None: the first row.
    reference: str | None = None
    #: The paper's comparisons between rows (:mod:`sbr.specs.claims`).
    claims: tuple[Claim, ...] = ()
    #: Seeds per side a cross-training claim needs (None: the preset's, else the default;
    #: :func:`sbr.specs.claims.effective_min_seeds`).
    min_seeds: int | None = None


def parse_overrides(node: Any, path: Path_) -> tuple[Override, ...]:
    """A mapping of dotted paths to values -> overrides (``+path`` marks a new key)."""
    if node is None:
        return ()
    expect(node, MAPPING, where=loc_of(node), path=path)
    result = []
    for key, value in node.items():
        where = loc_of(node, key)
        if not isinstance(key, str) or not key.lstrip("+"):
            raise SpecError(where, format_key((*path, str(key))), "expected a dotted config key")
        dotted = key.lstrip("+")
        if any(not part for part in dotted.split(".")):
            raise SpecError(where, format_key((*path, key)), "empty segment in the dotted key")
        result.append(Override(dotted, plain(value), key.startswith("+"), where))
    return tuple(result)


def parse_seeds(value: Any, *, where: Loc | None, path: Path_) -> tuple[int, ...]:
    """``3`` -> ``(0, 1, 2)``; a list of integers is kept as is (duplicates rejected)."""
    if is_int(value):
        if value < 1:
            raise SpecError(where, format_key(path), f"expected a positive integer, got {value}")
        return tuple(range(value))
    expect(
        value,
        Kind(lambda v: isinstance(v, list) and v != [], "an integer or a list"),
        where=where,
        path=path,
    )
    for index, seed in enumerate(value):
        expect(seed, INT, where=loc_of(value, index), path=(*path, index))
    if len(set(value)) != len(value):
        raise SpecError(where, format_key(path), f"duplicate seeds in {list(value)}")
    return tuple(value)


def _field_locs(node: dict) -> dict[str, Loc]:
    return {str(k): loc for k in node if (loc := loc_of(node, k)) is not None}


def check_config_exists(name: str, *, where: Loc | None, path: Path_) -> str:
    """Reject a base config that is neither a file nor shipped in ``sbr/configs``."""
    from sbr.engine.config import CONFIG_ROOT, resolve_config_path

    try:
        resolve_config_path(name)
    except FileNotFoundError:
        shipped = [
            str(p.relative_to(CONFIG_ROOT))
            for p in CONFIG_ROOT.rglob("*.py")
            if "_base_" not in p.parts
        ]
        close = difflib.get_close_matches(name, shipped, n=2, cutoff=0.5)
        raise SpecError(
            where,
            format_key(path),
            f"unknown base config {name!r} (not a file, not in sbr/configs)",
            close,
        ) from None
    return name


_ROW_KEYS = (
    "id", "label", "config", "schedule", "overrides", "eval_overrides",
    "paper", "assumed_speed", "note",
)  # fmt: skip


def parse_paper(node: Any, columns: Sequence[str], path: Path_) -> tuple[tuple[str, Any], ...]:
    """The paper's printed values of a row; keys must be declared in the spec's ``columns``."""
    if node is None:
        return ()
    expect(node, MAPPING, where=loc_of(node), path=path)
    check_keys(node, path, list(columns))
    return tuple((key, get(node, key, PAPER_VALUE, path)) for key in node)


def parse_row(node: Any, index: int, columns: Sequence[str], where: Loc | None = None) -> Row:
    """One entry of ``rows`` (``where``: the item's location in the list)."""
    path: Path_ = ("rows", index)
    expect(node, MAPPING, where=where, path=path)
    check_keys(node, path, _ROW_KEYS, required=("label", "config"))
    config = get(node, "config", STR, path)
    check_config_exists(config, where=loc_of(node, "config"), path=(*path, "config"))
    return Row(
        id=str(
            get(
                node,
                "id",
                Kind(lambda v: isinstance(v, (str, int)), "a string"),
                path,
                f"row{index + 1}",
            )
        ),
        label=get(node, "label", STR, path),
        config=config,
        overrides=parse_overrides(node.get("overrides"), (*path, "overrides")),
        eval_overrides=parse_overrides(node.get("eval_overrides"), (*path, "eval_overrides")),
        schedule=get(node, "schedule", STR, path),
        paper=parse_paper(node.get("paper"), columns, (*path, "paper")),
        assumed_speed=get(node, "assumed_speed", POS_NUMBER, path),
        note=get(node, "note", OPT_STR, path, "") or "",
        loc=loc_of(node),
        field_locs=_field_locs(node),
    )


def _parse_axes(node: Any, path: Path_) -> tuple[tuple[Override, tuple[Any, ...]], ...]:
    axes = []
    for override in parse_overrides(node, path):
        values = override.value
        if not isinstance(values, list) or not values:
            raise SpecError(
                override.loc,
                format_key((*path, override.path)),
                "expected a non-empty list of values",
            )
        axes.append((Override(override.path, None, override.new, override.loc), tuple(values)))
    return tuple(axes)


_GRID_KEYS = (
    "id", "label", "config", "axes", "eval_axes", "overrides", "eval_overrides",
    "schedule", "assumed_speed", "note",
)  # fmt: skip


def parse_grid(node: Any, index: int, where: Loc | None = None) -> Grid:
    """One entry of ``grids``: a product of axes."""
    path: Path_ = ("grids", index)
    expect(node, MAPPING, where=where, path=path)
    check_keys(node, path, _GRID_KEYS, required=("id", "config", "axes"))
    config = get(node, "config", STR, path)
    check_config_exists(config, where=loc_of(node, "config"), path=(*path, "config"))
    grid_id = str(get(node, "id", STR, path))
    return Grid(
        id=grid_id,
        label=get(node, "label", STR, path, grid_id),
        config=config,
        axes=_parse_axes(node.get("axes"), (*path, "axes")),
        eval_axes=_parse_axes(node.get("eval_axes"), (*path, "eval_axes")),
        overrides=parse_overrides(node.get("overrides"), (*path, "overrides")),
        eval_overrides=parse_overrides(node.get("eval_overrides"), (*path, "eval_overrides")),
        schedule=get(node, "schedule", STR, path),
        assumed_speed=get(node, "assumed_speed", POS_NUMBER, path),
        note=get(node, "note", OPT_STR, path, "") or "",
        loc=loc_of(node),
        field_locs=_field_locs(node),
    )


#: Keys of a ``resources`` mapping (per trial).
RESOURCE_KEYS = ("cpus", "gpus", "workers")
NON_NEG_NUMBER = Kind(lambda v: is_number(v) and v >= 0, "a non-negative number")


def parse_resources(node: Any, path: Path_) -> tuple[tuple[str, float], ...]:
    """A ``resources`` mapping: ``cpus``, ``gpus`` (all workers together), ``workers``.

    ``workers`` (default: one per GPU) data-parallel processes share the trial's CPUs
    and GPUs evenly, so the GPUs must divide among them.
    """
    expect(node, MAPPING, where=loc_of(node), path=path)
    check_keys(node, path, RESOURCE_KEYS)
    for key in ("cpus", "gpus"):
        get(node, key, NON_NEG_NUMBER, path, 0)
    workers = get(node, "workers", POS_INT, path, None)
    gpus = node.get("gpus", 0)
    if workers is not None and gpus and (gpus % workers or gpus < workers):
        raise SpecError(
            loc_of(node, "workers"),
            format_key((*path, "workers")),
            f"{gpus} GPUs do not divide among {workers} workers (one GPU or more each)",
        )
    return tuple((str(k), v) for k, v in plain(node).items())


def trial_workers(resources: Mapping[str, float]) -> int:
    """Data-parallel processes of a trial: ``workers``, else one per GPU, else 1."""
    if "workers" in resources:
        return int(resources["workers"])
    gpus = resources.get("gpus", 0)
    return int(gpus) if gpus >= 1 else 1


_DEFAULTS_KEYS = ("preset", "data_root", "schedule", "seeds", "resources", "assumed_speed")


def parse_defaults(node: Any, path: Path_, base: Defaults = Defaults()) -> Defaults:
    """A ``defaults`` mapping merged over ``base`` (absent keys keep ``base``'s values)."""
    if node is None:
        return base
    expect(node, MAPPING, where=loc_of(node), path=path)
    check_keys(node, path, _DEFAULTS_KEYS)
    resources = base.resources
    if "resources" in node:
        resources = parse_resources(node["resources"], (*path, "resources"))
    seeds = base.seeds
    if "seeds" in node:
        seeds = parse_seeds(node["seeds"], where=loc_of(node, "seeds"), path=(*path, "seeds"))
    return Defaults(
        preset=get(node, "preset", STR, path, base.preset),
        data_root=get(node, "data_root", OPT_STR, path, base.data_root),
        schedule=get(node, "schedule", STR, path, base.schedule),
        seeds=seeds,
        resources=resources,
        assumed_speed=get(node, "assumed_speed", POS_NUMBER, path, base.assumed_speed),
    )


_SPEC_KEYS = (
    "schema_version", "name", "title", "columns", "defaults", "seeds", "rows", "grids", "notes",
    "reference", "claims", "min_seeds",
)  # fmt: skip


def parse_spec(
    node: Any, *, file: str, defaults: Defaults = Defaults(), with_claims: bool = True
) -> AblationSpec:
    """Validate a loaded spec document and build the :class:`AblationSpec`.

    Args:
        node: The document from :func:`sbr.yamlspec.loader.load_yaml`.
        file: The file it came from (for messages; claims find other tables next to it).
        defaults: Inherited defaults (``ablations/defaults.yaml``).
        with_claims: Parse the ``claims:`` list (False: rows only, as when another
            table's claim reads this table's paper values).

    Raises:
        SpecError: At the first problem, with ``file:line`` and the key path.
    """
    _check_header(node, file)
    name = get(node, "name", STR, ())
    columns = _parse_columns(node)
    rows, grids = _parse_rows_and_grids(node, columns)
    seeds = None
    if "seeds" in node:
        seeds = parse_seeds(node["seeds"], where=loc_of(node, "seeds"), path=("seeds",))
    claims = _parse_spec_claims(node, name, columns, rows, file) if with_claims else ()
    return AblationSpec(
        name=name,
        file=file,
        title=get(node, "title", OPT_STR, (), "") or "",
        columns=columns,
        rows=rows,
        grids=grids,
        seeds=seeds,
        defaults=parse_defaults(node.get("defaults"), ("defaults",), defaults),
        notes=get(node, "notes", OPT_STR, (), "") or "",
        reference=_parse_reference(node, rows, grids),
        claims=claims,
        min_seeds=get(node, "min_seeds", POS_INT, ()),
    )


def _check_header(node: Any, file: str) -> None:
    """A mapping with known keys and the current ``schema_version``."""
    if not isinstance(node, dict):
        raise SpecError(Loc(file, 1), "<top>", f"expected a mapping, got {describe(node)}")
    check_keys(node, (), _SPEC_KEYS, required=("schema_version", "name"))
    version = get(node, "schema_version", INT, ())
    if version != SCHEMA_VERSION:
        raise SpecError(
            loc_of(node, "schema_version"),
            "schema_version",
            f"expected {SCHEMA_VERSION}, got {version}",
        )


def _parse_columns(node: dict) -> tuple[str, ...]:
    columns = get(node, "columns", LIST, (), [])
    for index, column in enumerate(columns):
        expect(column, STR, where=loc_of(columns, index), path=("columns", index))
    return tuple(columns)


def _parse_rows_and_grids(
    node: dict, columns: Sequence[str]
) -> tuple[tuple[Row, ...], tuple[Grid, ...]]:
    rows_node = get(node, "rows", LIST, (), [])
    grids_node = get(node, "grids", LIST, (), [])
    if not rows_node and not grids_node:
        raise SpecError(loc_of(node), "rows", "a spec needs at least one row or grid")
    rows = tuple(
        parse_row(row, i, columns, loc_of(rows_node, i)) for i, row in enumerate(rows_node)
    )
    grids = tuple(parse_grid(g, i, loc_of(grids_node, i)) for i, g in enumerate(grids_node))
    _check_unique_ids(rows, grids)
    return rows, grids


def _parse_spec_claims(
    node: dict, name: str, columns: tuple[str, ...], rows: Sequence[Row], file: str
) -> tuple[Claim, ...]:
    """The ``claims:`` list; ``tableN:rowM`` rows are read from ``tableN.yaml`` next to
    ``file`` (the packaged ``ablations/`` or the user's ``--specs-dir``)."""
    own = {row.id: row.paper_values for row in rows}
    folder = None if file.startswith("<") else Path(file).parent
    return parse_claims(
        node.get("claims"),
        table=name,
        columns=columns,
        paper_rows=sibling_paper_rows(folder, name, own),
    )


def sibling_paper_rows(folder: Path | None, name: str, own: PaperRows) -> PaperLookup:
    """Paper values by table name: ``own`` for ``name``, else the rows of
    ``<folder>/<table>.yaml`` (parsed without its claims, once per table)."""
    cache: dict[str, PaperRows | None] = {name: own}

    def lookup(table: str) -> PaperRows | None:
        if table not in cache:
            path = folder / f"{table}.yaml" if folder is not None else None
            if path is None or not path.is_file():
                cache[table] = None
            else:
                spec = load_spec(path, with_claims=False)
                cache[table] = {row.id: row.paper_values for row in spec.rows}
        return cache[table]

    return lookup


def _parse_reference(node: dict, rows: Sequence[Row], grids: Sequence[Grid]) -> str | None:
    """The ``reference`` row id, which must name a row (or a generated grid row)."""
    if "reference" not in node:
        return None
    reference = get(node, "reference", STR, ())
    known = [r.id for r in rows] + [row_id for g in grids for row_id in g.row_ids()]
    if reference not in known:
        close = difflib.get_close_matches(reference, known, n=2, cutoff=0.6)
        raise SpecError(
            loc_of(node, "reference"),
            "reference",
            f"no row {reference!r} in this spec (rows: {', '.join(known)})",
            close,
        )
    return reference


def _check_unique_ids(rows: Sequence[Row], grids: Sequence[Grid]) -> None:
    seen: dict[str, Loc | None] = {}
    entries = [("rows", i, r.id, r.loc_of("id")) for i, r in enumerate(rows)]
    entries += [("grids", i, g.id, g.field_locs.get("id", g.loc)) for i, g in enumerate(grids)]
    for section, index, row_id, where in entries:
        if row_id in seen:
            first = seen[row_id]
            also = f" (already used at line {first.line})" if first else ""
            raise SpecError(
                where, format_key((section, index, "id")), f"duplicate row id {row_id!r}{also}"
            )
        seen[row_id] = where


# --------------------------------------------------------------------------- files


def shipped_ablations_dir() -> Path:
    """The specs and presets shipped with sbr.

    An installed sbr carries them as package data, ``sbr/_ablations`` (the wheel copies
    the repository's top-level ``ablations/`` there, see ``setup.py``); a source checkout
    or an editable install reads the checkout's ``ablations/``.
    """
    from importlib.resources import files

    packaged = files("sbr").joinpath("_ablations")
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "ablations"


#: The ablation specs shipped with sbr (:func:`shipped_ablations_dir`).
ABLATIONS_DIR = shipped_ablations_dir()
#: Environment variable naming a folder of the user's own specs (``--specs-dir`` wins).
SPECS_ENV = "SBR_SPECS"
DEFAULTS_FILE = "defaults.yaml"


def user_specs_dir(specs_dir: str | Path | None = None) -> Path | None:
    """The user's specs folder: ``specs_dir`` (``--specs-dir``), else ``$SBR_SPECS``, else None.

    Raises:
        SpecError: If ``$SBR_SPECS`` names no folder.
    """
    if specs_dir:
        return Path(specs_dir)
    env = os.environ.get(SPECS_ENV)
    if not env:
        return None
    if not Path(env).is_dir():
        raise SpecError(None, SPECS_ENV, f"{env!r} is not a folder")
    return Path(env)


def specs_dirs(specs_dir: str | Path | None = None) -> list[Path]:
    """Folders searched for a spec name: the user's (:func:`user_specs_dir`), then sbr's."""
    user = user_specs_dir(specs_dir)
    return [user, ABLATIONS_DIR] if user is not None else [ABLATIONS_DIR]


def find_defaults_file(spec_file: str | Path) -> Path | None:
    """``defaults.yaml`` next to the spec, else the shipped ``ablations/defaults.yaml``."""
    for candidate in (Path(spec_file).parent / DEFAULTS_FILE, ABLATIONS_DIR / DEFAULTS_FILE):
        if candidate.is_file():
            return candidate
    return None


def load_defaults(path: str | Path | None) -> Defaults:
    """Parse a defaults file (``None``: built-in defaults)."""
    from sbr.yamlspec.loader import load_yaml_file

    if path is None:
        return Defaults()
    node = load_yaml_file(path)
    if not isinstance(node, dict):
        raise SpecError(Loc(str(path), 1), "<top>", "expected a mapping")
    check_keys(node, (), ("schema_version", *_DEFAULTS_KEYS))
    node.pop("schema_version", None)
    return parse_defaults(node, ())


def resolve_spec_file(name_or_path: str | Path, specs_dir: str | Path | None = None) -> Path:
    """A spec path, or a name in the user's specs folder, else in sbr's shipped specs.

    The user's folder is ``specs_dir`` (``--specs-dir``) or ``$SBR_SPECS``. ``table2``,
    ``table2.yaml`` and ``ablations/table2.yaml`` all name the same file.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    folders = specs_dirs(specs_dir)
    if path.parent.name == "ablations":  # ablations/table2.yaml from outside the checkout
        path = Path(path.name)
    for folder in folders:
        for candidate in (folder / path, folder / f"{path}.yaml"):
            if candidate.is_file():
                return candidate
    known = sorted(
        {p.stem for folder in folders for p in folder.glob("*.yaml") if p.name != DEFAULTS_FILE}
    )
    close = difflib.get_close_matches(str(name_or_path), known, n=2)
    raise SpecError(None, str(name_or_path), f"no such spec (known: {', '.join(known)})", close)


def load_spec(
    path: str | Path, *, defaults_file: str | Path | None = None, with_claims: bool = True
) -> AblationSpec:
    """Load, validate and return the spec in ``path``, inheriting the shared defaults.

    Args:
        path: The spec file.
        defaults_file: Defaults to inherit; default: :func:`find_defaults_file`.
        with_claims: Parse and check the ``claims:`` list (see :func:`parse_spec`).

    Raises:
        SpecError: With ``file:line``, key path and expectation, at the first problem.
    """
    from sbr.yamlspec.loader import load_yaml_file

    defaults = load_defaults(defaults_file or find_defaults_file(path))
    return parse_spec(
        load_yaml_file(path), file=str(path), defaults=defaults, with_claims=with_claims
    )
