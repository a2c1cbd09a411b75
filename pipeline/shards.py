"""Which architectures a run scores, and scoring one shard of them into a table of rows.

A run scores a list of ``arch_code``s (all 15,625, a seeded sample, or a file of arch
strings), split into ``n`` shards: shard ``i`` holds codes ``[i::n]`` of the sorted list
(:func:`db.shards.shard_tasks`). Each shard is scored in one process; only rows are kept while
scoring, never networks, so memory does not grow with the number of architectures.
"""

from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa
import torch
from tqdm import tqdm

import tfnas
from db.shards import SHARD_SCHEMA, ShardTask
from tfnas.errors import UserError
from tfnas.proxies import ScoringRun
from tfnas.scoring import score_archs
from tfnas.space import NUM_ARCHS, Arch, read_archs_file, seeded_order

#: Architectures per scoring pass: on a GPU one small network cannot fill the device, so the
#: fast paths run a group at once (grouped convolutions); on a CPU one at a time.
GPU_GROUP = 125


def select_archs(limit: int | None = None, archs_file: str | os.PathLike | None = None
                 ) -> list[int]:
    """The sorted ``arch_code``s a run scores.

    Default: all 15,625. ``limit=N``: the first N of :func:`tfnas.space.seeded_order`, so a
    smaller limit is a subset of a larger one. ``archs_file``:
    :func:`tfnas.space.read_archs_file` (duplicates scored once).
    """
    if limit is not None and archs_file is not None:
        raise UserError("give --limit or --archs-file, not both")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= NUM_ARCHS:
            raise UserError(f"--limit must be an integer in 1..{NUM_ARCHS}, got {limit!r}")
        return sorted(seeded_order()[:limit])
    if archs_file is not None:
        return sorted({arch.code for arch in read_archs_file(archs_file)})
    return list(range(NUM_ARCHS))


def resolve_device(device: str) -> torch.device:
    """``"auto"`` → ``cuda`` if a GPU is visible, else ``cpu``; any torch device string otherwise.

    Call it in the process that scores (after Luigi's fork), never before: it may
    initialise CUDA.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"--device {device} but no CUDA device is visible; use --device cpu")
    return resolved


def device_label(device: torch.device) -> str:
    """What the ``device`` column records: ``cpu`` or ``cuda (<GPU name>)``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def score_shard(task: ShardTask, run: ScoringRun, desc: str = "scoring") -> pa.Table:
    """Score every architecture of ``task`` with its proxies: one row per (arch, proxy), in the
    columns of :data:`db.shards.SHARD_SCHEMA`. A NaN score is an error, never a row."""
    device = torch.device(run.device)
    group = GPU_GROUP if device.type == "cuda" else 1
    arch_code, proxy_col, score_col, seconds_col = [], [], [], []
    codes = list(task.arch_codes)
    with tqdm(total=len(codes), desc=desc, unit="arch", mininterval=5) as progress:
        for start in range(0, len(codes), group):
            chunk = codes[start:start + group]
            results = score_archs([Arch.from_code(c) for c in chunk], run, task.proxies)
            for code, scores in zip(chunk, results, strict=True):
                for proxy, (score, seconds) in scores.items():
                    arch_code.append(code)
                    proxy_col.append(proxy)
                    score_col.append(score)
                    seconds_col.append(seconds)
            progress.update(len(chunk))
    n = len(arch_code)
    constants = {
        "dataset": task.dataset, "seed": task.seed, "batch_size": task.batch_size,
        "data_fingerprint": task.data_fingerprint, "augment": task.augment,
        "device": device_label(device), "tfnas_version": tfnas.__version__,
        "created_at": dt.datetime.now(dt.timezone.utc),
    }
    columns = {"arch_code": arch_code, "proxy": proxy_col, "score": score_col,
               "seconds": seconds_col} | {name: [value] * n for name, value in constants.items()}
    return pa.Table.from_pydict({name: columns[name] for name in SHARD_SCHEMA.names},
                                schema=SHARD_SCHEMA)
