"""Shard files: which architectures a run scores, scoring a slice of them, and the Parquet file.

A run scores a list of ``arch_code``s (all 15,625, a seeded sample, or a file of arch
strings), split into ``n`` shards: shard ``i`` holds codes ``[i::n]`` of the sorted list.
Each shard is scored in one process and written as ONE Parquet file with one row per
(architecture, proxy) in the columns of :data:`SHARD_SCHEMA` (the pipeline → db contract).
Only rows are kept while scoring, never networks, so memory does not grow with the
number of architectures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from tqdm import tqdm

import tfnas
from db.load import SHARD_SCHEMA
from tfnas.scoring import score_archs
from tfnas.space import NUM_ARCHS, Arch, parse_arch

logger = logging.getLogger(__name__)


#: Architectures per scoring pass: on a GPU one small network cannot fill the device, so
#: :func:`tfnas.scoring.score_archs` runs a group at once; on a CPU one at a time.
GPU_GROUP = 125

NO_DATA = "none"  # data_fingerprint of a run that reads no images (params/flops/synflow only)


def select_archs(limit: int | None = None, archs_file: str | Path | None = None) -> list[int]:
    """The sorted ``arch_code``s a run scores.

    Default: all 15,625. ``limit=N``: the first N of the fixed random permutation
    ``numpy.random.default_rng(0).permutation(15625)``, so a smaller limit is a subset of
    a larger one. ``archs_file``: one NATS-Bench arch string per line (blank lines and
    ``#`` comments skipped, duplicates scored once).
    """
    if limit is not None and archs_file is not None:
        raise ValueError("give --limit or --archs-file, not both")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= NUM_ARCHS:
            raise ValueError(f"--limit must be an integer in 1..{NUM_ARCHS}, got {limit!r}")
        return sorted(int(c) for c in np.random.default_rng(0).permutation(NUM_ARCHS)[:limit])
    if archs_file is not None:
        return sorted({arch.code for arch in read_archs_file(archs_file)})
    return list(range(NUM_ARCHS))


def read_archs_file(path: str | Path) -> list[Arch]:
    """Arch strings, one per line; ``ValueError`` naming the file and line of a bad one."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"--archs-file {path} does not exist; give a text file with one "
                                "NATS-Bench arch string per line")
    archs = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if text:
            try:
                archs.append(parse_arch(text))
            except ValueError as err:
                raise ValueError(f"{path}:{number}: {err}") from None
    if not archs:
        raise ValueError(f"--archs-file {path} lists no architectures")
    return archs


def archs_digest(codes: Sequence[int]) -> str:
    """Short SHA-256 of an arch-code list: identifies the run's architecture set."""
    return hashlib.sha256(np.asarray(codes, dtype=np.int64).tobytes()).hexdigest()[:16]


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


def score_shard(
    codes: Sequence[int],
    dataset: str,
    proxies: Sequence[str],
    seed: int,
    images: torch.Tensor | None,
    fingerprint: str,
    batch_size: int,
    device: torch.device,
    desc: str = "scoring",
) -> pa.Table:
    """Score each architecture of ``codes`` with ``proxies``; one row per (arch, proxy).

    ``images`` is the run's proxy batch (``None`` when no proxy reads data) and
    ``fingerprint`` its :func:`tfnas.datasets.sample_batch` fingerprint (``"none"``
    without data). Raises ``ValueError`` if a proxy returns NaN (scores are never NaN).
    """
    group = GPU_GROUP if device.type == "cuda" else 1
    arch_code, proxy_col, score_col, seconds_col = [], [], [], []
    with tqdm(total=len(codes), desc=desc, unit="arch", mininterval=5) as progress:
        for start in range(0, len(codes), group):
            chunk = [int(code) for code in codes[start:start + group]]
            results = score_archs([Arch.from_code(c) for c in chunk], dataset, images, proxies,
                                  seed, device)
            for code, scores in zip(chunk, results, strict=True):
                for proxy, (score, seconds) in scores.items():
                    if math.isnan(score):
                        raise ValueError(f"{proxy} returned NaN for arch_code {code} on "
                                         f"{dataset}")
                    arch_code.append(code)
                    proxy_col.append(proxy)
                    score_col.append(score)
                    seconds_col.append(seconds)
            progress.update(len(chunk))
    n = len(arch_code)
    constants = {
        "dataset": dataset, "seed": seed, "batch_size": batch_size,
        "data_fingerprint": fingerprint, "augment": False, "device": device_label(device),
        "tfnas_version": tfnas.__version__, "created_at": dt.datetime.now(dt.timezone.utc),
    }
    columns = {"arch_code": arch_code, "proxy": proxy_col, "score": score_col,
               "seconds": seconds_col} | {name: [value] * n for name, value in constants.items()}
    return pa.Table.from_pydict({name: columns[name] for name in SHARD_SCHEMA.names},
                                schema=SHARD_SCHEMA)


def shard_is_complete(path: str | Path, expected_rows: int) -> bool:
    """True if ``path`` is a readable shard file with the shard schema and ``expected_rows``.

    A truncated or corrupt file (unreadable footer or pages), a foreign schema or a
    wrong row count counts as missing, with a warning, so the shard is recomputed.
    """
    path = Path(path)
    if not path.exists():
        return False
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as err:
        logger.warning("shard %s is unreadable (%s); it will be recomputed", path, err)
        return False
    if table.schema != SHARD_SCHEMA or table.num_rows != expected_rows:
        logger.warning("shard %s has %d rows / schema %s, expected %d rows of the shard schema; "
                       "it will be recomputed", path, table.num_rows, table.schema.names,
                       expected_rows)
        return False
    return True
