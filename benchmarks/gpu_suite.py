"""GPU suite: one table of what one GPU does with pairsift's scorers, encoders and captioner.

Sections (each one catches its own failures and reports them as ``FAILED: …`` rows):

``gemm``
    ``torch.mm`` peak at fp32, TF32, bf16 and fp16 (square matrices, best of several repeats): the
    reference for the kernels' "% of GEMM peak".
``neg_clip_loss``
    negCLIPLoss (b = 32768, K = 10, τ = 0.01) on 131,072 random unit rows at d = 768, through
    ``build_scorer`` / ``setup`` / ``score``: samples/s, achieved TFLOP/s (K·Σ 2·m²·d) and the max abs
    error against a float64 reference on a separate sample (32,768 rows, one batch of 32,768).
``norm_sim_inf``
    NormSim∞ of 131,072 rows against 262,144 targets: samples/s, TFLOP/s (2·N·d per sample), the cost
    per sample and target (the real workload has N = 1.3M targets), and the max abs error against a
    float64 reference on 4,096 rows.
``norm_sim_d``
    NormSim-D (defaults) over a 524,288-row pool in 8 shards: samples/s.
``embed``
    open_clip ViT-B-32 and ViT-L-14 (random weights, fp16) image + text towers from real JPEG bytes
    (a few hundred ~256 px JPEGs made with PIL, cycled into one webdataset tar): (a) pairsift's own
    path, ``stages.embed.embed_chunks`` with CPU DataLoader workers decoding and preprocessing;
    (b) ``torchvision.io.decode_jpeg(..., device="cuda")`` in batches, then resize, crop and
    normalise on the GPU. Pairs/s and GPU utilisation (``torch.cuda.utilization`` or ``nvidia-smi``).
``caption``
    a BLIP-base-sized ``BlipForConditionalGeneration`` (``BlipConfig()`` defaults, random weights,
    fp16) through pairsift's ``BlipCaptioner`` with SIEVE's settings (8 nucleus-sampled captions per
    image): images/s.
``projection``
    the wall time of the DataComp-medium recipe on one GPU (embed 128M pairs with ViT-L/14,
    negCLIPLoss K = 10 and NormSim∞ against 1.3M targets on them), from the measured per-sample costs;
    every assumption is printed.

Usage::

    python benchmarks/gpu_suite.py --json gpu.json        # one H100/H200: a few minutes (<= 8)
    python benchmarks/gpu_suite.py --dry-run --json o.json  # CPU, tiny sizes, checks the plumbing
    python benchmarks/gpu_suite.py --only neg_clip_loss,norm_sim_inf

``--dry-run`` runs every section on the CPU with tiny sizes and tiny model configs (bf16/fp16 kernels
run on the CPU through a hand-built ``Compute``, which ``Compute.resolve`` refuses for real runs) and
checks that every row is produced and that the fp32 errors are small. Without ``--dry-run`` and
without CUDA the suite exits with status 2. Exit status 1 when a row failed or a self-check failed.
Progress goes to stderr; the table to stdout.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import logging
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

logger = logging.getLogger("gpu_suite")

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")
EMBED_MODELS = ("ViT-B-32", "ViT-L-14")
EMBED_PATHS = ("cpu-workers", "gpu-decode")
SECTIONS = ("gemm", "neg_clip_loss", "norm_sim_inf", "norm_sim_d", "embed", "caption", "projection")
FAMILY = "l14"
TAU = 0.01
#: norm of the noise added to a unit image embedding to make its text: cos ≈ 1/√(1+σ²) ≈ 0.32
TEXT_NOISE = 3.0
#: the errors the dry run accepts against float64 at fp32 (and at "tf32", a no-op on the CPU)
DRY_FP32_TOLERANCE = 1e-4

# The DataComp-medium recipe that ``projection`` extrapolates to.
RECIPE_SAMPLES = 128_000_000
RECIPE_TARGETS = 1_300_000
RECIPE_K = 10
RECIPE_BATCH = 32_768


def expected_ids() -> dict[str, list[str]]:
    """The row ids every run prints, by section (``env`` rows always come)."""
    return {
        "env": ["env/device", "env/wall"],
        "gemm": [f"gemm/{p}" for p in PRECISIONS],
        "neg_clip_loss": [f"neg_clip_loss/{p}" for p in PRECISIONS],
        "norm_sim_inf": [f"norm_sim_inf/{p}" for p in PRECISIONS],
        "norm_sim_d": ["norm_sim_d/fp32"],
        "embed": [f"embed/{m}/{p}" for m in EMBED_MODELS for p in EMBED_PATHS],
        "caption": ["caption/blip-base"],
        "projection": [
            "projection/embed",
            "projection/neg_clip_loss",
            "projection/norm_sim_inf",
            "projection/total",
        ],
    }


@dataclass(frozen=True)
class Sizes:
    """Problem sizes; the defaults fit one H100/H200 in a few minutes."""

    dim: int = 768
    gemm_side: int = 8192
    gemm_repeats: int = 10
    neg_rows: int = 131_072
    neg_batch: int = 32_768
    neg_k: int = 10
    neg_err_rows: int = 32_768
    neg_err_batch: int = 32_768
    neg_err_k: int = 1
    ns_rows: int = 131_072
    ns_targets: int = 262_144
    ns_err_rows: int = 4096
    nsd_rows: int = 524_288
    nsd_shard: int = 65_536
    jpegs: int = 384
    jpeg_side: int = 256
    embed_images: int = 8192
    embed_warmup: int = 512
    embed_batch: int = 256
    caption_batch: int = 64
    caption_batches: int = 2


DRY = Sizes(
    dim=64,
    gemm_side=256,
    gemm_repeats=2,
    neg_rows=512,
    neg_batch=128,
    neg_k=2,
    neg_err_rows=256,
    neg_err_batch=128,
    neg_err_k=2,
    ns_rows=512,
    ns_targets=2048,
    ns_err_rows=256,
    nsd_rows=2048,
    nsd_shard=512,
    jpegs=4,
    embed_images=8,
    embed_warmup=2,
    embed_batch=4,
    caption_batch=2,
    caption_batches=1,
)

#: tiny open_clip configs standing in for ViT-B-32 and ViT-L-14 in the dry run (same patch sizes)
DRY_MODELS = {"ViT-B-32": ("pairsift-dry-b32", 32), "ViT-L-14": ("pairsift-dry-l14", 14)}


@dataclass
class Row:
    """One line of the table; ``metrics`` holds the numbers behind ``value`` for the JSON."""

    id: str
    value: str
    note: str = ""
    failed: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)


def failed_row(row_id: str, exc: BaseException) -> Row:
    message = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    if len(message) > 300:
        message = message[:297] + "..."
    return Row(row_id, f"FAILED: {message}", failed=True, metrics={"error": message})


# --- helpers ---------------------------------------------------------------------------------
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn: Callable[[], Any]) -> tuple[Any, float]:
    """``(fn(), seconds)`` with the device synchronised before and after."""
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return result, time.perf_counter() - start


def unit_rows(rows: int, dim: int, seed: int, device: torch.device) -> torch.Tensor:
    """Random unit float32 rows, generated on ``device`` (fast on a GPU), returned there."""
    gen = torch.Generator(device=device).manual_seed(seed)
    x = torch.randn(rows, dim, generator=gen, device=device)
    return x / x.norm(dim=1, keepdim=True)


def image_text(rows: int, dim: int, seed: int, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Unit image rows and texts ``normalize(image + noise)`` (own cosine ≈ 0.32), as numpy float32."""
    image = unit_rows(rows, dim, seed, device)
    gen = torch.Generator(device=device).manual_seed(seed + 1)
    text = image + torch.randn(rows, dim, generator=gen, device=device) * (TEXT_NOISE / math.sqrt(dim))
    text = text / text.norm(dim=1, keepdim=True)
    return image.cpu().numpy(), text.cpu().numpy()


def random_uids(rows: int, seed: int) -> np.ndarray:
    from pairsift.uids import format_uids

    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 2**63, size=(rows, 2), dtype=np.int64).astype(np.uint64)
    keys[:, 0] |= np.uint64(1) << np.uint64(63)
    return format_uids(keys)


def flop_rate(flops_per_s: float) -> str:
    if flops_per_s >= 1e12:
        return f"{flops_per_s / 1e12:,.2f} TFLOP/s"
    return f"{flops_per_s / 1e9:,.2f} GFLOP/s"


def hours(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h" if seconds >= 360 else f"{seconds:,.1f} s"


def release() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class UtilSampler:
    """GPU utilisation (%) sampled in a background thread: ``torch.cuda.utilization`` (needs
    pynvml / nvidia-ml-py), else ``nvidia-smi``; ``summary()`` says "n/a" when neither works."""

    def __init__(self, device: torch.device, period: float = 0.1) -> None:
        self.device = device
        self.period = period
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.method = self._probe()

    def _probe(self) -> str | None:
        if self.device.type != "cuda":
            return None
        try:
            torch.cuda.utilization(self.device)
            return "torch.cuda.utilization"
        except Exception:
            pass
        self._smi = [
            "nvidia-smi",
            "--query-gpu=utilization.gpu",
            "--format=csv,noheader,nounits",
        ]
        try:
            uuid = str(torch.cuda.get_device_properties(self.device).uuid)
            self._smi.append(f"--id={uuid if uuid.startswith(('GPU-', 'MIG-')) else 'GPU-' + uuid}")
        except Exception:
            pass
        for command in (self._smi, self._smi[:3]):
            if shutil.which(command[0]) and self._smi_read(command) is not None:
                self._smi = command
                return "nvidia-smi"
        return None

    @staticmethod
    def _smi_read(command: list[str]) -> float | None:
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=5, check=True).stdout
            return float(out.strip().splitlines()[0])
        except Exception:
            return None

    def _read(self) -> float | None:
        if self.method == "torch.cuda.utilization":
            try:
                return float(torch.cuda.utilization(self.device))
            except Exception:
                return None
        return self._smi_read(self._smi)

    def _loop(self) -> None:
        while not self._stop.is_set():
            value = self._read()
            if value is not None:
                self.samples.append(value)
            self._stop.wait(self.period)

    def start(self) -> None:
        if self.method is not None and self._thread is None:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def summary(self) -> str:
        if not self.samples:
            return "GPU util n/a"
        return (
            f"GPU util mean {statistics.fmean(self.samples):.0f} %, max {max(self.samples):.0f} % "
            f"({len(self.samples)} samples, {self.method})"
        )

    def mean(self) -> float | None:
        return statistics.fmean(self.samples) if self.samples else None


class MemoryPool:
    """A ``PoolReader`` over in-memory batches (``requires`` is ignored)."""

    def __init__(self, batches: list[Any]) -> None:
        self._batches = {b.shard: b for b in batches}

    def shards(self) -> list[str]:
        return list(self._batches)

    def read(self, shard: str, requires: frozenset[str]) -> Any:
        return self._batches[shard]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._batches.values())

    def __len__(self) -> int:
        return sum(len(b) for b in self._batches.values())


# --- float64 references (independent of the kernels; only the batch partition is shared) --------
def lse_rows(a: torch.Tensor, b: torch.Tensor, tau: float, block: int = 2048) -> torch.Tensor:
    """``τ·logsumexp_j (a_i·b_j)/τ`` per row of ``a``, float64, ``block`` rows at a time."""
    out = torch.empty(len(a), dtype=torch.float64, device=a.device)
    for i0 in range(0, len(a), block):
        out[i0 : i0 + block] = tau * torch.logsumexp(a[i0 : i0 + block] @ b.T / tau, dim=1)
    return out


def reference_neg_clip_loss(
    batch: Any, batch_size: int, k: int, tau: float, seed: int, device: torch.device
) -> np.ndarray:
    """METHODS.md §2 in float64: ``s_ii − mean over partitions of ½(row lse + column lse)``."""
    from pairsift.scorers.neg_clip_loss import batch_sizes, random_order

    f = torch.from_numpy(batch.image).to(device, torch.float64)
    g = torch.from_numpy(batch.text).to(device, torch.float64)
    own = (f * g).sum(dim=1)
    norm = torch.zeros(len(f), dtype=torch.float64, device=device)
    for rep in range(k):
        order = torch.from_numpy(random_order(batch.uid_keys, seed, rep)).to(device)
        start = 0
        for size in batch_sizes(len(f), batch_size, "balanced"):
            idx = order[start : start + size]
            start += size
            fb, gb = f[idx], g[idx]
            norm[idx] += 0.5 * (lse_rows(fb, gb, tau) + lse_rows(gb, fb, tau))
    return (own - norm / k).cpu().numpy()


def reference_norm_sim_inf(image: np.ndarray, targets: np.ndarray, device: torch.device) -> np.ndarray:
    """``max_t |f·g_t|`` in float64, 16384 targets at a time."""
    f = torch.from_numpy(image).to(device, torch.float64)
    best = torch.zeros(len(f), dtype=torch.float64, device=device)
    for j0 in range(0, len(targets), 16384):
        t = torch.from_numpy(targets[j0 : j0 + 16384]).to(device, torch.float64)
        best = torch.maximum(best, (f @ t.T).abs().amax(dim=1))
    return best.cpu().numpy()


def max_abs_error(values: np.ndarray, reference: np.ndarray) -> float:
    if not np.isfinite(values).all():
        return math.inf
    return float(np.max(np.abs(values.astype(np.float64) - reference)))


# --- images ------------------------------------------------------------------------------------
def make_jpegs(count: int, side: int, seed: int = 0) -> list[bytes]:
    """``count`` JPEGs of about ``side`` px (four aspect ratios): smooth colour fields plus noise,
    which compress and decode about like photographs."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    shapes = [(side, side), (side * 3 // 4, side), (side, side * 3 // 4), (side * 3 // 4, side * 4 // 3)]
    out = []
    for i in range(count):
        h, w = shapes[i % len(shapes)]
        low = Image.fromarray((rng.random((6, 6, 3)) * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)
        pixels = np.asarray(low, dtype=np.float32) + rng.normal(0, 10, (h, w, 3))
        buf = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def caption_of(i: int) -> str:
    return f"a photo of object number {i} on a plain background"


def write_tar(directory: Path, name: str, jpegs: list[bytes], count: int) -> Path:
    """A webdataset tar ``directory/name.tar`` of ``count`` samples cycling through ``jpegs``."""
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(directory / f"{name}.tar", "w") as tar:
        for i in range(count):
            for suffix, data in (("jpg", jpegs[i % len(jpegs)]), ("txt", caption_of(i).encode())):
                info = tarfile.TarInfo(f"{i:07d}.{suffix}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return directory


def gpu_preprocess(
    images: list[torch.Tensor], size: int, mean: torch.Tensor, std: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    """open_clip's eval transform on decoded uint8 CHW tensors, on their device: shorter side to
    ``size`` (bicubic, antialiased), centre crop, /255, normalise."""
    out = torch.empty(len(images), 3, size, size, device=images[0].device)
    for i, img in enumerate(images):
        _, h, w = img.shape
        short, long = (h, w) if h <= w else (w, h)
        new_long = int(size * long / short)
        new_h, new_w = (size, new_long) if h <= w else (new_long, size)
        resized = torch.nn.functional.interpolate(
            img[None].float(), size=(new_h, new_w), mode="bicubic", antialias=True, align_corners=False
        )[0]
        top, left = round((new_h - size) / 2.0), round((new_w - size) / 2.0)
        out[i] = resized[:, top : top + size, left : left + size]
    out.clamp_(0, 255).div_(255).sub_(mean[:, None, None]).div_(std[:, None, None])
    return out.to(dtype)


def normalisation(preprocess: Any) -> tuple[list[float], list[float]]:
    """The Normalize mean/std of a torchvision Compose (open_clip's), else OpenAI CLIP's."""
    for t in getattr(preprocess, "transforms", []):
        if type(t).__name__ == "Normalize":
            return list(t.mean), list(t.std)
    return [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]


def image_size(encoder: Any) -> int:
    size = getattr(encoder.model.visual, "image_size", 224)
    return int(size[0] if isinstance(size, (tuple, list)) else size)


# --- the suite ---------------------------------------------------------------------------------
class Suite:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.dry = args.dry_run
        self.sizes = DRY if self.dry else Sizes()
        self.device = torch.device("cpu" if self.dry else args.device)
        self.workdir = workdir
        default_workers = 1 if self.dry else max(1, min(16, (os.cpu_count() or 2) - 1))
        self.workers = args.workers if args.workers is not None else default_workers
        self.rows: dict[str, Row] = {}
        self.peaks: dict[str, float] = {}  # TFLOP/s by precision
        self.measured: dict[str, float] = {}  # per-sample costs for the projection
        self.problems: list[str] = []  # self-check failures
        self._jpegs: list[bytes] | None = None

    # ---- bookkeeping ----
    def emit(self, row: Row) -> None:
        self.rows[row.id] = row
        logger.info("%s: %s %s", row.id, row.value, row.note)

    def guard(self, ids: list[str], fn: Callable[[], None]) -> None:
        """Run ``fn``; on an exception, every id of ``ids`` it did not emit becomes a FAILED row."""
        try:
            fn()
        except Exception as exc:  # a failed part must not hide the others
            logger.error("%s failed:\n%s", ids, traceback.format_exc())
            for row_id in ids:
                if row_id not in self.rows:
                    self.emit(failed_row(row_id, exc))
        finally:
            release()

    def attempt(self, row_id: str, fn: Callable[[], Row]) -> None:
        self.guard([row_id], lambda: self.emit(fn()))

    @property
    def jpegs(self) -> list[bytes]:
        if self._jpegs is None:
            self._jpegs = make_jpegs(self.sizes.jpegs, self.sizes.jpeg_side)
        return self._jpegs

    def compute(self, precision: str) -> Any:
        """The Compute of a precision label ("tf32" is fp32 with TF32 switched on around the call).

        In the dry run the half precisions get a hand-built CPU Compute (``Compute.resolve`` refuses
        them on a CPU) so that their code paths and errors are exercised too.
        """
        from pairsift.device import PRECISIONS as DTYPES
        from pairsift.device import Compute

        base = "fp32" if precision == "tf32" else precision
        if self.device.type == "cpu" and base != "fp32":
            return Compute(self.device, DTYPES[base])
        return Compute.resolve(str(self.device), base)

    def with_precision(self, precision: str, fn: Callable[[], Any]) -> Any:
        old = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        try:
            return fn()
        finally:
            torch.backends.cuda.matmul.allow_tf32 = old

    def cpu_note(self, precision: str) -> str:
        if self.device.type != "cpu" or precision == "fp32":
            return ""
        if precision == "tf32":
            return " [CPU: the TF32 flag has no effect, this is fp32]"
        return f" [CPU emulation of {precision}: hand-built Compute, output rounding as on a GPU]"

    def share(self, precision: str, tflops: float) -> str:
        peak = self.peaks.get(precision)
        return f" ({100 * tflops / peak:.0f} % of GEMM peak)" if peak else ""

    # ---- env ----
    def env_row(self) -> Row:
        import open_clip
        import torchvision
        import transformers

        versions = (
            f"torch {torch.__version__}, torchvision {torchvision.__version__}, open_clip "
            f"{open_clip.__version__}, transformers {transformers.__version__}, python "
            f"{platform.python_version()}, {os.cpu_count()} CPUs, DataLoader workers: {self.workers}"
        )
        if self.device.type == "cuda":
            props = torch.cuda.get_device_properties(self.device)
            value = f"{props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}"
            metrics = {
                "gpu": props.name,
                "memory_gib": props.total_memory / 2**30,
                "cuda": torch.version.cuda,
            }
        else:
            value = "cpu (DRY RUN: tiny sizes, not GPU figures)"
            metrics = {"gpu": None}
        return Row("env/device", value, versions, metrics={**metrics, "versions": versions})

    # ---- gemm ----
    def section_gemm(self) -> None:
        for precision in PRECISIONS:
            self.attempt(
                f"gemm/{precision}", lambda p=precision: self.with_precision(p, lambda: self.gemm(p))
            )

    def gemm(self, precision: str) -> Row:
        s = self.sizes
        dtype = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
        gen = torch.Generator(device=self.device).manual_seed(0)
        a = torch.randn(s.gemm_side, s.gemm_side, generator=gen, device=self.device).to(dtype[precision])
        b = torch.randn(s.gemm_side, s.gemm_side, generator=gen, device=self.device).to(dtype[precision])
        out = torch.mm(a, b)  # warm-up
        best = min(timed(self.device, lambda: torch.mm(a, b, out=out))[1] for _ in range(s.gemm_repeats))
        tflops = 2 * s.gemm_side**3 / best / 1e12
        self.peaks[precision] = tflops
        return Row(
            f"gemm/{precision}",
            flop_rate(tflops * 1e12),
            f"torch.mm {s.gemm_side}^2, best of {s.gemm_repeats}{self.cpu_note(precision)}",
            metrics={"tflops": tflops, "side": s.gemm_side},
        )

    # ---- negCLIPLoss ----
    def section_neg_clip_loss(self) -> None:
        from pairsift.data import EmbeddingBatch

        s = self.sizes
        image, text = image_text(s.neg_rows, s.dim, 10, self.device)
        batch = EmbeddingBatch.build("neg", random_uids(s.neg_rows, 11), image=image, text=text)
        image, text = image_text(s.neg_err_rows, s.dim, 12, self.device)
        sample = EmbeddingBatch.build("neg-err", random_uids(s.neg_err_rows, 13), image=image, text=text)
        del image, text
        logger.info("negCLIPLoss float64 reference on %d rows", s.neg_err_rows)
        reference = reference_neg_clip_loss(sample, s.neg_err_batch, s.neg_err_k, TAU, 0, self.device)
        spread = float(np.std(reference))
        for precision in PRECISIONS:
            self.attempt(
                f"neg_clip_loss/{precision}",
                lambda p=precision: self.with_precision(
                    p, lambda: self.neg_clip_loss(p, batch, sample, reference, spread)
                ),
            )

    def neg_clip_loss(
        self, precision: str, batch: Any, sample: Any, reference: np.ndarray, spread: float
    ) -> Row:
        from pairsift.scorers import build_scorer
        from pairsift.scorers.neg_clip_loss import batch_sizes

        s = self.sizes
        compute = self.compute(precision)
        check = build_scorer("neg_clip_loss", {"batch_size": s.neg_err_batch, "k": s.neg_err_k, "tau": TAU})
        check.setup(compute, family=FAMILY)
        error = max_abs_error(check.score(sample, compute, seed=0), reference)  # also the warm-up
        scorer = build_scorer("neg_clip_loss", {"batch_size": s.neg_batch, "k": s.neg_k, "tau": TAU})
        scorer.setup(compute, family=FAMILY)
        values, seconds = timed(self.device, lambda: scorer.score(batch, compute, seed=0))
        if not np.isfinite(values).all():
            raise RuntimeError(f"{int((~np.isfinite(values)).sum())} non-finite scores")
        flops = s.neg_k * sum(2.0 * m * m * s.dim for m in batch_sizes(len(batch), s.neg_batch, "balanced"))
        rate, tflops = len(batch) / seconds, flops / seconds / 1e12
        self.measured[f"neg_clip_loss/{precision}"] = seconds / len(batch) / (s.neg_k * s.neg_batch)
        self.check_error(f"neg_clip_loss/{precision}", precision, error)
        return Row(
            f"neg_clip_loss/{precision}",
            f"{rate:,.0f} samples/s, {flop_rate(tflops * 1e12)}{self.share(precision, tflops)}",
            f"max |err| {error:.1e} vs float64 (score std {spread:.1e}; {s.neg_err_rows} rows, "
            f"b={s.neg_err_batch}, K={s.neg_err_k}); timed n={len(batch)}, b={s.neg_batch}, K={s.neg_k}, "
            f"d={s.dim}, {seconds:.2f}s{self.cpu_note(precision)}",
            metrics={
                "samples_per_s": rate,
                "tflops": tflops,
                "seconds": seconds,
                "max_abs_error": error,
                "score_std": spread,
                "rows": len(batch),
                "batch_size": s.neg_batch,
                "k": s.neg_k,
            },
        )

    def check_error(self, row_id: str, precision: str, error: float) -> None:
        if not math.isfinite(error):
            self.problems.append(f"{row_id}: non-finite error against float64")
        elif self.dry and precision in ("fp32", "tf32") and error >= DRY_FP32_TOLERANCE:
            self.problems.append(f"{row_id}: error {error:.1e} >= {DRY_FP32_TOLERANCE:g} at fp32")

    # ---- NormSim∞ ----
    def section_norm_sim_inf(self) -> None:
        from pairsift.data import EmbeddingBatch
        from pairsift.io.targets import load_targets

        s = self.sizes
        path = self.workdir / "targets.npy"
        np.save(path, unit_rows(s.ns_targets, s.dim, 20, self.device).cpu().numpy())
        targets = load_targets(str(path))
        image = unit_rows(s.ns_rows, s.dim, 21, self.device).cpu().numpy()
        batch = EmbeddingBatch.build("ns", random_uids(s.ns_rows, 22), image=image)
        sample = EmbeddingBatch.build(
            "ns-err", batch.uids[: s.ns_err_rows], image=batch.image[: s.ns_err_rows]
        )
        logger.info("NormSim-inf float64 reference on %d rows x %d targets", s.ns_err_rows, s.ns_targets)
        reference = reference_norm_sim_inf(sample.image, targets, self.device)
        del targets, image
        for precision in PRECISIONS:
            self.attempt(
                f"norm_sim_inf/{precision}",
                lambda p=precision: self.with_precision(
                    p, lambda: self.norm_sim_inf(p, path, batch, sample, reference)
                ),
            )

    def norm_sim_inf(self, precision: str, path: Path, batch: Any, sample: Any, reference: np.ndarray) -> Row:
        from pairsift.scorers import build_scorer

        s = self.sizes
        compute = self.compute(precision)
        scorer = build_scorer("norm_sim", {"target": str(path), "p": "inf"})
        scorer.setup(compute, family=FAMILY)
        error = max_abs_error(scorer.score(sample, compute, seed=0), reference)  # also the warm-up
        values, seconds = timed(self.device, lambda: scorer.score(batch, compute, seed=0))
        if not np.isfinite(values).all():
            raise RuntimeError(f"{int((~np.isfinite(values)).sum())} non-finite scores")
        flops = 2.0 * s.ns_targets * s.dim * len(batch)
        rate, tflops = len(batch) / seconds, flops / seconds / 1e12
        per_target = seconds / (len(batch) * s.ns_targets)
        self.measured[f"norm_sim_inf/{precision}"] = per_target
        self.check_error(f"norm_sim_inf/{precision}", precision, error)
        return Row(
            f"norm_sim_inf/{precision}",
            f"{rate:,.0f} samples/s, {flop_rate(tflops * 1e12)}{self.share(precision, tflops)}",
            f"N={s.ns_targets} targets: {per_target * 1e12:,.1f} ps per sample·target "
            f"(= {RECIPE_TARGETS * per_target * 1e3:,.2f} ms per sample at N=1.3M); max |err| "
            f"{error:.1e} vs float64 ({s.ns_err_rows} rows); timed n={len(batch)}, d={s.dim}, {seconds:.2f}s"
            f"{self.cpu_note(precision)}",
            metrics={
                "samples_per_s": rate,
                "tflops": tflops,
                "seconds": seconds,
                "seconds_per_sample_target": per_target,
                "max_abs_error": error,
                "rows": len(batch),
                "targets": s.ns_targets,
            },
        )

    # ---- NormSim-D ----
    def section_norm_sim_d(self) -> None:
        self.attempt("norm_sim_d/fp32", self.norm_sim_d)

    def norm_sim_d(self) -> Row:
        from pairsift.data import EmbeddingBatch
        from pairsift.scorers import PoolScorer, build_scorer

        s = self.sizes
        batches = []
        for index, start in enumerate(range(0, s.nsd_rows, s.nsd_shard)):
            rows = min(s.nsd_shard, s.nsd_rows - start)
            image, text = image_text(rows, s.dim, 100 + 2 * index, self.device)
            uids = random_uids(rows, 101 + 2 * index)
            batches.append(EmbeddingBatch.build(f"{index:08d}", uids, image=image, text=text))
        pool = MemoryPool(batches)
        compute = self.compute("fp32")
        scorer = build_scorer("norm_sim_d", {})
        assert isinstance(scorer, PoolScorer)
        scorer.setup(compute, family=FAMILY)
        out, seconds = timed(
            self.device, lambda: scorer.score_pool(pool, compute, seed=0, workdir=self.workdir)
        )
        values = np.concatenate(list(out.values()))
        if len(values) != len(pool) or not np.isfinite(values).all():
            raise RuntimeError("norm_sim_d: missing or non-finite values on an all-valid pool")
        rate = len(pool) / seconds
        return Row(
            "norm_sim_d/fp32",
            f"{rate:,.0f} samples/s",
            f"{len(pool)} rows in {len(batches)} shards, d={s.dim}, defaults (fraction 0.3, target 0.2, "
            f"10 rounds), {seconds:.2f}s",
            metrics={"samples_per_s": rate, "seconds": seconds, "rows": len(pool)},
        )

    # ---- embedding ----
    def section_embed(self) -> None:
        from pairsift.io.raw import open_raw_input

        s = self.sizes
        warm = open_raw_input(str(write_tar(self.workdir / "raw-warm", "warm", self.jpegs, s.embed_warmup)))
        main = open_raw_input(str(write_tar(self.workdir / "raw-main", "main", self.jpegs, s.embed_images)))
        if self.dry:
            self.register_dry_models()
        for model in EMBED_MODELS:
            ids = [f"embed/{model}/{p}" for p in EMBED_PATHS]
            self.guard(ids, lambda m=model: self.embed_model(m, warm, main))

    def register_dry_models(self) -> None:
        import open_clip

        directory = self.workdir / "open_clip_configs"
        directory.mkdir(exist_ok=True)
        for name, patch in DRY_MODELS.values():
            config = {
                "embed_dim": 32,
                "vision_cfg": {
                    "image_size": 224,
                    "layers": 1,
                    "width": 64,
                    "patch_size": patch,
                    "head_width": 32,
                },
                "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
            }
            (directory / f"{name}.json").write_text(json.dumps(config))
        open_clip.add_model_config(directory)

    def embed_precision(self) -> str:
        return "fp32" if self.device.type == "cpu" else "fp16"

    def embed_model(self, model: str, warm: Any, main: Any) -> None:
        from pairsift.models.encoders import load_encoder

        name = DRY_MODELS[model][0] if self.dry else model
        precision = self.embed_precision()
        start = time.perf_counter()
        encoder = load_encoder(f"open_clip:{name}", self.compute(precision))
        logger.info("loaded open_clip %s (%s) in %.1fs", name, precision, time.perf_counter() - start)
        first: dict[str, np.ndarray] = {}
        self.attempt(
            f"embed/{model}/cpu-workers", lambda: self.embed_pairsift(model, name, encoder, warm, main, first)
        )
        self.attempt(f"embed/{model}/gpu-decode", lambda: self.embed_gpu_decode(model, name, encoder, first))

    def embed_config(self, source: Any, name: str) -> Any:
        from pairsift.stages.embed import EmbedConfig

        return EmbedConfig(
            input=source.url,
            output=str(self.workdir / "unused"),
            model=f"open_clip:{name}",
            batch_size=self.sizes.embed_batch,
            device=str(self.device),
            precision=self.embed_precision(),
            num_workers=self.workers,
        )

    def embed_pairsift(
        self, model: str, name: str, encoder: Any, warm: Any, main: Any, first: dict[str, np.ndarray]
    ) -> Row:
        """pairsift's own path: ``embed_chunks`` (tar -> DataLoader workers decode + preprocess +
        tokenize -> both towers); the DataLoader start of the shard is included, as in a real run."""
        from pairsift.data import OK
        from pairsift.stages.embed import embed_chunks

        def run(source: Any, sampler: UtilSampler | None) -> tuple[int, Counter[str]]:
            images, statuses = 0, Counter[str]()
            config = self.embed_config(source, name)
            for chunk, img, _ in embed_chunks(source, source.shards()[0], encoder, config, with_text=True):
                if sampler is not None:
                    sampler.start()  # after the workers were forked: no thread runs while they fork
                    if "a" not in first and img is not None:
                        first["a"] = img[:8]
                images += len(chunk.image_rows)
                statuses.update(chunk.status)
            return images, statuses

        run(warm, None)
        sampler = UtilSampler(self.device)
        try:
            (images, statuses), seconds = timed(self.device, lambda: run(main, sampler))
        finally:
            sampler.stop()
        if images != self.sizes.embed_images or set(statuses) != {OK}:
            raise RuntimeError(f"{images} of {self.sizes.embed_images} images embedded; statuses {statuses}")
        rate = images / seconds
        self.measured[f"embed/{model}/cpu-workers"] = seconds / images
        return Row(
            f"embed/{model}/cpu-workers",
            f"{rate:,.0f} pairs/s, {sampler.summary()}",
            f"open_clip {name} random weights, {self.embed_precision()}, image+text towers; pairsift "
            f"embed_chunks, DataLoader workers ({self.workers}) decode+preprocess (PIL), batch "
            f"{self.sizes.embed_batch}, {images} JPEGs (~{self.sizes.jpeg_side}px) from one tar, "
            f"{seconds:.2f}s",
            metrics={
                "pairs_per_s": rate,
                "seconds": seconds,
                "images": images,
                "gpu_util_mean": sampler.mean(),
                "workers": self.workers,
            },
        )

    def embed_gpu_decode(self, model: str, name: str, encoder: Any, first: dict[str, np.ndarray]) -> Row:
        """``torchvision.io.decode_jpeg`` on the device in batches, then resize/crop/normalise there;
        captions are tokenized on the CPU beforehand (not timed), both towers run."""
        from torchvision.io import ImageReadMode, decode_jpeg

        s = self.sizes
        preprocess, tokenize = encoder.transforms()
        mean, std = (torch.tensor(v, device=self.device) for v in normalisation(preprocess))
        size = image_size(encoder)
        data = [
            torch.frombuffer(bytearray(self.jpegs[i % len(self.jpegs)]), dtype=torch.uint8)
            for i in range(s.embed_images)
        ]
        tokens = tokenize([caption_of(i) for i in range(s.embed_images)])
        decode_device = str(self.device)

        def run(count: int, sampler: UtilSampler | None) -> np.ndarray | None:
            head = None
            for i0 in range(0, count, s.embed_batch):
                decoded = decode_jpeg(
                    data[i0 : i0 + s.embed_batch], mode=ImageReadMode.RGB, device=decode_device
                )
                pixels = gpu_preprocess(list(decoded), size, mean, std, encoder.dtype)
                img = encoder.encode_image(pixels)
                encoder.encode_text(tokens[i0 : i0 + s.embed_batch])
                if sampler is not None:
                    sampler.start()
                if head is None:
                    head = img[:8].numpy()
            return head

        run(min(s.embed_warmup, s.embed_images), None)
        sampler = UtilSampler(self.device)
        try:
            head, seconds = timed(self.device, lambda: run(s.embed_images, sampler))
        finally:
            sampler.stop()
        rate = s.embed_images / seconds
        self.measured[f"embed/{model}/gpu-decode"] = seconds / s.embed_images
        agreement = ""
        metrics: dict[str, Any] = {"pairs_per_s": rate, "seconds": seconds, "images": s.embed_images}
        if "a" in first and head is not None:
            n = min(len(first["a"]), len(head))
            cos = float(np.min(np.sum(first["a"][:n] * head[:n], axis=1)))
            agreement = f"; min cos to the CPU path's embeddings {cos:.4f} ({n} images)"
            metrics["min_cos_vs_cpu_path"] = cos
        metrics["gpu_util_mean"] = sampler.mean()
        where = "device" if self.device.type == "cuda" else "CPU (dry run stand-in)"
        return Row(
            f"embed/{model}/gpu-decode",
            f"{rate:,.0f} pairs/s, {sampler.summary()}",
            f"decode_jpeg on the {where} in batches of {s.embed_batch}, bicubic resize + crop + normalise "
            f"there, image+text towers ({self.embed_precision()}), tokens made beforehand, "
            f"{s.embed_images} JPEGs, {seconds:.2f}s{agreement}",
            metrics=metrics,
        )

    # ---- captioning ----
    def section_caption(self) -> None:
        self.attempt("caption/blip-base", self.caption)

    def blip(self, dtype: torch.dtype) -> tuple[Any, str]:
        from pairsift.models.captioners import BlipCaptioner

        torch.manual_seed(0)
        if self.dry:
            from pairsift.world.captioner.model import build_model, build_processor

            processor = build_processor()
            model = build_model(len(processor.tokenizer))
            label = "tiny BLIP (dry-run stand-in, 64 px, 3+3 layers)"
        else:
            from transformers import (
                BertTokenizer,
                BlipConfig,
                BlipForConditionalGeneration,
                BlipImageProcessor,
                BlipProcessor,
            )

            config = BlipConfig()  # BLIP base: ViT-B/16 at 384 px, BERT-base decoder, 30,524 tokens
            specials = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]"}
            words = {1000: "a", 1001: "picture", 1002: "of"}
            size = config.text_config.vocab_size - 2
            vocab = {specials.get(i, words.get(i, f"tok{i}")): i for i in range(size)}
            vocab.update({"[DEC]": size, "[ENC]": size + 1})
            tokenizer = BertTokenizer(vocab=vocab, bos_token="[DEC]")
            processor = BlipProcessor(image_processor=BlipImageProcessor(), tokenizer=tokenizer)
            model = BlipForConditionalGeneration(config)
            label = "BLIP-base-sized (BlipConfig() defaults, random weights)"
        captioner = BlipCaptioner(model, processor, device=self.device, dtype=dtype)
        return captioner, label

    def caption(self) -> Row:
        from PIL import Image

        from pairsift.models.caption_settings import CaptionSettings

        s = self.sizes
        precision = "fp32" if self.device.type == "cpu" else "fp16"
        dtype = torch.float32 if precision == "fp32" else torch.float16
        captioner, label = self.blip(dtype)
        params = sum(p.numel() for p in captioner.model.parameters())
        preprocess = captioner.preprocess()
        images = [
            Image.open(io.BytesIO(self.jpegs[i % len(self.jpegs)])).convert("RGB")
            for i in range(s.caption_batch)
        ]
        pixels = torch.stack([preprocess(img) for img in images])
        settings = CaptionSettings()
        captioner.caption(pixels, settings, seed=0)  # warm-up
        sampler = UtilSampler(self.device)
        sampler.start()

        def run() -> list[list[list[str]]]:
            return [captioner.caption(pixels, settings, seed=1 + i) for i in range(s.caption_batches)]

        try:
            outputs, seconds = timed(self.device, run)
        finally:
            sampler.stop()
        for out in outputs:
            if len(out) != s.caption_batch or any(len(c) != settings.num_captions for c in out):
                raise RuntimeError(f"expected {s.caption_batch} x {settings.num_captions} captions")
        count = s.caption_batch * s.caption_batches
        rate = count / seconds
        self.measured["caption/blip-base"] = seconds / count
        return Row(
            "caption/blip-base",
            f"{rate:,.1f} images/s = {rate * settings.num_captions:,.0f} captions/s, {sampler.summary()}",
            f"{label}, {params / 1e6:.0f}M params, {precision}, batch {s.caption_batch} x "
            f"{s.caption_batches}, {settings.num_captions} captions/image (top_p {settings.top_p}, "
            f"{settings.min_length}-{settings.max_length} tokens); random weights never stop early, so "
            f"every caption runs to max_length (worst case); preprocessing not timed; {seconds:.2f}s",
            metrics={"images_per_s": rate, "seconds": seconds, "images": count, "params": params},
        )

    # ---- projection ----
    def section_projection(self) -> None:
        self.attempt("projection/embed", self.project_embed)
        self.attempt("projection/neg_clip_loss", self.project_neg)
        self.attempt("projection/norm_sim_inf", self.project_norm_sim)
        self.attempt("projection/total", self.project_total)

    def cost(self, key: str) -> float:
        if key not in self.measured:
            raise RuntimeError(f"no measurement {key} (its row failed or was not run)")
        return self.measured[key]

    def embed_seconds(self, path: str) -> float:
        return RECIPE_SAMPLES * self.cost(f"embed/ViT-L-14/{path}")

    def neg_seconds(self, precision: str) -> float:
        # measured seconds per sample and unit of K·b: the kernel's cost per sample is 2·K·b·d
        return RECIPE_SAMPLES * RECIPE_K * RECIPE_BATCH * self.cost(f"neg_clip_loss/{precision}")

    def norm_sim_seconds(self, precision: str) -> float:
        return RECIPE_SAMPLES * RECIPE_TARGETS * self.cost(f"norm_sim_inf/{precision}")

    def alternatives(self, fn: Callable[[str], float], skip: str) -> str:
        parts = [f"{p} {hours(fn(p))}" for p in PRECISIONS if p != skip and self._has(fn, p)]
        return ", ".join(parts) or "none measured"

    def _has(self, fn: Callable[[str], float], precision: str) -> bool:
        try:
            fn(precision)
            return True
        except RuntimeError:
            return False

    def project_embed(self) -> Row:
        a = self.embed_seconds("cpu-workers")
        metrics = {"seconds": a}
        other = ""
        if self._has(self.embed_seconds, "gpu-decode"):
            metrics["seconds_gpu_decode"] = self.embed_seconds("gpu-decode")
            other = f"; GPU-decode path: {hours(metrics['seconds_gpu_decode'])}"
        return Row(
            "projection/embed",
            f"{hours(a)} (ViT-L-14, pairsift CPU-worker path)",
            f"assumes: {RECIPE_SAMPLES / 1e6:.0f}M image+text pairs of ~{self.sizes.jpeg_side}px JPEGs, "
            f"the measured per-pair cost (DataLoader workers: {self.workers}; random weights cost the same "
            f"FLOPs as trained ones), reading tars from storage and writing npz/parquet not included{other}",
            metrics=metrics,
        )

    def project_neg(self) -> Row:
        t = self.neg_seconds("fp32")
        s = self.sizes
        return Row(
            "projection/neg_clip_loss",
            f"{hours(t)} (fp32)",
            f"others: {self.alternatives(self.neg_seconds, 'fp32')}; assumes: K={RECIPE_K}, "
            f"b={RECIPE_BATCH}, d={s.dim}, full batches (shards of >= {RECIPE_BATCH} rows), cost per "
            f"sample proportional to K·b (measured at K={s.neg_k}, b={s.neg_batch})",
            metrics={p: self.neg_seconds(p) for p in PRECISIONS if self._has(self.neg_seconds, p)},
        )

    def project_norm_sim(self) -> Row:
        t = self.norm_sim_seconds("fp32")
        s = self.sizes
        return Row(
            "projection/norm_sim_inf",
            f"{hours(t)} (fp32)",
            f"others: {self.alternatives(self.norm_sim_seconds, 'fp32')}; assumes: "
            f"N={RECIPE_TARGETS / 1e6:.1f}M targets held on the GPU "
            f"({RECIPE_TARGETS * s.dim * 4 / 2**30:.1f} GiB at fp32), cost per sample proportional to N "
            f"(measured at N={s.ns_targets})",
            metrics={p: self.norm_sim_seconds(p) for p in PRECISIONS if self._has(self.norm_sim_seconds, p)},
        )

    def project_total(self) -> Row:
        total = self.embed_seconds("cpu-workers") + self.neg_seconds("fp32") + self.norm_sim_seconds("fp32")
        note = "embed (CPU-worker path) + negCLIPLoss + NormSim∞ at fp32, run one after the other"
        metrics: dict[str, Any] = {"seconds": total}
        try:
            fast = self.embed_seconds("gpu-decode") + self.neg_seconds("bf16") + self.norm_sim_seconds("bf16")
            note += f"; with GPU decoding and bf16 scoring: {hours(fast)}"
            metrics["seconds_gpu_decode_bf16"] = fast
        except RuntimeError as exc:
            note += f"; GPU-decode + bf16 total unavailable ({exc})"
        note += "; excludes captioning (SIEVE), I/O, resharding and selection"
        return Row("projection/total", f"{hours(total)} on one GPU", note, metrics=metrics)

    # ---- driver ----
    def run(self, sections: list[str]) -> None:
        start = time.perf_counter()
        self.attempt("env/device", self.env_row)
        ids = expected_ids()
        for name in sections:
            section_start = time.perf_counter()
            logger.info("=== section %s ===", name)
            self.guard(ids[name], getattr(self, f"section_{name}"))
            logger.info("section %s: %.1fs", name, time.perf_counter() - section_start)
        wall = time.perf_counter() - start
        self.emit(
            Row("env/wall", f"{wall:.1f} s", f"sections: {','.join(sections)}", metrics={"seconds": wall})
        )
        for name in ["env", *sections]:
            for row_id in ids[name]:
                if row_id not in self.rows:
                    self.emit(failed_row(row_id, RuntimeError("the section did not produce this row")))


def print_table(rows: list[Row], dry: bool) -> None:
    title = "pairsift GPU suite" + (
        " -- DRY RUN (CPU, tiny sizes: plumbing check, not GPU figures)" if dry else ""
    )
    width_id = max(len(r.id) for r in rows)
    width_value = min(60, max(len(r.value) for r in rows))
    line = "=" * (width_id + width_value + 40)
    print()
    print(title)
    print(line)
    print(f"{'id':<{width_id}}  {'value':<{width_value}}  note")
    print("-" * len(line))
    for r in rows:
        print(f"{r.id:<{width_id}}  {r.value:<{width_value}}  {r.note}")
    print(line)
    if dry:
        print("DRY RUN: every section ran on the CPU with tiny sizes and stand-in models.")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="CPU, tiny sizes: check the plumbing (<= 60 s)"
    )
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the table as JSON")
    parser.add_argument("--device", default="cuda", help="CUDA device (default cuda)")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated out of {','.join(SECTIONS)}"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="DataLoader workers (default: CPUs - 1, <= 16)"
    )
    parser.add_argument("--tmpdir", default=None, help="scratch directory (needs ~1.5 GB at full size)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown:
        print(f"unknown section(s) {unknown}; choose from {','.join(SECTIONS)}", file=sys.stderr)
        return 2
    if not args.dry_run and not torch.cuda.is_available():
        print(
            "gpu_suite: torch sees no CUDA device. This suite measures a GPU; run it on one, or use "
            "--dry-run to check its plumbing on the CPU.",
            file=sys.stderr,
        )
        return 2
    sections = [s for s in SECTIONS if s in wanted]
    with tempfile.TemporaryDirectory(prefix="pairsift-gpu-suite-", dir=args.tmpdir) as tmp:
        suite = Suite(args, Path(tmp))
        suite.run(sections)
    rows = list(suite.rows.values())
    print_table(rows, suite.dry)
    failed = [r.id for r in rows if r.failed]
    if failed:
        print(f"{len(failed)} row(s) FAILED: {', '.join(failed)}")
    for problem in suite.problems:
        print(f"self-check: {problem}")
    if args.json:
        document = {
            "dry_run": suite.dry,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "sections": sections,
            "sizes": asdict(suite.sizes),
            "problems": suite.problems,
            "rows": [asdict(r) for r in rows],
        }
        Path(args.json).write_text(json.dumps(document, indent=2, default=str) + "\n")
    return 1 if failed or suite.problems else 0


if __name__ == "__main__":
    sys.exit(main())
