"""NAS-Bench-Suite-Zero's NAS-Bench-201 scores (``zc_nasbench201.json``) into and out of tfnas.

NAS-Bench-Suite-Zero (Krishnakumar, White, Zela, Tu, Safari & Hutter, NeurIPS 2022 Datasets and
Benchmarks; code and data: automl/NASLib, branch ``zerocost``) publishes 13 zero-cost proxies
for all 15,625 cells × 3 datasets as one JSON file, which NASLib's zero-cost predictors read.
This module converts it both ways. The conversions (keys, names, units, signs) are pure
functions at the top; the file reading, the database import and export come after them.

**Layouts** (:func:`read_suite_zero` recognises both, ``../shared/data/suite_zero/README.md``):

- ``released`` — ``{dataset: {KEY: {"idx": "517", "arch": KEY, "val_accuracy": 86.06,
  PROXY: {"score": float, "time": seconds}, …}}}``, written by NASLib's
  ``naslib/runners/zc/benchmarks/runner.py`` (``idx`` is the position in NASLib's own list of
  sampled architectures, not NATS-Bench's index: 0 of the 150 extracted entries match it).
- ``flat`` — an earlier one: ``{"nasbench201": {dataset: {KEY: {PROXY: float, …,
  "val_accuracy": float}}}}``: scores without times.

**Keys** (NASLib ``naslib/search_spaces/nasbench201/conversions.py``): ``str(tuple(op_indices))``,
six op indices in NASLib's op order ``0 skip_connect, 1 none, 2 nor_conv_3x3, 3 nor_conv_1x1,
4 avg_pool_3x3`` (:data:`NASLIB_OPS`) for NASLib's edges ``(1,2), (1,3), (1,4), (2,3), (2,4),
(3,4)`` (nodes 1–4, :data:`NASLIB_EDGES`). tfnas's edge k, ``EDGES[k] = (target, source)``
with nodes 0–3, is NASLib's edge ``(source + 1, target + 1)``, so the arch string
``|a~0|+|b~0|c~1|+|d~0|e~1|f~2|`` takes the key's positions 0, 1, 3, 2, 4, 5
(:data:`EDGE_POSITION`). Checked against the data (``tests/test_suite_zero.py``): the extract's
``params`` equal tfnas's parameter counts exactly, and Synflow / NASWOT rank like tfnas's (ρ ≈
0.998 / 0.995), which a wrong op order or edge order would break.

**Names** (NASLib → tfnas, :func:`tfnas_name`): ``nwot`` → ``naswot`` and ``jacob_cov`` →
``jacov`` (:data:`tfnas.proxies.ALIASES`); ``jacov``, ``snip``, ``grad_norm``, ``grasp``,
``fisher``, ``plain``, ``epe_nas``, ``l2_norm``, ``synflow``, ``params``, ``flops``, ``zen`` are
tfnas's own names for the same proxies. Export writes NASLib's names (:func:`naslib_name`).

**Units and signs** (:func:`to_tfnas_score`; NASLib ``naslib/predictors/zerocost.py`` and
``pruners/measures/``): ``params`` is in millions in the file and a count in tfnas (× 10⁶,
rounded; the extract's values are exact NATS-Bench counts); ``flops`` is millions in both
(NASLib measures its own network: e.g. 151.22 where NATS-Bench's closed form gives 149.34, ρ ≈
0.996); ``plain`` is NASLib's signed Σ W ⊙ ∂L/∂W, which tfnas stores negated (higher is better;
:mod:`tfnas.proxies.plain`), so it is negated both ways; ``synflow`` is the log of the flow in
both; the others have tfnas's sign. NASLib writes ``-1e8`` for a score that was NaN or ±inf
(:data:`FAILED`): that is tfnas's −inf, and −inf is written back as ``-1e8``.

**Storage** (:func:`import_suite_zero`): rows of ``proxy_scores`` with ``data_fingerprint`` =
``suite-zero:`` + the first 16 hex of the file's SHA-256 (:func:`fingerprint`), ``seed`` 0,
``batch_size`` 32, no augmentation — NASLib's ``naslib/runners/zc/zc_config.yaml`` (``seed: 0``,
``batch_size: 32``, ``cutout: false``), which the numbers bear out (jacov ≤ −32 = −batch;
NASWOT ≈ 12.7 per image vs tfnas's 12.5 at 128) — ``device`` and ``tfnas_version``
``suite-zero``, ``seconds`` = the file's ``time`` (NaN, unknown, for the flat layout),
``created_at`` = the import. A fingerprint holding ``:`` marks imported rows
(:data:`tfnas.config.IMPORTED_SEPARATOR`): the views and reports read them only when that
fingerprint is asked for (``--fingerprint suite-zero:… --batch-size 32``), never by default
and never beside tfnas's own rows. A proxy name the file has that is none of the 13 is not
stored (its sign convention is unknown) and is listed in the summary; ``val_accuracy`` and
``idx`` are not stored (accuracies come from NATS-Bench).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from tfnas.config import DEFAULT, IMPORTED_SEPARATOR, ScoringConfig
from tfnas.datasets import DATASETS
from tfnas.errors import MissingFileError, UnwritableError, UserError
from tfnas.messages import one_line, shorten
from tfnas.proxies import resolve
from tfnas.space import EDGES, NUM_EDGES, OPS, Arch

# --- conventions: pure conversions ---------------------------------------------------------

#: NASLib's op order (``OP_NAMES_NB201``): the op index of a key is a position here.
NASLIB_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1",
                               "avg_pool_3x3")
#: NASLib's edge order (``EDGE_LIST``), nodes 1–4: position p of a key is this edge's op.
NASLIB_EDGES: tuple[tuple[int, int], ...] = ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4))
#: For tfnas's edge k (:data:`tfnas.space.EDGES`), the position of its op in a key:
#: (0, 1, 3, 2, 4, 5).
EDGE_POSITION: tuple[int, ...] = tuple(NASLIB_EDGES.index((source + 1, target + 1))
                                       for target, source in EDGES)
assert sorted(NASLIB_OPS) == sorted(OPS) and sorted(EDGE_POSITION) == list(range(NUM_EDGES))

#: NAS-Bench-Suite-Zero's proxies on NAS-Bench-201, by NASLib's names (``zen`` is in some
#: versions of the file only).
SUITE_ZERO_PROXIES: tuple[str, ...] = ("epe_nas", "fisher", "flops", "grad_norm", "grasp",
                                       "jacov", "l2_norm", "nwot", "params", "plain", "snip",
                                       "synflow", "zen")
#: tfnas name → NASLib name, for the 13 proxies.
NASLIB_NAMES: dict[str, str] = {resolve(name): name for name in SUITE_ZERO_PROXIES}
#: The score NASLib's ``ZeroCost.query`` writes for a NaN or ±inf one: tfnas's −inf.
FAILED = -1e8
#: ``params`` is millions of parameters in the file, a count in tfnas.
PARAMS_PER_UNIT = 1_000_000
#: Proxies whose tfnas score is NASLib's negated (tfnas stores higher-is-better).
NEGATED: frozenset[str] = frozenset({"plain"})

SOURCE = "suite-zero"
#: The configuration NAS-Bench-Suite-Zero scored with (NASLib ``zc_config.yaml``).
SEED, BATCH_SIZE, AUGMENT = 0, 32, False
LAYOUTS = ("released", "flat")
#: Fields of an entry that are not proxies.
_META = ("idx", "arch", "val_accuracy")
_KEY = re.compile(r"\(\s*([0-9]+)" + r"\s*,\s*([0-9]+)" * (NUM_EDGES - 1) + r"\s*,?\s*\)")


def key_to_arch(key: str) -> Arch:
    """The architecture of a NASLib key ``"(i, j, k, l, m, n)"`` (see the module docstring);
    one-line :class:`~tfnas.errors.UserError` when it is not one of the 15,625."""
    match = _KEY.fullmatch(key.strip()) if isinstance(key, str) else None
    if match is None:
        raise UserError(f"key {shorten(key)} is not a NAS-Bench-201 architecture: expected "
                        "str(tuple(op_indices)), six op indices such as '(0, 2, 2, 2, 2, 0)'")
    indices = [int(group) for group in match.groups()]
    bad = [i for i in indices if not 0 <= i < len(NASLIB_OPS)]
    if bad:
        raise UserError(f"key {shorten(key)} is not a NAS-Bench-201 architecture: op index "
                        f"{bad[0]} is not in 0..{len(NASLIB_OPS) - 1} (NASLib's ops "
                        f"{', '.join(f'{i} {op}' for i, op in enumerate(NASLIB_OPS))})")
    return Arch(tuple(NASLIB_OPS[indices[p]] for p in EDGE_POSITION))


def arch_to_key(arch: Arch) -> str:
    """NASLib's key of ``arch``: ``str(tuple(op_indices))``, e.g. ``'(0, 2, 2, 2, 2, 0)'``."""
    indices = [0] * NUM_EDGES
    for k, op in enumerate(arch.ops):
        indices[EDGE_POSITION[k]] = NASLIB_OPS.index(op)
    return str(tuple(indices))


def tfnas_name(name: str) -> str | None:
    """The tfnas proxy of a Suite-Zero proxy name (NASLib's, an alias or tfnas's own), or
    ``None`` for a name that is none of the 13 (:data:`SUITE_ZERO_PROXIES`)."""
    resolved = resolve(name)
    return resolved if resolved in NASLIB_NAMES else None


def naslib_name(proxy: str) -> str | None:
    """NASLib's name of a tfnas proxy (``naswot`` → ``nwot``), ``None`` for one Suite-Zero does
    not have."""
    return NASLIB_NAMES.get(proxy)


def to_tfnas_score(proxy: str, value: float) -> float:
    """A Suite-Zero score of the tfnas ``proxy`` in tfnas's convention: :data:`FAILED` → −inf,
    params millions → a count, plain negated (module docstring)."""
    if value == FAILED or value == -math.inf:
        return -math.inf
    if proxy == "params":
        return float(round(value * PARAMS_PER_UNIT))
    return -value if proxy in NEGATED else value


def to_naslib_score(proxy: str, score: float) -> float:
    """Inverse of :func:`to_tfnas_score`: −inf → :data:`FAILED`, a count → millions, plain
    negated back."""
    if score == -math.inf:
        return FAILED
    if proxy == "params":
        return score / PARAMS_PER_UNIT
    return -score if proxy in NEGATED else score


def fingerprint(digest: str) -> str:
    """The ``data_fingerprint`` of a file's rows: ``suite-zero:`` + 16 hex of its SHA-256."""
    return f"{SOURCE}{IMPORTED_SEPARATOR}{digest[:16]}"


def config_of(fingerprint_: str) -> ScoringConfig:
    """The scoring configuration an imported file's rows are read with."""
    return ScoringConfig(SEED, BATCH_SIZE, AUGMENT, fingerprint_)


# --- reading a file ------------------------------------------------------------------------

class SuiteZeroError(UserError):
    """A file that is not a usable ``zc_nasbench201.json``; one line naming it."""


@dataclass(frozen=True)
class Row:
    """One score of the file, as the file has it: ``proxy`` the file's name, ``value``
    NASLib's number, ``seconds`` its ``time`` (NaN when the layout has none)."""

    dataset: str
    key: str
    arch_code: int
    proxy: str
    value: float
    seconds: float


@dataclass
class SuiteZeroFile:
    """What :func:`read_suite_zero` found: the layout, the rows (validated), the file's
    ``val_accuracy`` per (dataset, arch_code), the SHA-256 of its bytes, and the proxy names it
    has that are none of the 13 (name → entries; not converted, not stored)."""

    path: Path
    layout: str
    sha256: str
    rows: list[Row]
    val_accuracy: dict[tuple[str, int], float] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.sha256)


class _Duplicate(Exception):
    pass


def _pairs(pairs: list[tuple[str, object]]) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise _Duplicate(key)
        seen[key] = value
    return seen


def _number(value: object) -> float | None:
    """``value`` as a float when it is a JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def read_suite_zero(path: str | os.PathLike) -> SuiteZeroFile:
    """Read and validate a ``zc_nasbench201.json`` of either layout (module docstring).

    Refused, with one :class:`SuiteZeroError` line naming the file and the problem: a file
    that cannot be read, is not JSON, has neither layout, a dataset other than cifar10,
    cifar100, ImageNet16-120, a key that is not an architecture, an architecture twice (the
    same key twice, or two spellings of one), an unknown field, a score that is not a number,
    NaN or +inf, a time that is not a finite number ≥ 0, a file without scores.
    """
    path = Path(path)

    def bad(problem: str) -> SuiteZeroError:
        return SuiteZeroError(f"NAS-Bench-Suite-Zero file {path}: {problem}; nothing was "
                              "stored")

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MissingFileError(f"NAS-Bench-Suite-Zero file {path} does not exist; give the "
                               "zc_nasbench201.json NASLib downloads") from None
    except OSError as err:
        raise bad(f"cannot be read ({err.strerror or one_line(err)})") from None
    try:
        top = json.loads(raw.decode("utf-8"), object_pairs_hook=_pairs)
    except UnicodeDecodeError:
        raise bad("is not a UTF-8 text file (not JSON)") from None
    except _Duplicate as dup:
        raise bad(f"has the key {shorten(str(dup))} twice in one object (an architecture "
                  "listed twice?)") from None
    except json.JSONDecodeError as err:
        raise bad(f"is not JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
    expected = (f"expected {{dataset: {{key: {{proxy: {{score, time}}}}}}}} with datasets "
                f"{', '.join(DATASETS)} (the released layout) or {{\"nasbench201\": "
                "{dataset: {key: {proxy: score}}}} (the earlier one)")
    if not isinstance(top, dict) or not top:
        raise bad(f"is not a zc_nasbench201.json: {expected}")
    if set(top) == {"nasbench201"} and isinstance(top["nasbench201"], dict):
        layout, datasets = "flat", top["nasbench201"]
    else:
        layout, datasets = "released", top
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        raise bad(f"has the top-level key {shorten(unknown[0])}, not a dataset: {expected}")
    rows: list[Row] = []
    accuracy: dict[tuple[str, int], float] = {}
    skipped: Counter[str] = Counter()
    for dataset, entries in datasets.items():
        if not isinstance(entries, dict):
            raise bad(f"{dataset} is not an object of architectures: {expected}")
        codes: dict[int, str] = {}
        for key, entry in entries.items():
            where = f"{dataset} {shorten(key)}"
            try:
                arch = key_to_arch(key)
            except UserError as err:
                raise bad(f"{dataset}: {err}") from None
            if arch.code in codes:
                raise bad(f"{dataset} lists one architecture twice: {shorten(codes[arch.code])} "
                          f"and {shorten(key)} ({arch})")
            codes[arch.code] = key
            if not isinstance(entry, dict):
                raise bad(f"{where} is not an object of scores: {expected}")
            rows += _entry_rows(dataset, key, arch, entry, layout, bad, skipped, accuracy)
    if not rows:
        raise bad("holds no scores of the 13 Suite-Zero proxies"
                  + (f" (only {', '.join(sorted(skipped))})" if skipped else ""))
    return SuiteZeroFile(path, layout, hashlib.sha256(raw).hexdigest(), rows, accuracy,
                         dict(skipped))


def _entry_rows(dataset: str, key: str, arch: Arch, entry: dict, layout: str, bad,
                skipped: Counter, accuracy: dict) -> list[Row]:
    """The rows of one architecture's entry (validated; see :func:`read_suite_zero`)."""
    where = f"{dataset} {shorten(key)}"
    rows, named = [], {}
    for name, value in entry.items():
        if name == "arch":
            try:
                same = key_to_arch(value) == arch if isinstance(value, str) else False
            except UserError:
                same = False
            if not same:
                raise bad(f"{where}: its arch field {shorten(value)} is not its key")
            continue
        if name == "idx":
            continue
        if name == "val_accuracy":
            number = _number(value)
            if value is not None and (number is None or not math.isfinite(number)):
                raise bad(f"{where}: val_accuracy {shorten(value)} is not a finite number")
            if number is not None:
                accuracy[dataset, arch.code] = number
            continue
        proxy_shaped = (isinstance(value, dict) if layout == "released"
                        else _number(value) is not None)
        if layout == "released" and _number(value) is not None or \
                layout == "flat" and isinstance(value, dict):
            raise bad(f"{where}: {shorten(name)} is {shorten(value)}, but the "
                      f"{layout} layout has " + ("{score, time} per proxy" if layout ==
                                                 "released" else "a number per proxy"))
        if not proxy_shaped:
            raise bad(f"{where}: unknown key {shorten(name)} (neither a proxy nor "
                      f"{', '.join(_META)})")
        proxy = tfnas_name(name)
        if proxy is None:
            skipped[name] += 1
            continue
        if proxy in named:
            raise bad(f"{where}: {shorten(named[proxy])} and {shorten(name)} are both {proxy}")
        named[proxy] = name
        if layout == "released":
            extra = sorted(set(value) - {"score", "time"})
            if extra or "score" not in value:
                raise bad(f"{where} {shorten(name)}: expected {{score, time}}, got the keys "
                          f"{', '.join(map(shorten, value)) or 'none'}")
            score, time = value["score"], value.get("time")
        else:
            score, time = value, None
        number = _number(score)
        if number is None or math.isnan(number) or number == math.inf:
            raise bad(f"{where} {shorten(name)}: the score {shorten(score)} is not a number "
                      "(NaN and +inf are refused; NASLib writes -1e8 for a failed score)")
        seconds = math.nan if time is None and layout == "flat" else _number(time)
        if layout == "released" and (seconds is None or not math.isfinite(seconds)
                                     or seconds < 0):
            raise bad(f"{where} {shorten(name)}: the time {shorten(time)} is not a finite "
                      "number of seconds >= 0")
        rows.append(Row(dataset, key, arch.code, name, number, seconds))
    return rows


def score_rows(data: SuiteZeroFile, created_at: datetime | None = None) -> dict[str, list]:
    """The ``proxy_scores`` rows of a read file (columns → lists), in tfnas's names and
    conventions (:func:`tfnas_name`, :func:`to_tfnas_score`) under its configuration."""
    created_at = created_at or datetime.now(timezone.utc)
    proxies = [tfnas_name(row.proxy) for row in data.rows]
    count = len(data.rows)
    return {"arch_code": [row.arch_code for row in data.rows],
            "dataset": [row.dataset for row in data.rows],
            "proxy": proxies, "seed": [SEED] * count, "batch_size": [BATCH_SIZE] * count,
            "data_fingerprint": [data.fingerprint] * count, "augment": [AUGMENT] * count,
            "score": [to_tfnas_score(p, row.value) for p, row in zip(proxies, data.rows,
                                                                      strict=True)],
            "seconds": [row.seconds for row in data.rows],
            "device": [SOURCE] * count, "tfnas_version": [SOURCE] * count,
            "created_at": [created_at] * count}


# --- the database ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Agreement:
    """Rank agreement of an imported proxy with tfnas's own scores of it (default
    configuration) on the architectures both hold: Spearman's ρ of average ranks (−inf
    lowest); NaN when fewer than 2 architectures or a constant column."""

    dataset: str
    proxy: str
    n: int
    spearman: float


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """scipy's Spearman ρ (average ranks; −inf ranks lowest); NaN where it is undefined (fewer
    than two architectures, or one side constant)."""
    import warnings

    from scipy import stats

    if len(a) < 2:
        return math.nan
    with warnings.catch_warnings():  # a constant side: NaN, said by the value itself
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        return float(stats.spearmanr(a, b).statistic)


def agreement(database: str | os.PathLike, fingerprint_: str) -> list[Agreement]:
    """Per (dataset, proxy) of the import ``fingerprint_``, Spearman between its scores and
    tfnas's own of the default configuration (:data:`tfnas.config.DEFAULT`, the rows the
    ``default_scores`` view holds) over the architectures both hold; (dataset, proxy) pairs
    tfnas has no scores of are left out. ``tfnas sql suite_zero_agreement``
    (``tfnas/queries/``) is the same in SQL."""
    from db.connection import open_database
    from db.read import _fetch
    from db.sql import configuration_rows_sql

    path = Path(database)
    conn = open_database(path)
    try:
        theirs = _fetch(conn, path, "SELECT dataset, proxy, arch_code, score FROM proxy_scores "
                        "WHERE data_fingerprint = ? ORDER BY ALL", [fingerprint_])
        ours = _fetch(conn, path, "SELECT dataset, proxy, arch_code, score FROM ("
                      f"{configuration_rows_sql(DEFAULT, ())}) ORDER BY ALL")
    finally:
        conn.close()
    mine = {(d, p, c): s for d, p, c, s in zip(*ours.values(), strict=True)}
    pairs: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for d, p, c, s in zip(*theirs.values(), strict=True):
        if (d, p, c) in mine:
            pairs.setdefault((d, p), []).append((s, mine[d, p, c]))
    order = {name: i for i, name in enumerate(DATASETS)}
    return [Agreement(d, p, len(v), _spearman(*map(np.asarray, zip(*v, strict=True))))
            for (d, p), v in sorted(pairs.items(), key=lambda kv: (order[kv[0][0]], kv[0][1]))]


@dataclass
class ImportResult:
    """What :func:`import_suite_zero` stored: the file read, rows per (dataset, proxy), and
    the agreement with tfnas's own scores."""

    data: SuiteZeroFile
    counts: dict[tuple[str, str], int]
    agreement: list[Agreement]

    def summary(self, database: str | os.PathLike) -> str:
        """Lines for the command line: what was stored, how to read it, the agreement."""
        data = self.data
        config = config_of(data.fingerprint)
        lines = [f"{database}: {len(data.rows):,} NAS-Bench-Suite-Zero scores from {data.path} "
                 f"({data.layout} layout) stored as seed {SEED}, batch {BATCH_SIZE}, no "
                 f"augmentation, fingerprint {data.fingerprint} (device {SOURCE})"]
        for dataset in DATASETS:
            held = [f"{p} {n}" for (d, p), n in sorted(self.counts.items()) if d == dataset]
            if held:
                lines.append(f"  {dataset}: {', '.join(held)}")
        if data.layout == "flat":
            lines.append("  the earlier layout has no times: seconds are stored as NaN "
                         "(unknown)")
        if data.skipped:
            lines.append("  not stored (not one of the 13 Suite-Zero proxies, sign convention "
                         f"unknown): {', '.join(f'{k} ({v})' for k, v in data.skipped.items())}")
        flags = (f"--fingerprint {config.fingerprint} --batch-size {config.batch_size}")
        lines.append(f"  read them with e.g. `tfnas correlations --db {database} {flags}`")
        if self.agreement:
            lines.append("  rank agreement with tfnas's own scores (default configuration), on "
                         "the architectures both hold:")
            lines.append(f"  {'dataset':<15} {'proxy':<10} {'n':>6} {'spearman':>9}")
            lines += [f"  {a.dataset:<15} {a.proxy:<10} {a.n:>6} {a.spearman:>9.3f}"
                      for a in self.agreement]
        else:
            lines.append("  tfnas holds none of these proxies for these architectures: no "
                         "agreement to report")
        return "\n".join(lines)


def import_suite_zero(database: str | os.PathLike, path: str | os.PathLike) -> ImportResult:
    """Store a ``zc_nasbench201.json`` (either layout) in the tfnas ``database`` (which must
    exist: ``tfnas db init``), all or nothing: the file is read and validated completely
    before the database is opened (:func:`read_suite_zero`), and the write goes through
    :func:`db.connection.writing`. Rows of the same file imported before are replaced. The
    ``proxies`` table gets the registry's description of each proxy stored."""
    import pyarrow as pa

    from db.connection import registered, writing
    from db.schema import ensure_schema, proxy_scores, register_proxies
    from tfnas.proxies import registry

    data = read_suite_zero(path)
    columns = score_rows(data)
    names = sorted(set(columns["proxy"]))
    proxies = [registry()[name] for name in names]  # imports the proxy modules (torch)
    schema = pa.schema([("arch_code", pa.int32()), ("dataset", pa.string()),
                        ("proxy", pa.string()), ("seed", pa.int64()),
                        ("batch_size", pa.int64()), ("data_fingerprint", pa.string()),
                        ("augment", pa.bool_()), ("score", pa.float64()),
                        ("seconds", pa.float64()), ("device", pa.string()),
                        ("tfnas_version", pa.string()),
                        ("created_at", pa.timestamp("us", tz="UTC"))])
    table = pa.table(columns, schema=schema)  # arrow keeps NaN seconds NaN (pandas: NULL)
    with writing(database, create=False) as engine, engine.begin() as conn:
        ensure_schema(conn)
        register_proxies(conn, [p.metadata() for p in proxies],
                         [row for p in proxies for row in p.published_rows()])
        conn.execute(proxy_scores.delete().where(
            proxy_scores.c.data_fingerprint == data.fingerprint))
        with registered(conn, "_suite_zero_rows", table) as view:
            conn.exec_driver_sql(f"INSERT INTO proxy_scores BY NAME SELECT * FROM {view}")
    counts = Counter((row.dataset, tfnas_name(row.proxy)) for row in data.rows)
    return ImportResult(data, dict(counts), agreement(database, data.fingerprint))


@dataclass
class ExportResult:
    """What :func:`export_suite_zero` wrote: architectures per dataset, the proxies (NASLib
    names), the proxies left out (no Suite-Zero counterpart), the accuracy column and how
    many entries had no accuracy there (written without ``val_accuracy``)."""

    out: Path
    archs: dict[str, int]
    proxies: list[str]
    left_out: list[str]
    accuracy: str
    missing_accuracy: dict[str, int]

    def summary(self) -> str:
        lines = [f"{self.out}: NAS-Bench-Suite-Zero layout (NASLib's zc_nasbench201.json), "
                 f"{', '.join(f'{d} {n:,} archs' for d, n in self.archs.items())}; proxies "
                 f"(NASLib names) {', '.join(self.proxies)}; val_accuracy = {self.accuracy}"]
        if self.left_out:
            lines.append(f"  left out (no Suite-Zero counterpart): {', '.join(self.left_out)}")
        missing = {d: n for d, n in self.missing_accuracy.items() if n}
        if missing:
            lines.append(f"  no {self.accuracy} in the database for "
                         + ", ".join(f"{d} {n:,} archs" for d, n in missing.items())
                         + ": written without val_accuracy (the embedded NATS-Bench table "
                           "has test accuracies only: import the official NATS-Bench files, "
                           "README 'The benchmark', or pass --accuracy test_acc_200ep)")
        return "\n".join(lines)


def export_suite_zero(database: str | os.PathLike, out: str | os.PathLike,
                      datasets: Sequence[str] = tuple(DATASETS), config: ScoringConfig = DEFAULT,
                      accuracy: str = "valid_acc_200ep") -> ExportResult:
    """Write the scores ``database`` holds for ``config`` (default: tfnas's own, the default
    configuration; ``config_of(fingerprint)`` for an import) as NASLib's released
    ``zc_nasbench201.json`` layout to ``out``: ``{dataset: {key: {"arch": key, PROXY:
    {"score", "time"}, …, "val_accuracy": %}}}`` with NASLib's keys, names and units
    (:func:`arch_to_key`, :func:`naslib_name`, :func:`to_naslib_score`), ``time`` = the stored
    seconds (``null`` where unknown), ``val_accuracy`` = the ``accuracy`` column of
    ``arch_accuracies`` (default ``valid_acc_200ep``: NATS-Bench's 200-epoch validation
    accuracy, CIFAR-10's from the cifar10-valid run, what Suite-Zero's ``val_accuracy`` is),
    left out where the database has none. ``idx`` (NASLib's own sampling order) is not
    written. Proxies Suite-Zero does not have are left out (listed). Written atomically."""
    from db.connection import open_database
    from db.read import _fetch, _missing
    from db.sql import ACCURACY_COLUMNS, configuration_rows_sql

    if accuracy not in ACCURACY_COLUMNS:
        raise UserError(f"--accuracy: unknown column {shorten(accuracy)}; choose from "
                        f"{', '.join(ACCURACY_COLUMNS)}")
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        raise UserError(f"--dataset: unknown dataset {shorten(unknown[0])}; choose from "
                        f"{', '.join(DATASETS)}")
    out = Path(out)
    if out.is_dir():
        raise UnwritableError(f"--out {out} is a folder; give the JSON file to write")
    path = Path(database)
    conn = open_database(path)
    try:
        rows = _fetch(conn, path, "SELECT dataset, proxy, arch_code, score, seconds FROM ("
                      f"{configuration_rows_sql(config, ())}) WHERE list_contains($d, dataset) "
                      "ORDER BY dataset, arch_code, proxy", {"d": list(datasets)})
        acc = _fetch(conn, path, f"SELECT dataset, arch_code, {accuracy} AS a FROM "
                     "arch_accuracies WHERE list_contains($d, dataset)", {"d": list(datasets)})
        exported = [name for name in sorted(set(rows["proxy"])) if naslib_name(name)]
        if not exported:
            why = (f"it holds only {', '.join(sorted(set(rows['proxy'])))} there, which "
                   "Suite-Zero does not have" if len(rows["proxy"]) else
                   " | ".join(_missing(conn, path, d, config) for d in datasets))
            raise UserError(f"{path} has no scores of the Suite-Zero proxies to export for "
                            f"{config.describe()}: {why}")
    finally:
        conn.close()
    values = np.ma.filled(np.ma.asarray(acc["a"], dtype=float), np.nan)
    accuracies = {(d, int(c)): float(a) for d, c, a in zip(acc["dataset"], acc["arch_code"],
                                                            values, strict=True)}
    document: dict[str, dict[str, dict]] = {}
    for dataset, proxy, code, score, seconds in zip(*rows.values(), strict=True):
        name = naslib_name(proxy)
        if name is None:
            continue
        key = arch_to_key(Arch.from_code(int(code)))
        entry = document.setdefault(dataset, {}).setdefault(key, {"arch": key})
        entry[name] = {"score": to_naslib_score(proxy, float(score)),
                       "time": None if math.isnan(seconds) else float(seconds)}
    missing = dict.fromkeys((d for d in datasets if d in document), 0)
    for dataset in missing:
        for key, entry in document[dataset].items():
            value = accuracies.get((dataset, key_to_arch(key).code), math.nan)
            if math.isnan(value):
                missing[dataset] += 1
            else:
                entry["val_accuracy"] = value
    _write_json(out, {d: document[d] for d in datasets if d in document})
    left_out = sorted(set(rows["proxy"]) - set(exported))
    return ExportResult(out, {d: len(document[d]) for d in datasets if d in document},
                        [naslib_name(p) for p in exported], left_out, accuracy, missing)


def _write_json(out: Path, document: Mapping) -> None:
    """``document`` as JSON to ``out`` atomically (a partial file renamed); one line when the
    place cannot be written."""
    partial = out.with_name(out.name + ".partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "w", encoding="utf-8") as file:
            json.dump(document, file, allow_nan=False)
        os.replace(partial, out)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise UnwritableError(f"--out {out} cannot be written ({err.strerror or one_line(err)})"
                              "; give a file in a folder you can write") from None

