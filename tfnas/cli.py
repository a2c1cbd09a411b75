"""The ``tfnas`` command line: one subcommand = one ``add_parser`` block + one ``cmd_*`` handler.

    tfnas score          score architectures with registered proxies
    tfnas proxies        list the registered proxies
    tfnas db init        a complete database from the scores shipped with tfnas
    tfnas db ensemble    define a rank ensemble of stored proxies
    tfnas db import      store NAS-Bench-Suite-Zero's scores (zc_nasbench201.json)
    tfnas db export      write stored scores as NASLib's zc_nasbench201.json
    tfnas tables         Tables I–V (or any proxy's search tables) replayed from the database
    tfnas correlations   every stored proxy against every accuracy column
    tfnas plot           figures
    tfnas sql FILE       a .sql file (or stdin) through tfnas's DuckDB, read-only
    tfnas evaluate FILE  a proxy of your own (a .py file defining PROXY) against the stored ones

``--seed``, ``--batch-size``, ``--augment`` and ``--fingerprint`` always mean the scoring
configuration (:mod:`tfnas.config`): what ``score`` computes and which stored scores the
reports read. The replays' own randomness is ``--search-seed`` / ``--bootstrap-seed``.

User errors (bad architecture string, unknown dataset, missing or corrupt data or database,
bad arguments) print one line ``tfnas: error: ...`` to stderr and exit with status 2, never a
traceback. Reports import neither torch nor SQLAlchemy.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tfnas import __version__
from tfnas.config import (
    DEFAULT,
    DEFAULT_DB,
    SEED_MAX,
    STUDY_PROXIES,
    ScoringConfig,
    as_integer,
    check_seed,
)
from tfnas.datasets import DATASETS, dataset_spec, default_data_root
from tfnas.ensembles import METHODS
from tfnas.errors import UnwritableError, UserError
from tfnas.messages import shorten, shorten_words
from tfnas.space import Arch

EXIT_USAGE = 2


class UsageError(UserError):
    """A command-line mistake; reported as one ``tfnas: error:`` line, exit status 2."""


def _out_folder(text: str) -> Path:
    """``--out``: a folder (created when missing), refused before any work when it is a file
    or cannot be written or created (:func:`tfnas.replay.files.check_writable`)."""
    from tfnas.replay.files import check_writable

    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; give a folder (it is created when "
                                         "missing)")
    try:
        check_writable(path, flag=None)
    except UnwritableError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return path


def _database(text: str) -> Path:
    """``--db`` of every command: refused before it is opened when it exists but is not a
    regular file (:func:`db.connection.check_path`: a folder; a named pipe, which DuckDB would
    wait on forever; a device)."""
    from db.connection import DatabaseError, check_path

    try:
        check_path(Path(text))
    except DatabaseError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return Path(text)


def _check_writable_database(path: Path) -> None:
    """One-line :class:`~tfnas.errors.UnwritableError` before a command that writes ``path``
    opens it, when the file or its folder cannot be written (DuckDB would fail on opening)."""
    from tfnas.replay.files import check_writable

    check_writable(path.parent, "--db")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise UnwritableError(f"--db: cannot write database {path}: it is read-only (or not "
                              "yours); make it writable or give another --db")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's default prints usage + exits
        message = shorten_words(message)  # argparse echoes whatever was typed
        raise UsageError(f"{message} (see '{self.prog} -h')")


# argparse reports a type's error as "argument --flag: <message>".

def _seed(text: str) -> int:
    try:
        return check_seed(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer in 0..{SEED_MAX}, got "
                                         f"{shorten(text)}") from None


def _positive(text: str) -> int:
    number = as_integer(text)
    if number is None or number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {shorten(text)}")
    return number


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not text.strip() or not all(names):
        raise argparse.ArgumentTypeError(f"needs a comma list of proxy names, got "
                                         f"{shorten(text)}")
    from tfnas.proxies import resolve  # aliases (nwot = naswot, ...): tfnas.proxies.ALIASES

    typed, names = names, [resolve(name) for name in names]
    twice = [i for i, name in enumerate(names) if name in names[:i]]
    if twice:  # a report would print its rows twice
        first = names.index(names[twice[0]])
        same = (f"{shorten(typed[first])} is listed twice" if typed[first] == typed[twice[0]]
                else f"{shorten(typed[first])} and {shorten(typed[twice[0]])} both name "
                     f"{names[first]}")
        raise argparse.ArgumentTypeError(f"{same}; name each proxy once")
    return names


def _dataset_name(text: str) -> str:
    try:
        return dataset_spec(text).name
    except UserError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _fingerprint(text: str) -> str:
    if not text.strip():  # "" would read as "not given": the default images
        raise argparse.ArgumentTypeError("is empty; give the fingerprint of the images or leave "
                                         "the flag out")
    return text


def config_of(args: argparse.Namespace) -> ScoringConfig:
    return ScoringConfig(args.seed, args.batch_size, args.augment, args.fingerprint)


# --- tfnas score ----------------------------------------------------------------------------

def json_number(value: float) -> float | str:
    """Finite floats as they are; ±inf (and NaN) as the strings "-inf"/"inf"/"nan", because
    JSON has no infinity (Python's ``-Infinity`` is not JSON). ``float()`` reads both back."""
    return value if math.isfinite(value) else str(value)


def score_record(arch: object, scores: dict) -> dict:
    """One ``--json`` line: arch, one key per proxy, seconds{proxy: s}."""
    record: dict = {"arch": str(arch)}
    for proxy, result in scores.items():
        record[proxy] = json_number(result.score)
    record["seconds"] = {proxy: result.seconds for proxy, result in scores.items()}
    return record


def _cell(value: float) -> str:
    """Whole numbers (parameter counts) exactly, with thousands separators; others to six
    significant digits; -inf as -inf."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.6g}"


def table_row(arch: object, scores: dict) -> str:
    cells = [f"{_cell(result.score):>12}" for result in scores.values()]
    cells += [f"{result.seconds:>9.4f}" for result in scores.values()]
    return " ".join(cells) + f"  {arch}"


def arch_of(text: str) -> Arch:
    """``--arch``: a NATS-Bench index (ASCII digits, 0..15624, looked up in the embedded
    benchmark's index, :func:`tfnas.api.arch_str`) or a NATS-Bench arch string."""
    from tfnas.space import parse_arch

    if as_integer(text) is not None:
        from tfnas.api import arch_str

        return parse_arch(arch_str(text))
    return parse_arch(text)


def cmd_score(args: argparse.Namespace) -> int:
    import torch  # torch (~2 s to import) only for the command that runs networks
    from tqdm import tqdm

    from tfnas import proxies
    from tfnas.datasets import sample_batch
    from tfnas.proxies import IMAGES, ScoringRun
    from tfnas.scoring import check_run, score_arch
    from tfnas.space import read_archs_file

    names = proxies.check_proxies(args.proxies or STUDY_PROXIES)
    archs = [arch_of(text) for text in args.arch]
    if args.archs_file is not None:
        archs += read_archs_file(args.archs_file)
    if not archs:
        raise UsageError("no architecture given; pass --arch 'ARCH' or --archs-file FILE")
    spec = dataset_spec(args.dataset)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: torch sees no CUDA device; use --device cpu")
    config = ScoringConfig(args.seed, args.batch_size, args.augment)
    reads = any(IMAGES in proxies.get(name).reads for name in names)
    batch = sample_batch(spec, args.data, config) if reads else None
    run = ScoringRun(spec, args.seed, args.device, batch, args.batch_size)
    check_run(run, names)
    if not args.json:
        images = (f"{args.batch_size} training images from {args.data} (fingerprint "
                  f"{batch.fingerprint})" if batch is not None else "no images")
        print(f"# {spec.name}: {images}, seed {args.seed}, device {args.device}")
        print(" ".join([f"{name:>12}" for name in names] + [f"{name[:7] + '_s':>9}"
                                                            for name in names]) + "  arch")
    for arch in tqdm(archs, desc="scoring", unit="arch", disable=None, leave=False):
        scores = score_arch(arch, run, names)
        line = (json.dumps(score_record(arch, scores), allow_nan=False) if args.json
                else table_row(arch, scores))
        tqdm.write(line, file=sys.stdout)
    return 0


# --- tfnas proxies --------------------------------------------------------------------------

def cmd_proxies(args: argparse.Namespace) -> int:
    from tfnas import proxies

    for name in proxies.names():
        proxy = proxies.get(name)
        reads = ", ".join(sorted(proxy.reads)) or "nothing (data-free)"
        print(f"{name}\n  reads:      {reads}\n  convention: {proxy.convention}\n"
              f"  settings:   {proxy.settings}\n  paper:      {proxy.citation}")
    return 0


# --- tfnas evaluate -------------------------------------------------------------------------

def cmd_evaluate(args: argparse.Namespace) -> int:
    from tfnas.evaluate import evaluate, render, write_outputs

    result = evaluate(args.file, dataset=args.dataset, limit=args.limit,
                      batch_size=args.batch_size, data=args.data, db=args.db,
                      accuracy=args.accuracy, resamples=args.resamples)
    print(render(result))
    if args.out is not None:
        for path in write_outputs(result, args.out):
            _note(f"wrote {path}")
    return 0


# --- tfnas db init --------------------------------------------------------------------------

def cmd_db_init(args: argparse.Namespace) -> int:
    from db.bundle import init_database

    _check_writable_database(args.db)
    summary = init_database(args.db)
    print(summary)
    return 0


def cmd_db_ensemble(args: argparse.Namespace) -> int:
    import db
    from db.schema import add_ensemble
    from db.sql import check_ensemble_name
    from tfnas import proxies
    from tfnas.ensembles import check_ensemble

    ensemble = check_ensemble(args.name, args.method, args.members, proxies.names(),
                              args.description)
    check_ensemble_name(ensemble.name)  # the store's names: no column of arch_scores twice
    if args.db.is_file():  # (a missing one: writing() says how to create it)
        _check_writable_database(args.db)
    with db.writing(args.db, create=False) as engine, engine.begin() as conn:
        add_ensemble(conn, ensemble)
    print(f"{args.db}: ensemble {ensemble.name} = {ensemble.method} of "
          f"{', '.join(ensemble.members)}; read it like a proxy (e.g. `tfnas correlations "
          f"--db {args.db} --proxies {ensemble.name}`)")
    return 0


def cmd_db_import(args: argparse.Namespace) -> int:
    from db.suite_zero import import_suite_zero

    if args.db.is_file():  # (a missing one: writing() says how to create it)
        _check_writable_database(args.db)
    print(import_suite_zero(args.db, args.file).summary(args.db))
    return 0


def cmd_db_export(args: argparse.Namespace) -> int:
    from db.suite_zero import export_suite_zero

    datasets = list(dict.fromkeys(args.dataset)) if args.dataset else list(DATASETS)
    print(export_suite_zero(args.db, args.out, datasets, config_of(args),
                            args.accuracy).summary())
    return 0


# --- tfnas tables / correlations / plot (replays and reports from the database) --------------

_UNIQUE = "; one architecture per class of isomorphic cells (the smallest arch_code scored)"


def _note(text: str) -> None:
    print(f"note: {' '.join(str(text).split())}", file=sys.stderr)


def _read(args: argparse.Namespace, default: Sequence[str] | None = None):
    """The scores the command needs: ``--proxies``, else those of ``default`` that are stored
    (None: every stored proxy)."""
    from db.read import read_scores

    datasets = list(dict.fromkeys(args.dataset)) if args.dataset else DATASETS
    scores = read_scores(args.db, config_of(args), datasets, proxies=args.proxies or default,
                         if_stored=not args.proxies)
    for note in scores.notes:
        _note(f"skipped: {note}")
    return scores


def cmd_tables(args: argparse.Namespace) -> int:
    from tfnas.replay.files import write_csv
    from tfnas.replay.tables import TABLES_PROXIES, render, table_rows

    scores = _read(args, default=TABLES_PROXIES)
    result = table_rows(scores.columns, n=args.n, runs=args.runs, accuracy=args.accuracy,
                        seed=args.search_seed, proxies=args.proxies, unique=args.unique,
                        config=scores.config)
    print(f"# scores: {scores.config.describe()}{_UNIQUE if args.unique else ''}\n")
    written = []
    for name, (rows, notes) in result.items():
        if notes:  # one note per dataset and setting left out, each "<dataset>: <why>"
            datasets = {note.split(":", 1)[0] for note in notes}
            _note(f"{'Table ' + name if ' ' not in name else name}: skipped "
                  f"{len(datasets)} dataset(s): " + " | ".join(notes))
        if rows:
            print(render(rows) + "\n")
            written.append(write_csv(rows, args.out / f"table_{name.replace(' ', '_')}.csv"))
    _note(f"wrote {len(written)} CSV files to {args.out}")
    return 0


def cmd_correlations(args: argparse.Namespace) -> int:
    from db.read import read_published, read_seed_scores
    from tfnas.replay.correlations import SPREAD_COLUMNS, correlation_rows, render, seed_spread
    from tfnas.replay.files import write_csv

    scores = _read(args)
    columns = scores.columns
    if args.beside:
        from db.read import read_imported, side_by_side

        theirs = read_imported(args.db, args.beside, list(columns), args.proxies)
        label = str(theirs.config.fingerprint).partition(":")[0]
        columns = side_by_side(scores, theirs, label)
        held = ", ".join(f"{d} {len(c['arch_code']):,}" for d, c in columns.items())
        _note(f"beside {theirs.config.describe()}: every statistic over the architectures "
              f"both hold ({held})")
    if args.unique:
        from tfnas.replay.search.arrays import one_per_class

        columns = {dataset: one_per_class(frame) for dataset, frame in columns.items()}
    published = read_published(args.db)
    proxies = args.proxies
    if args.beside and proxies:  # each asked proxy beside its imported namesake
        held = {c for frame in columns.values() for c in frame}
        proxies = [*proxies, *(f"{p}@{label}" for p in proxies if f"{p}@{label}" in held)]
    table = correlation_rows(columns, proxies=proxies, seed=args.bootstrap_seed,
                             published=published)
    seeds = read_seed_scores(args.db, config_of(args))
    spread = {}  # (dataset, proxy, accuracy) -> the statistics over seeds, where scored so
    if seeds is not None:
        spread = {(r["dataset"], r["proxy"], r["accuracy"]): r
                  for r in seed_spread(seeds, columns).to_dict("records")}
    keys = SPREAD_COLUMNS[3:]
    table = [row | {k: spread.get((row["dataset"], row["proxy"], row["accuracy"]), {}).get(
        k, float("nan")) for k in keys} for row in table]
    print(f"# scores: {scores.config.describe()}{_UNIQUE if args.unique else ''}\n")
    print(render(table, published))
    _note(f"wrote {write_csv(table, args.out / 'correlations.csv')}")
    unread = [name for name in scores.ensembles if name not in (args.proxies or ())]
    if unread:
        _note(f"rank ensembles of the stored proxies: {', '.join(unread)} (add them with "
              "--proxies; `tfnas sql - <<< \"SELECT * FROM ensembles\"` defines them)")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from tfnas.replay.files import save_figure
    from tfnas.replay.plots import score_accuracy_figure, search_curves, search_figure
    from tfnas.replay.search import ScoreTable
    from tfnas.replay.search.arrays import stored_proxies

    scores = _read(args)
    frames = scores.frames
    names = args.proxies or [p for p in STUDY_PROXIES
                             if any(p in stored_proxies(f) for f in frames.values())]
    notes, curves = [], {}
    for proxy in names:
        scored = {name: frame for name, frame in frames.items()
                  if proxy in frame.columns and frame[proxy].notna().any()}
        if not scored:
            notes.append(f"no {proxy} scores: no figure for {proxy}")
            continue
        figure = score_accuracy_figure(scored, proxy, args.accuracy)
        _note(f"wrote {save_figure(figure, args.out / f'fig3_{proxy}.png')}")
        for dataset, frame in scored.items():
            try:
                table = ScoreTable.from_frame(frame, proxy, args.accuracy, scores.config)
            except ValueError as err:
                notes.append(f"search figure, {proxy} on {dataset}: {err}")
                continue
            curve = search_curves(table, runs=args.runs, seed=args.search_seed)
            if curve.empty:
                notes.append(f"search figure, {proxy} on {dataset}: only "
                             f"{len(table.scored)} architectures are scored, fewer than the "
                             "smallest budget")
                continue
            curves[proxy, dataset] = curve
            if not table.complete:
                notes.append(f"search figure, {proxy} on {dataset}: no regularized evolution, "
                             f"only {len(table.scored)} architectures are scored")
    if notes:
        _note(f"{len(notes)} panel(s) left out: " + " | ".join(notes))
    if curves:
        figure = search_figure(curves, args.accuracy)
        _note(f"wrote {save_figure(figure, args.out / 'search_time.png')}")
    return 0


# --- tfnas sql ------------------------------------------------------------------------------

def cmd_sql(args: argparse.Namespace) -> int:
    from db.sql_file import run_sql
    from tfnas.queries import resolve

    text = sys.stdin.read() if str(args.file) == "-" else None
    file = args.file if text is not None else resolve(args.file)  # `topk`: a shipped query
    run_sql(args.db, file, text=text, csv=args.csv, out=sys.stdout)
    return 0


# --- the parser -----------------------------------------------------------------------------

def _add_config(parser: argparse.ArgumentParser, reading: bool) -> None:
    what = "of the stored scores to read" if reading else "to score with"
    parser.add_argument("--seed", type=_seed, default=DEFAULT.seed,
                        help=f"seed of the weights and of the batch {what} (default "
                             f"{DEFAULT.seed})")
    parser.add_argument("--batch-size", type=_positive,
                        default=DEFAULT.batch_size, help=f"images in the batch {what} "
                                                         f"(default {DEFAULT.batch_size})")
    parser.add_argument("--augment", action="store_true",
                        help=f"the batch drawn with NATS-Bench's augmentation ({what})")
    if reading:
        parser.add_argument("--fingerprint", type=_fingerprint, default=None,
                            help="fingerprint of the images (default: per dataset and proxy "
                                 "the images covering the most architectures)")
        parser.add_argument("--dataset", type=_dataset_name, action="append", default=None,
                            help="only this dataset (repeat the flag for several; default: "
                                 "every dataset stored)")


def _add_db(parser: argparse.ArgumentParser, created: bool = False) -> None:
    """``--db``, the same for every command: a path refused early when it is no database file
    (:func:`_database`), default :data:`tfnas.config.DEFAULT_DB`."""
    parser.add_argument("--db", type=_database, default=DEFAULT_DB,
                        help=f"tfnas DuckDB file ({'created; ' if created else ''}default: "
                             "%(default)s)")


def build_parser() -> argparse.ArgumentParser:
    from tfnas.queries import names as query_names

    parser = _Parser(prog="tfnas", description="Training-free NAS proxies on NATS-Bench TSS.")
    parser.add_argument("--version", action="version", version=f"tfnas {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    score = commands.add_parser(
        "score", help="score architectures with registered proxies",
        description="Score architectures on one seeded training batch. Higher is better for "
                    "every score; -inf marks a degenerate case (e.g. a singular NASWOT kernel).")
    score.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASETS)}")
    score.add_argument("--data", type=Path, default=default_data_root(),
                       help="dataset root (holding cifar-10-batches-py/, cifar-100-python/ or "
                            "ImageNet16/; CIFAR is downloaded into it if missing), that "
                            "subfolder, or an .npz with x and y (default: %(default)s)")
    score.add_argument("--arch", action="append", default=[], metavar="ARCH",
                       help="NATS-Bench architecture string or index (0..15624, NATS-Bench's "
                            "arch_index); repeat for several")
    score.add_argument("--archs-file", type=Path, metavar="FILE",
                       help="file with one architecture string per line (# comments)")
    score.add_argument("--proxies", type=_names, default=None,
                       help=f"comma list of proxies (default {','.join(STUDY_PROXIES)})")
    _add_config(score, reading=False)
    score.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    score.add_argument("--json", action="store_true",
                       help="one JSON object per architecture per line: arch, one key per "
                            "proxy, seconds {proxy: seconds}; -inf is written \"-inf\"")
    score.set_defaults(handler=cmd_score)

    listing = commands.add_parser(
        "proxies", help="list the registered proxies: what each reads, its convention, paper",
        description="Every proxy of the registry (tfnas/proxies/, one module each).")
    listing.set_defaults(handler=cmd_proxies)

    database = commands.add_parser("db", help="database commands: init, ensemble, "
                                                   "import, export")
    db_commands = database.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    init = db_commands.add_parser(
        "init", help="build a complete database from the scores shipped with tfnas",
        description="Architectures, the embedded NATS-Bench accuracies, costs and every "
                    "score shipped with tfnas into --db, in seconds, without torch; "
                    "idempotent (running it again adds nothing).")
    _add_db(init, created=True)
    init.set_defaults(handler=cmd_db_init)
    ensemble = db_commands.add_parser(
        "ensemble", help="define a rank ensemble of stored proxies",
        description="Store the definition of a rank ensemble (tfnas.ensembles): its scores are "
                    "computed from the members' stored scores whenever read, over the "
                    "architectures every member scored, and it is read like a proxy by "
                    "tables, correlations, plot and the SQL views. Redefining a name replaces "
                    "it.")
    ensemble.add_argument("name", help="ensemble name: ens_ and then a-z, 0-9, _; not ending "
                                       "in _seconds (arch_scores' seconds columns)")
    ensemble.add_argument("--method", required=True, choices=tuple(METHODS),
                          help="log_rank_sum (AZ-NAS) or mean_rank")
    ensemble.add_argument("--members", required=True, type=_names,
                          help="comma list of at least two proxies")
    ensemble.add_argument("--description", default="", help="what it combines and why")
    _add_db(ensemble)
    ensemble.set_defaults(handler=cmd_db_ensemble)
    importing = db_commands.add_parser(
        "import", help="store another source's scores (NAS-Bench-Suite-Zero)",
        description="Store NAS-Bench-Suite-Zero's zc_nasbench201.json (either layout NASLib "
                    "has used) in --db under its own configuration (fingerprint "
                    "suite-zero:<sha256>, seed 0, batch 32: db.suite_zero), never mixed with "
                    "tfnas's scores, and print its rank agreement with them. A bad file "
                    "changes nothing.")
    importing.add_argument("--format", required=True, choices=("suite-zero",),
                           help="the file's format")
    importing.add_argument("file", type=Path, help="the JSON file")
    _add_db(importing)
    importing.set_defaults(handler=cmd_db_import)
    export = db_commands.add_parser(
        "export", help="write stored scores for another tool (NAS-Bench-Suite-Zero / NASLib)",
        description="Write the stored scores of one configuration (default: tfnas's own, seed "
                    "0, batch 128) as NASLib's zc_nasbench201.json: NASLib's keys, proxy "
                    "names and units; val_accuracy from --accuracy. An imported file's "
                    "scores: --fingerprint suite-zero:... --batch-size 32.")
    export.add_argument("--format", required=True, choices=("suite-zero",),
                        help="the file's format")
    export.add_argument("--out", required=True, type=Path, help="the JSON file to write")
    export.add_argument("--accuracy", default="valid_acc_200ep",
                        help="accuracy column written as val_accuracy (default: %(default)s, "
                             "what Suite-Zero's val_accuracy is)")
    _add_db(export)
    _add_config(export, reading=True)
    export.set_defaults(handler=cmd_db_export)

    accuracy_help = ("accuracy column: test_acc_12ep (the study's schedule), test_acc_200ep, "
                     "valid_acc_12ep, valid_acc_200ep (default: %(default)s)")
    proxies_help = "comma list of stored proxies (default: {})"
    unique_help = ("one architecture per class of isomorphic cells (6,466 classes; searches "
                   "sample classes, REA maps each child to its class)")
    tables = commands.add_parser(
        "tables", help="Tables I-V of the study: random search and REA, replayed",
        description="Replay random search and regularized evolution against the database for "
                    "every scored dataset and print Tables I-V as Markdown (the study's "
                    "numbers beside ours where they are the same quantity); with --proxies, "
                    "each proxy's random-search (N = 10, 100, 1000) and REA tables. CSV files "
                    "go to --out.")
    _add_db(tables)
    tables.add_argument("--proxies", type=_names, default=None,
                        help=proxies_help.format("the study's Tables I-V with naswot and "
                                                 "synflow"))
    tables.add_argument("--runs", type=_positive, default=500,
                        help="runs per cell (default 500)")
    tables.add_argument("--accuracy", default="test_acc_12ep", help=accuracy_help)
    tables.add_argument("--n", type=_positive, default=100,
                        help="random-search sample size of Tables II and III (default 100)")
    tables.add_argument("--out", type=_out_folder, default="out/tables",
                        help="folder for the CSV files (default: %(default)s)")
    tables.add_argument("--search-seed", type=_seed, default=0,
                        help="seed of the replayed searches (default 0)")
    tables.add_argument("--unique", action="store_true", help=unique_help)
    _add_config(tables, reading=True)
    tables.set_defaults(handler=cmd_tables)

    correlations = commands.add_parser(
        "correlations", help="Pearson, Spearman, Kendall and top-k precision of every proxy",
        description="Correlation of every stored proxy with every accuracy column per "
                    "dataset, with 95% bootstrap percentile intervals and published values; "
                    "spread over seeds where several were scored.")
    _add_db(correlations)
    correlations.add_argument("--proxies", type=_names, default=None,
                              help=proxies_help.format("every stored proxy"))
    correlations.add_argument("--out", type=_out_folder, default="out/correlations",
                              help="folder for correlations.csv (default: %(default)s)")
    correlations.add_argument("--bootstrap-seed", type=_seed, default=0,
                              help="seed of the bootstrap resamples (default 0)")
    correlations.add_argument("--unique", action="store_true", help=unique_help)
    correlations.add_argument("--beside", default=None, metavar="SOURCE",
                              help="also the scores imported from SOURCE (`suite-zero`, or an "
                                   "imported fingerprint suite-zero:…), as <proxy>@suite-zero "
                                   "rows, every row over the architectures both hold")
    _add_config(correlations, reading=True)
    correlations.set_defaults(handler=cmd_correlations)

    plot = commands.add_parser(
        "plot", help="figures: score vs accuracy (Fig. 3) and search accuracy vs time",
        description="PNG figures: fig3_<proxy>.png (score against accuracy per dataset) and "
                    "search_time.png (random search vs regularized evolution).")
    _add_db(plot)
    plot.add_argument("--proxies", type=_names, default=None,
                      help=proxies_help.format("the study's proxies that are stored"))
    plot.add_argument("--out", type=_out_folder, default="out/figures",
                      help="folder for the PNG files (default: %(default)s)")
    plot.add_argument("--accuracy", default="test_acc_12ep", help=accuracy_help)
    plot.add_argument("--search-seed", type=_seed, default=0,
                      help="seed of the replayed searches (default 0)")
    plot.add_argument("--runs", type=_positive, default=500,
                      help="runs per point of the search curves (default 500, as the tables)")
    _add_config(plot, reading=True)
    plot.set_defaults(handler=cmd_plot)

    sql = commands.add_parser(
        "sql", help="run a .sql file (or - for stdin) against the database, read-only",
        description="Run the statements of a .sql file through the DuckDB tfnas uses, "
                    "read-only, and print the result of each statement that returns rows. "
                    "Read-only for everything: no file but the database is written or read "
                    "(COPY TO, EXPORT, ATTACH, read_csv are refused), no extension is "
                    "installed or loaded and no setting changed; SET VARIABLE works.")
    sql.add_argument("file", type=Path,
                     help=f"a query shipped with tfnas by name ({', '.join(query_names())}), "
                          "the path of a .sql file, or - to read stdin")
    _add_db(sql)
    sql.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    sql.set_defaults(handler=cmd_sql)

    evaluating = commands.add_parser(
        "evaluate", help="score a proxy of your own (FILE.py defining PROXY) and compare it",
        description="Load the proxy of FILE.py (PROXY = tfnas.proxies.Proxy(...), see "
                    "docs/PROXY.md), check the registry's contract on 3 architectures, score "
                    "the first --limit architectures of the seeded order, and print its "
                    "Spearman, Kendall and top-1%/5% precision with bootstrap intervals beside "
                    "every proxy and rank ensemble the database holds on them, with the paired "
                    "interval of the difference in Spearman. Nothing is written to the database.")
    evaluating.add_argument("file", type=Path, help="a Python file defining PROXY")
    evaluating.add_argument("--dataset", type=_dataset_name, default="cifar10",
                            help=f"one of {', '.join(DATASETS)} (default: %(default)s)")
    evaluating.add_argument("--limit", type=_positive, default=1000,
                            help="the first N architectures of the seeded order (default "
                                 "%(default)s)")
    evaluating.add_argument("--batch-size", type=_positive, default=DEFAULT.batch_size,
                            help="images in the batch (default %(default)s)")
    evaluating.add_argument("--data", type=Path, default=None,
                            help="dataset root or .npz, for a proxy that reads images (default: "
                                 f"{default_data_root()})")
    _add_db(evaluating)
    evaluating.add_argument("--accuracy", default="test_acc_200ep", choices=(
        "test_acc_12ep", "test_acc_200ep", "valid_acc_12ep", "valid_acc_200ep"),
        help="accuracy column (default: %(default)s)")
    evaluating.add_argument("--resamples", type=_positive, default=1000,
                            help="bootstrap resamples (default %(default)s)")
    evaluating.add_argument("--out", type=_out_folder, default=None,
                            help="folder for evaluate.csv (the table) and scores.csv (the "
                                 "proxy's scores, tfnas_version external:<sha256>)")
    evaluating.set_defaults(handler=cmd_evaluate)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tfnas`` console script; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except UserError as err:
        print(f"tfnas: error: {' '.join(str(err).split())}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tfnas: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped reading (`tfnas sql topk | head`): no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # flushing at exit
        return 141  # as a command killed by SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
