"""Scorer throughput, GEMM efficiency, tile sizes and pipeline memory on this machine (CPU, float32).

Figures, all measured in one run:

1. float32 GEMM peak: ``torch.mm`` on large square matrices, best of several repeats;
2. samples/s of clip_score, neg_clip_loss, norm_sim (p = 2 and p = ∞) and norm_sim_d, called
   directly on an in-memory synthetic pool (unit-norm random embeddings);
3. negCLIPLoss achieved GFLOP/s (2·m²·d per batch of m and repetition) and its share of the peak;
4. NormSim∞ achieved GFLOP/s (2·N·d per sample) and its share of the peak;
5. NormSim₂ speed-up over the direct n×N product (squared, summed, square-rooted);
6. peak RSS of ``pairsift.stages.score.score`` over an on-disk DataComp-layout pool, in a subprocess;
7. (``--only tiles``) one negCLIPLoss batch and one NormSim∞ block at each candidate tile side, the
   measurement behind ``CPU_TILE``, ``CPU_REDUCE_ROWS`` and ``CPU_TILE_REDUCE`` in ``pairsift/device.py``.

Usage::

    python benchmarks/score_throughput.py               # acceptance sizes (idle machine: ~15-30 min)
    python benchmarks/score_throughput.py --quick       # smoke test (~1-2 min)
    python benchmarks/score_throughput.py --only gemm,norm_sim_inf --targets 20000

Progress goes to stderr (logging); the figures and a summary table go to stdout. Without
``--quick`` the exit status is 1 when a target is missed. Parts that report a fraction of the GEMM
peak (neg_clip_loss, norm_sim_inf) always run ``gemm`` too. Linux only (``ru_maxrss`` in KiB).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from pairsift import device as device_module
from pairsift.data import EmbeddingBatch, PoolReader, image_key, text_key
from pairsift.device import Compute
from pairsift.scorers import SCORERS, PoolScorer
from pairsift.scorers.neg_clip_loss import batch_sizes, log_batch_sums
from pairsift.scorers.norm_sim import streamed_norm
from pairsift.stages.score import score as score_pipeline
from pairsift.stages.score_config import ComputeConfig, ScoreConfig, ScorerSpec
from pairsift.uids import format_uids

logger = logging.getLogger("score_throughput")
T = TypeVar("T")

FAMILY = "l14"
GIB = 1024**3
PARTS = ("gemm", "clip_score", "neg_clip_loss", "norm_sim_2", "norm_sim_inf", "norm_sim_d", "rss", "tiles")
#: what runs without ``--only``: ``tiles`` (the tile-size sweep behind the device.py constants) is asked for
DEFAULT_PARTS = PARTS[:-1]
#: tile sides the ``tiles`` part tries for negCLIPLoss (CPU_TILE) and (rows, targets) for NormSim
#: (CPU_REDUCE_ROWS, CPU_TILE_REDUCE)
TILE_SIDES = (256, 512, 768, 1024, 1536)
REDUCE_SIDES = ((512, 4096), (1024, 2048), (1024, 4096), (2048, 2048))
TILE_ROWS = 16_384
#: parts whose figures are a fraction of the GEMM peak; they pull in ``gemm``
NEEDS_PEAK = ("neg_clip_loss", "norm_sim_inf")
#: norm of the noise added to a unit image embedding to make its text: cos ≈ 1/√(1+σ²) ≈ 0.32
TEXT_NOISE = 3.0

#: 1-minute load average above which the machine counts as busy
BUSY_LOAD = 0.5

TARGET_NEG_FRACTION = 0.80
TARGET_INF_FRACTION = 0.90
TARGET_SPEEDUP = 100.0
TARGET_RSS_GIB = 2.0


@dataclass(frozen=True)
class Sizes:
    """Problem sizes. The defaults are the acceptance sizes."""

    samples: int = 200_000
    shard_rows: int = 65_536
    dim: int = 768
    targets: int = 100_000
    neg_batch: int = 32_768
    neg_k: int = 10
    tau: float = 0.01
    direct_samples: int = 8192
    gemm_size: int = 4096
    gemm_repeats: int = 5
    rss_samples: int = 1_000_000
    rss_shards: int = 16
    rss_targets: int = 1000
    rss_neg_k: int = 1
    seed: int = 0


QUICK = Sizes(
    samples=20_000,
    shard_rows=8192,
    targets=10_000,
    neg_k=1,
    direct_samples=2048,
    gemm_size=2048,
    gemm_repeats=3,
    rss_samples=100_000,
    rss_shards=8,
)


@dataclass
class Row:
    """One line of the summary table."""

    label: str
    value: str
    target: str = ""
    passed: bool | None = None


@dataclass(frozen=True)
class Kernel:
    """A GEMM-bound scorer run: flops, scoring time, target share, and the peak measured around it.

    ``peak`` is the best of the GEMM peaks measured right before and right after the kernel: the
    GEMM speed of these shared machines drifts by 10-20 % over minutes, so a peak taken at another
    time would compare different conditions.
    """

    label: str
    flops: float
    seconds: float
    target: float
    peak: float = 0.0


# --- helpers ---------------------------------------------------------------------------------
def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def unit_rows(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((rows, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def image_text_pair(rng: np.random.Generator, rows: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Random unit image embeddings and texts ``normalize(image + noise)``."""
    image = unit_rows(rng, rows, dim)
    text = image + rng.standard_normal((rows, dim), dtype=np.float32) * np.float32(
        TEXT_NOISE / math.sqrt(dim)
    )
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    return image, text


def random_uids(rng: np.random.Generator, rows: int) -> np.ndarray:
    keys = rng.integers(0, 2**63, size=(rows, 2), dtype=np.int64).astype(np.uint64)
    keys[:, 0] |= np.uint64(1) << np.uint64(63)  # spread over the full 128-bit range
    return format_uids(keys)


def shard_lengths(total: int, per_shard: int) -> list[int]:
    full, rest = divmod(total, per_shard)
    return [per_shard] * full + ([rest] if rest else [])


def gflops(flops: float, seconds: float) -> float:
    return flops / seconds / 1e9


def mark(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: ""}[passed]


class InMemoryPool(PoolReader):
    """A :class:`PoolReader` over already built batches (``requires`` is ignored)."""

    def __init__(self, batches: list[EmbeddingBatch]) -> None:
        self._batches = {b.shard: b for b in batches}

    def shards(self) -> list[str]:
        return list(self._batches)

    def read(self, shard: str, requires: frozenset[str]) -> EmbeddingBatch:
        return self._batches[shard]

    def __iter__(self) -> Iterator[EmbeddingBatch]:
        return iter(self._batches.values())

    def __len__(self) -> int:
        return sum(len(b) for b in self._batches.values())


# --- the benchmark context -------------------------------------------------------------------
class Bench:
    """Sizes, compute context, scratch directory, and the lazily built pool and targets."""

    def __init__(self, sizes: Sizes, workdir: Path) -> None:
        self.sizes = sizes
        self.workdir = workdir
        self.compute = Compute.resolve("cpu")
        self.peaks: list[float] = []  # GFLOP/s, one per GEMM measurement
        self.kernels: list[Kernel] = []  # GEMM-bound scorer runs, reported as a share of the peak
        self.rates: dict[str, float] = {}  # samples/s per scorer label

    @cached_property
    def pool(self) -> InMemoryPool:
        s = self.sizes
        rng = np.random.default_rng([s.seed, 1])
        lengths = shard_lengths(s.samples, s.shard_rows)
        logger.info(
            "building an in-memory pool: %d samples in %d shards, d=%d", s.samples, len(lengths), s.dim
        )
        batches = []
        for index, rows in enumerate(lengths):
            image, text = image_text_pair(rng, rows, s.dim)
            batches.append(
                EmbeddingBatch.build(f"{index:08d}", random_uids(rng, rows), image=image, text=text)
            )
        return InMemoryPool(batches)

    @cached_property
    def target_path(self) -> Path:
        s = self.sizes
        logger.info("writing %d random targets (d=%d)", s.targets, s.dim)
        path = self.workdir / "targets.npy"
        np.save(path, unit_rows(np.random.default_rng([s.seed, 2]), s.targets, s.dim))
        return path

    def release_pool(self) -> None:
        self.__dict__.pop("pool", None)

    def score_all(self, label: str, kind: str, params: dict[str, Any]) -> tuple[float, list[np.ndarray]]:
        """Set up a per-shard scorer and score every shard; returns (scoring seconds, scores)."""
        scorer = SCORERS.get(kind)(**params)
        _, setup = timed(lambda: scorer.setup(self.compute, family=FAMILY))
        seconds, outputs = 0.0, []
        for batch in self.pool:
            values, dt = timed(partial(scorer.score, batch, self.compute, seed=0))
            seconds += dt
            outputs.append(values)
            logger.info("  %s shard %s: %d rows in %.2fs", label, batch.shard, len(batch), dt)
        check_finite(label, outputs)
        self.rates[label] = len(self.pool) / seconds
        logger.info("%s: %.0f samples/s (setup %.2fs)", label, self.rates[label], setup)
        return seconds, outputs


def check_finite(label: str, outputs: list[np.ndarray]) -> None:
    bad = sum(int((~np.isfinite(v)).sum()) for v in outputs)
    if bad:
        raise RuntimeError(f"{label}: {bad} non-finite scores on an all-valid pool")


# --- parts -----------------------------------------------------------------------------------
def measure_peak(sizes: Sizes) -> float:
    """float32 GEMM GFLOP/s: ``torch.mm`` on ``gemm_size``² matrices, best of ``gemm_repeats``."""
    n = sizes.gemm_size
    gen = torch.Generator().manual_seed(sizes.seed)
    a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)  # warm-up
    best = min(timed(lambda: torch.mm(a, b, out=out))[1] for _ in range(sizes.gemm_repeats))
    peak = gflops(2 * n**3, best)
    print(f"GEMM peak (float32, {n}^2, best of {sizes.gemm_repeats}): {peak:.1f} GFLOP/s")
    return peak


def part_gemm(bench: Bench) -> list[Row]:
    logger.info("GEMM peak with %d threads", torch.get_num_threads())
    bench.peaks.append(measure_peak(bench.sizes))
    return []


def peak_rows(bench: Bench) -> list[Row]:
    """The best GEMM peak seen, and each kernel's share of the peak measured around it."""
    if not bench.peaks:
        return []
    peak = max(bench.peaks)
    runs = " / ".join(f"{p:.0f}" for p in bench.peaks)
    rows = [Row(f"GEMM peak fp32 ({bench.sizes.gemm_size}^2)", f"{peak:.1f} GFLOP/s (runs {runs})")]
    for k in bench.kernels:
        achieved = gflops(k.flops, k.seconds)
        share = achieved / k.peak
        print(f"{k.label}: GEMM peak around it {k.peak:.1f} GFLOP/s")
        note = " (>100 %: peak measured low, machine busy?)" if share > 1 else ""
        print(f"{k.label}: {achieved:.1f} GFLOP/s = {100 * share:.1f} % of the GEMM peak{note}")
        value = f"{100 * share:.1f} % ({achieved:.0f} of {k.peak:.0f} GFLOP/s){note}"
        rows.append(Row(f"{k.label} % of GEMM peak", value, f">= {100 * k.target:.0f} %", share >= k.target))
    return rows


def rate_row(bench: Bench, label: str) -> Row:
    rate = bench.rates[label]
    print(f"{label}: {rate:,.0f} samples/s over {len(bench.pool):,} samples")
    return Row(f"{label} throughput", f"{rate:,.0f} samples/s")


def part_clip_score(bench: Bench) -> list[Row]:
    bench.score_all("clip_score", "clip_score", {})
    return [rate_row(bench, "clip_score")]


def neg_clip_loss_flops(bench: Bench) -> float:
    """K · Σ over shards and batches of 2·m²·d (one m×m×d product per batch and repetition)."""
    s = bench.sizes
    per_rep = sum(2 * m * m * s.dim for b in bench.pool for m in batch_sizes(len(b), s.neg_batch, "balanced"))
    return float(s.neg_k * per_rep)


def part_neg_clip_loss(bench: Bench) -> list[Row]:
    s = bench.sizes
    label = f"neg_clip_loss b={s.neg_batch} K={s.neg_k}"
    params = {"batch_size": s.neg_batch, "k": s.neg_k, "tau": s.tau}
    before = measure_peak(s)
    seconds, _ = bench.score_all(label, "neg_clip_loss", params)
    peak = max(before, measure_peak(s))
    bench.peaks.append(peak)
    bench.kernels.append(
        Kernel("negCLIPLoss", neg_clip_loss_flops(bench), seconds, TARGET_NEG_FRACTION, peak)
    )
    return [rate_row(bench, label)]


def part_norm_sim_inf(bench: Bench) -> list[Row]:
    s = bench.sizes
    label = f"norm_sim p=inf N={s.targets}"
    bench.target_path  # written before the peak is taken  # noqa: B018
    before = measure_peak(s)
    seconds, _ = bench.score_all(label, "norm_sim", {"target": str(bench.target_path), "p": "inf"})
    peak = max(before, measure_peak(s))
    bench.peaks.append(peak)
    flops = 2.0 * s.targets * s.dim * len(bench.pool)
    bench.kernels.append(Kernel("NormSim-inf", flops, seconds, TARGET_INF_FRACTION, peak))
    return [rate_row(bench, label)]


def tile_sweep_row(label: str, flops: float, run: Callable[[], object], sizes: Sizes) -> Row:
    before = measure_peak(sizes)
    run()  # warm-up
    seconds = min(timed(run)[1] for _ in range(2))
    peak = max(before, measure_peak(sizes))
    rate = gflops(flops, seconds)
    return Row(label, f"{seconds:.2f} s, {rate:.0f} GFLOP/s = {100 * rate / peak:.1f} % of {peak:.0f}")


def part_tiles(bench: Bench) -> list[Row]:
    """Time one negCLIPLoss batch and one NormSim∞ block at each candidate tile side."""
    s = bench.sizes
    rng = np.random.default_rng(s.seed)
    m = min(TILE_ROWS, s.neg_batch)
    f, g = (torch.from_numpy(x) for x in image_text_pair(rng, m, s.dim))
    targets = torch.from_numpy(unit_rows(rng, min(s.targets, 4 * TILE_ROWS), s.dim))
    rows = []
    saved = device_module.CPU_TILE, device_module.CPU_TILE_REDUCE, device_module.CPU_REDUCE_ROWS
    try:
        for side in TILE_SIDES:
            device_module.CPU_TILE = side
            run = partial(log_batch_sums, f, g, s.tau, bench.compute)
            rows.append(tile_sweep_row(f"tile {side}: negCLIPLoss m={m}", 2.0 * m * m * s.dim, run, s))
        for block_rows, block_cols in REDUCE_SIDES:
            device_module.CPU_REDUCE_ROWS, device_module.CPU_TILE_REDUCE = block_rows, block_cols
            run = partial(streamed_norm, f, targets, math.inf, bench.compute)
            flops = 2.0 * m * len(targets) * s.dim
            label = f"reduce tile {block_rows}x{block_cols}: NormSim-inf N={len(targets)}"
            rows.append(tile_sweep_row(label, flops, run, s))
    finally:
        device_module.CPU_TILE, device_module.CPU_TILE_REDUCE, device_module.CPU_REDUCE_ROWS = saved
    for r in rows:
        print(r.label, r.value)
    return rows


def direct_norm_sim_2(f: torch.Tensor, targets: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """``sqrt(Σ_t (f·g_t)²)`` from the full n×N similarity matrix, ``chunk`` targets at a time."""
    acc = torch.zeros(len(f), dtype=torch.float64)
    buf = torch.empty(len(f) * chunk)
    for j0 in range(0, len(targets), chunk):
        block = targets[j0 : j0 + chunk]
        sim = buf[: len(f) * len(block)].view(len(f), len(block))
        torch.mm(f, block.T, out=sim)
        acc += sim.square_().sum(dim=1, dtype=torch.float64)
    return acc.sqrt_().float()


def part_norm_sim_2(bench: Bench) -> list[Row]:
    s = bench.sizes
    label = f"norm_sim p=2 N={s.targets}"
    _, outputs = bench.score_all(label, "norm_sim", {"target": str(bench.target_path), "p": 2})
    first = next(iter(bench.pool))
    assert first.image is not None
    n = min(s.direct_samples, len(first))
    f = torch.from_numpy(first.image[:n])
    targets = torch.from_numpy(np.load(bench.target_path))
    logger.info("direct NormSim-2: %d samples x %d targets", n, len(targets))
    direct, seconds = timed(lambda: direct_norm_sim_2(f, targets))
    error = float(np.max(np.abs(direct.numpy() - outputs[0][:n]) / direct.numpy()))
    direct_rate = n / seconds
    speedup = bench.rates[label] / direct_rate
    print(f"direct NormSim-2 on {n} samples: {direct_rate:,.0f} samples/s (max rel. diff {error:.1e})")
    print(f"NormSim-2 speed-up over the direct product: {speedup:.1f}x (ideal N/d = {s.targets / s.dim:.0f})")
    return [
        rate_row(bench, label),
        Row(
            "NormSim-2 speed-up vs direct",
            f"{speedup:.1f}x (N/d={s.targets / s.dim:.0f})",
            f">= {TARGET_SPEEDUP:.0f}x",
            speedup >= TARGET_SPEEDUP,
        ),
    ]


def part_norm_sim_d(bench: Bench) -> list[Row]:
    scorer = SCORERS.get("norm_sim_d")()
    assert isinstance(scorer, PoolScorer)
    scorer.setup(bench.compute, family=FAMILY)
    pool = bench.pool
    logger.info("norm_sim_d over %d samples", len(pool))
    out, seconds = timed(lambda: scorer.score_pool(pool, bench.compute, seed=0, workdir=bench.workdir))
    check_finite("norm_sim_d", list(out.values()))
    bench.rates["norm_sim_d"] = len(pool) / seconds
    return [rate_row(bench, "norm_sim_d")]


# --- peak RSS through the real pipeline ------------------------------------------------------
def write_disk_pool(directory: Path, sizes: Sizes) -> None:
    """A DataComp-layout pool: ``NNNNNNNN.parquet`` (uid) + ``NNNNNNNN.npz`` (float16), shard by shard."""
    directory.mkdir(parents=True)
    rng = np.random.default_rng([sizes.seed, 3])
    lengths = shard_lengths(sizes.rss_samples, math.ceil(sizes.rss_samples / sizes.rss_shards))
    logger.info("writing a %d-sample pool in %d shards to %s", sizes.rss_samples, len(lengths), directory)
    for index, rows in enumerate(lengths):
        image, text = image_text_pair(rng, rows, sizes.dim)
        stem = directory / f"{index:08d}"
        pq.write_table(
            pa.table({"uid": pa.array(random_uids(rng, rows), pa.string())}), stem.with_suffix(".parquet")
        )
        arrays = {image_key(FAMILY): image.astype(np.float16), text_key(FAMILY): text.astype(np.float16)}
        np.savez(stem.with_suffix(".npz"), **arrays)  # type: ignore[arg-type]


def rss_scorers(sizes: Sizes, target: Path) -> list[dict[str, Any]]:
    return [
        {"kind": "clip_score"},
        {"kind": "norm_sim", "target": str(target), "p": 2},
        {"kind": "norm_sim", "target": str(target), "p": "inf"},
        {"kind": "neg_clip_loss", "batch_size": sizes.neg_batch, "k": sizes.rss_neg_k, "tau": sizes.tau},
    ]


def rss_child(spec: dict[str, Any]) -> None:
    """Child process: run the pipeline and print one JSON line with this process's peak RSS."""
    config = ScoreConfig(
        pool=spec["pool"],
        output=spec["output"],
        embeddings=FAMILY,
        scorers=tuple(ScorerSpec.parse(s) for s in spec["scorers"]),
        compute=ComputeConfig(device="cpu"),
    )
    summary, seconds = timed(lambda: score_pipeline(config))
    print(
        json.dumps({"maxrss_kib": peak_rss_kib(), "seconds": seconds, "rows": summary.rows, "ok": summary.ok})
    )


def peak_rss_kib() -> int:
    """This process's peak RSS (VmHWM) in KiB.

    Not ``ru_maxrss``: Linux carries the high-water mark of the forked parent's memory across
    exec into ``ru_maxrss`` (of the child and of RUSAGE_CHILDREN), which inflates a child's figure
    by whatever the parent held; VmHWM belongs to the child's own address space.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def part_rss(bench: Bench) -> list[Row]:
    s = bench.sizes
    pool = bench.workdir / "rss_pool"
    write_disk_pool(pool, s)
    target = bench.workdir / "rss_targets.npy"
    np.save(target, unit_rows(np.random.default_rng([s.seed, 4]), s.rss_targets, s.dim))
    spec = {"pool": str(pool), "output": str(bench.workdir / "rss_run"), "scorers": rss_scorers(s, target)}
    logger.info("scoring it through pairsift.stages.score.score in a subprocess")
    threads = str(torch.get_num_threads())
    command = [sys.executable, __file__, "--threads", threads, "--rss-child", json.dumps(spec)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if not report["ok"] or report["rows"] != s.rss_samples:
        raise RuntimeError(f"pipeline run failed or incomplete: {report}")
    peak = report["maxrss_kib"] * 1024 / GIB
    print(
        f"pipeline on {s.rss_samples:,} samples ({s.rss_shards} shards, clip_score, norm_sim p=2 and p=inf "
        f"with {s.rss_targets} targets, neg_clip_loss K={s.rss_neg_k}): {report['seconds']:.0f}s, "
        f"peak RSS {peak:.2f} GiB"
    )
    return [
        Row(
            f"peak RSS, {s.rss_samples:,}-sample pipeline",
            f"{peak:.2f} GiB",
            f"<= {TARGET_RSS_GIB:.0f} GiB",
            peak <= TARGET_RSS_GIB,
        )
    ]


PART_FUNCS: dict[str, Callable[[Bench], list[Row]]] = {
    "gemm": part_gemm,
    "clip_score": part_clip_score,
    "neg_clip_loss": part_neg_clip_loss,
    "norm_sim_2": part_norm_sim_2,
    "norm_sim_inf": part_norm_sim_inf,
    "norm_sim_d": part_norm_sim_d,
    "rss": part_rss,
    "tiles": part_tiles,
}


# --- command line ----------------------------------------------------------------------------
QUICK_HELP = {f.name: f"--quick: {getattr(QUICK, f.name)}" for f in dataclasses.fields(Sizes)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_PARTS),
        help=f"comma-separated parts out of {','.join(PARTS)} (default: all but tiles)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument(
        "--tmpdir", default=None, help="scratch directory (the RSS pool needs ~3 GB at full size)"
    )
    for f in dataclasses.fields(Sizes):
        flag = "--" + f.name.replace("_", "-")
        parser.add_argument(
            flag,
            type=type(f.default),
            default=None,
            help=f"default {f.default} ({QUICK_HELP[f.name]})",
        )
    parser.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def resolve_sizes(args: argparse.Namespace) -> Sizes:
    base = QUICK if args.quick else Sizes()
    overrides = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(Sizes) if getattr(args, f.name) is not None
    }
    return dataclasses.replace(base, **overrides)


def resolve_parts(only: str) -> list[str]:
    wanted = {p.strip() for p in only.split(",") if p.strip()}
    unknown = wanted - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown part(s) {sorted(unknown)}; choose from {','.join(PARTS)}")
    if wanted & set(NEEDS_PEAK):
        wanted.add("gemm")
    return [p for p in PARTS if p in wanted]


def print_table(rows: list[Row], quick: bool) -> None:
    if not rows:
        return
    widths = [
        max(len(r.label) for r in rows),
        max(len(r.value) for r in rows),
        max(len(r.target) for r in rows),
    ]
    print()
    print("=" * (sum(widths) + 12))
    print(f"{'figure':<{widths[0]}}  {'value':<{widths[1]}}  {'target':<{widths[2]}}  mark")
    print("-" * (sum(widths) + 12))
    for r in rows:
        print(f"{r.label:<{widths[0]}}  {r.value:<{widths[1]}}  {r.target:<{widths[2]}}  {mark(r.passed)}")
    print("=" * (sum(widths) + 12))
    if quick:
        print("--quick: sizes are below the acceptance sizes; the marks are indicative only.")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.rss_child is not None:
        rss_child(json.loads(args.rss_child))
        return 0
    sizes = resolve_sizes(args)
    parts = resolve_parts(args.only)
    logger.info(
        "parts %s, sizes %s, torch %s with %d threads",
        parts,
        sizes,
        torch.__version__,
        torch.get_num_threads(),
    )
    start_load = os.getloadavg()[0]
    if start_load > BUSY_LOAD:
        logger.warning(
            "load average %.2f: other work is running, the figures will be low and noisy", start_load
        )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="pairsift-bench-", dir=args.tmpdir) as tmp:
        bench = Bench(sizes, Path(tmp))
        for part in parts:
            if part == "rss":
                bench.release_pool()  # keep the parent small while the child runs
            rows += PART_FUNCS[part](bench)
        rows = peak_rows(bench) + rows
    load = os.getloadavg()
    print_table(sorted(rows, key=lambda r: r.passed is not None), args.quick)
    print(f"load average at start / end: {start_load:.2f} / {load[0]:.2f} (1 min)")
    failed = any(r.passed is False for r in rows)
    return 1 if failed and not args.quick else 0


if __name__ == "__main__":
    sys.exit(main())
