"""The ``tfnas`` command line: one subcommand = one ``add_parser`` block + one ``cmd_*`` handler.

User errors (bad architecture string, unknown dataset, missing or corrupt data, bad arguments)
print one line ``tfnas: error: ...`` to stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from tfnas.datasets import DATASETS, dataset_spec, default_data_root, sample_batch
from tfnas.proxy_names import PROXIES
from tfnas.space import Arch, parse_arch

EXIT_USAGE = 2


class UsageError(Exception):
    """A command-line mistake; reported as one ``tfnas: error:`` line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's default prints usage + exits
        raise UsageError(f"{message} (see '{self.prog} -h')")


# --- tfnas score ----------------------------------------------------------------------------

def read_archs(archs: Sequence[str], archs_file: Path | None) -> list[Arch]:
    """``--arch`` strings, then the lines of ``--archs-file`` (blank lines and ``#`` skipped)."""
    parsed = [parse_arch(text) for text in archs]
    if archs_file is not None:
        try:
            lines = archs_file.read_text().splitlines()
        except OSError as err:
            raise UsageError(f"cannot read --archs-file {archs_file}: {err.strerror}") from None
        for number, line in enumerate(lines, start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                try:
                    parsed.append(parse_arch(line.strip()))
                except ValueError as err:
                    raise ValueError(f"{archs_file}:{number}: {err}") from None
    if not parsed:
        raise UsageError("no architecture given; pass --arch 'ARCH' or --archs-file FILE")
    return parsed


def json_number(value: float) -> float | str:
    """Finite floats as they are; ±inf (and NaN) as the strings "-inf"/"inf"/"nan", because
    JSON has no infinity (Python's ``-Infinity`` is not JSON). ``float()`` reads both back."""
    return value if math.isfinite(value) else str(value)


def score_record(arch: Arch, scores: dict) -> dict:
    """One ``--json`` line: arch, naswot, synflow, params, flops, seconds{proxy: s}."""
    record: dict = {"arch": str(arch)}
    for proxy, result in scores.items():
        record[proxy] = int(result.score) if proxy == "params" else json_number(result.score)
    record["seconds"] = {proxy: result.seconds for proxy, result in scores.items()}
    return record


_TABLE = "{:>10} {:>10} {:>10} {:>9}  {:>8} {:>9} {:>8} {:>8}  {}"
_HEADER = _TABLE.format("naswot", "synflow", "params", "MFLOPs",
                        "naswot_s", "synflow_s", "params_s", "flops_s", "arch")


def table_row(arch: Arch, scores: dict) -> str:
    s = {proxy: result.score for proxy, result in scores.items()}
    t = [f"{scores[p].seconds:.4f}" for p in ("naswot", "synflow", "params", "flops")]
    return _TABLE.format(f"{s['naswot']:.3f}", f"{s['synflow']:.3f}", f"{int(s['params']):,}",
                         f"{s['flops']:.3f}", *t, arch)


def cmd_score(args: argparse.Namespace) -> int:
    import torch  # torch (~2 s to import) only for the command that runs networks
    from tqdm import tqdm

    from tfnas.scoring import score_arch

    archs = read_archs(args.arch, args.archs_file)
    spec = dataset_spec(args.dataset)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: torch sees no CUDA device; use --device cpu")
    batch = sample_batch(spec.name, args.data, batch_size=args.batch_size, seed=args.seed)
    if not args.json:
        print(f"# {spec.name}: {args.batch_size} training images from {args.data} "
              f"(fingerprint {batch.fingerprint}), seed {args.seed}, device {args.device}")
        print(_HEADER)
    for arch in tqdm(archs, desc="scoring", unit="arch", disable=None, leave=False):
        scores = score_arch(arch, spec.name, batch.images, PROXIES, seed=args.seed,
                            device=args.device)
        line = (json.dumps(score_record(arch, scores), allow_nan=False) if args.json
                else table_row(arch, scores))
        tqdm.write(line, file=sys.stdout)
    return 0


# --- tfnas tables / correlations / plot (replays and reports from the database) --------------

def _note(text: str) -> None:
    print(f"note: {' '.join(str(text).split())}", file=sys.stderr)


def cmd_tables(args: argparse.Namespace) -> int:
    from tfnas.reporting import load_scores, write_csv
    from tfnas.tables import render, tables

    scores, notes = load_scores(args.db)
    result = tables(scores, n=args.n, runs=args.runs, accuracy=args.accuracy, seed=args.seed)
    for note in notes:
        _note(note)
    for name, frame in result.items():
        for note in frame.attrs["notes"]:
            _note(note)
        if not frame.empty:
            print(render(frame) + "\n")
            _note(f"wrote {write_csv(frame, args.out / f'table_{name}.csv')}")
    return 0


def cmd_correlations(args: argparse.Namespace) -> int:
    from tfnas.correlations import correlation_table, render, seed_spread
    from tfnas.reporting import load_scores, load_seed_scores, write_csv

    scores, notes = load_scores(args.db)
    for note in notes:
        _note(note)
    table = correlation_table(scores, seed=args.seed)
    spread = seed_spread(load_seed_scores(args.db), scores)
    table = table.merge(spread, on=["dataset", "proxy", "accuracy"], how="left")
    print(render(table))
    _note(f"wrote {write_csv(table, args.out / 'correlations.csv')}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from tfnas.plots import score_accuracy_figure, search_curves, search_figure
    from tfnas.reporting import load_scores, save_figure
    from tfnas.search import ScoreTable

    scores, notes = load_scores(args.db)
    curves = {}
    for proxy in PROXIES:
        scored = {name: frame for name, frame in scores.items() if frame[proxy].notna().any()}
        if not scored:
            notes.append(f"no {proxy} scores: no figure for {proxy}")
            continue
        figure = score_accuracy_figure(scored, proxy, args.accuracy)
        _note(f"wrote {save_figure(figure, args.out / f'fig3_{proxy}.png')}")
        for dataset, frame in scored.items():
            try:
                table = ScoreTable.from_frame(frame, proxy, args.accuracy)
            except ValueError as err:
                notes.append(f"search figure, {proxy} on {dataset}: {err}")
                continue
            curves[proxy, dataset] = search_curves(table, runs=100)
            if not table.complete:
                notes.append(f"search figure, {proxy} on {dataset}: no regularized evolution, "
                             f"only {len(table.scored)} architectures are scored")
    for note in notes:
        _note(note)
    if curves:
        _note(f"wrote {save_figure(search_figure(curves), args.out / 'search_time.png')}")
    return 0


# --- the parser -----------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tfnas", description="Training-free NAS proxies on NATS-Bench TSS.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    score = commands.add_parser(
        "score", help="score architectures with naswot, synflow, params and flops",
        description="Score architectures on one seeded training batch. Higher is better for "
                    "every score; -inf marks a singular NASWOT kernel or a zero synflow.")
    score.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASETS)}")
    score.add_argument("--data", type=Path, default=default_data_root(),
                       help="dataset root (holding cifar-10-batches-py/, cifar-100-python/ or "
                            "ImageNet16/), that subfolder, or an .npz with x and y "
                            "(default: %(default)s)")
    score.add_argument("--arch", action="append", default=[], metavar="ARCH",
                       help="NATS-Bench architecture string; repeat for several")
    score.add_argument("--archs-file", type=Path, metavar="FILE",
                       help="file with one architecture string per line")
    score.add_argument("--seed", type=int, default=0, help="batch and weight seed (default 0)")
    score.add_argument("--batch-size", type=int, default=128, help="images (default 128)")
    score.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    score.add_argument("--json", action="store_true",
                       help="one JSON object per architecture per line: arch, naswot, synflow, "
                            "params, flops, seconds {proxy: seconds}; -inf is written \"-inf\"")
    score.set_defaults(handler=cmd_score)

    db_help = "tfnas DuckDB file (default: %(default)s)"
    accuracy_help = ("accuracy column of arch_scores: test_acc_12ep (the study's), "
                     "test_acc_200ep, valid_acc_12ep, valid_acc_200ep (default: %(default)s)")
    tables = commands.add_parser(
        "tables", help="Tables I-V of the study: random search and REA with naswot / synflow",
        description="Replay random search and regularized evolution against the database for "
                    "every scored dataset and print Tables I-V as Markdown beside the study's "
                    "numbers; CSV files go to --out.")
    tables.add_argument("--db", type=Path, default=Path("out/tfnas.duckdb"), help=db_help)
    tables.add_argument("--runs", type=int, default=500, help="runs per cell (default 500)")
    tables.add_argument("--accuracy", default="test_acc_12ep", help=accuracy_help)
    tables.add_argument("--n", type=int, default=100,
                        help="random-search sample size of Tables II and III (default 100)")
    tables.add_argument("--out", type=Path, default=Path("out/tables"),
                        help="folder for table_I.csv ... table_V.csv (default: %(default)s)")
    tables.add_argument("--seed", type=int, default=0, help="search seed (default 0)")
    tables.set_defaults(handler=cmd_tables)

    correlations = commands.add_parser(
        "correlations", help="Pearson, Spearman, Kendall and top-k precision of every proxy",
        description="Correlation of every proxy with every accuracy column per dataset, with "
                    "95% bootstrap intervals and published values; spread over seeds where "
                    "several were scored.")
    correlations.add_argument("--db", type=Path, default=Path("out/tfnas.duckdb"), help=db_help)
    correlations.add_argument("--out", type=Path, default=Path("out/correlations"),
                              help="folder for correlations.csv (default: %(default)s)")
    correlations.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    correlations.set_defaults(handler=cmd_correlations)

    plot = commands.add_parser(
        "plot", help="figures: score vs accuracy (Fig. 3) and search accuracy vs time",
        description="PNG figures: fig3_<proxy>.png (score against accuracy per dataset) and "
                    "search_time.png (random search vs regularized evolution).")
    plot.add_argument("--db", type=Path, default=Path("out/tfnas.duckdb"), help=db_help)
    plot.add_argument("--out", type=Path, default=Path("out/figures"),
                      help="folder for the PNG files (default: %(default)s)")
    plot.add_argument("--accuracy", default="test_acc_12ep", help=accuracy_help)
    plot.set_defaults(handler=cmd_plot)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tfnas`` console script; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except (UsageError, ValueError, OSError) as err:
        print(f"tfnas: error: {' '.join(str(err).split())}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tfnas: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
