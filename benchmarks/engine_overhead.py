"""What running on Ray costs on this machine, compared with the local engine.

Figures, all measured in one run:

1. per-shard overhead: a task that does nothing, over ``--noop-shards`` shard names, with the local
   engine (in this process), and with Ray (``--actors`` actors of one CPU): seconds to start (Ray: the
   actors' processes and imports) and milliseconds per shard after that;
2. scoring throughput: ``pairsift.stages.score.score`` over one synthetic on-disk pool
   (``pairsift.world.synth``,
   DataComp layout, float16 npz, d = ``--dim``) with clip_score, neg_clip_loss and norm_sim p = inf,
   under ``local`` (1 process), ``local`` (``--actors`` processes) and ``ray`` (``--actors`` actors of
   one CPU each): wall seconds from the call to the summary (Ray's start included, ``ray.init`` not),
   samples/s, and whether the score tables are byte-identical to the first run's;
3. embedding throughput on GPUs, one actor per GPU (``pairsift embed --engine ray`` with
   ``gpus=1`` per actor over a tiny-world pool of JPEG tars): images/s in all and per GPU. Skipped, with a
   message, when torch sees no CUDA device.

Usage::

    python benchmarks/engine_overhead.py              # ~2-3 min on 2 idle cores
    python benchmarks/engine_overhead.py --shards 16 --rows 16384 --embed-model open_clip:ViT-B-32

Progress goes to stderr (logging), figures to stdout. Never run by CI.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from pairsift.engines import EngineConfig, LocalEngine, RayEngine, Resources
from pairsift.stages.embed import EmbedConfig, embed
from pairsift.stages.score import score
from pairsift.stages.score_config import ComputeConfig, ScoreConfig, ScorerSpec
from pairsift.world.synth import SynthConfig, write_pool, write_targets

logger = logging.getLogger("engine_overhead")


class NoopTask:
    """Does nothing per shard: what is left of a call is the engine's own cost."""

    def setup(self) -> None:
        return None

    def __call__(self, shard: str) -> str:
        return shard


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def per_shard_overhead(args: argparse.Namespace) -> None:
    shards = [f"{i:08d}" for i in range(args.noop_shards)]
    print(f"\n1. per-shard overhead: a no-op task over {len(shards)} shards")
    for name, engine in (
        ("local, in-process", LocalEngine(1)),
        (f"ray, {args.actors} actors", ray_engine(args)),
    ):
        first: list[float] = []
        start = time.perf_counter()
        for outcome in engine.map(NoopTask(), shards):
            assert outcome.failure is None, outcome.failure
            first.append(time.perf_counter())
        startup = first[0] - start
        per_shard = (first[-1] - first[0]) / max(1, len(first) - 1) * 1000
        print(f"  {name:<22} start {startup:6.2f}s, then {per_shard:7.3f} ms per shard")


def ray_engine(args: argparse.Namespace) -> RayEngine:
    return RayEngine(cpus=1.0, actors=args.actors, retries=2)


def scoring(args: argparse.Namespace, tmp: Path) -> None:
    synth = SynthConfig(shards=args.shards, rows_per_shard=args.rows, dim=args.dim)
    pool = write_pool(tmp / "pool", synth)
    targets = write_targets(tmp / "targets.npy", synth, count=args.targets)
    samples = args.shards * args.rows
    scorers = (
        ScorerSpec("clip_score"),
        ScorerSpec("neg_clip_loss", {"batch_size": args.batch, "k": args.k}),
        ScorerSpec("norm_sim", {"p": "inf", "target": str(targets)}),
    )
    print(
        f"\n2. scoring {samples:,} samples ({args.shards} shards of {args.rows:,}, d = {args.dim}, float16):"
        f" clip_score, neg_clip_loss (b = {args.batch}, K = {args.k}),"
        f" norm_sim p = inf ({args.targets:,} targets)"
    )
    runs = (
        ("local, 1 process", EngineConfig(), 1),
        (f"local, {args.actors} processes", EngineConfig(), args.actors),
        (f"ray, {args.actors} actors x 1 CPU", EngineConfig(kind="ray", resources=score_resources(args)), 1),
    )
    reference: dict[str, bytes] | None = None
    for name, engine, workers in runs:
        out = tmp / f"run-{len(name)}-{workers}-{engine.kind}"
        config = ScoreConfig(
            pool=str(pool),
            output=str(out),
            scorers=scorers,
            compute=ComputeConfig(device="cpu", workers=workers),
            engine=engine,
        )
        summary, seconds = timed(lambda config=config: score(config))
        assert summary.ok, summary.failures
        tables = {p.name: p.read_bytes() for p in sorted((out / "scores").iterdir())}
        reference = reference or tables
        same = "identical" if tables == reference else "DIFFERENT"
        print(f"  {name:<26} {seconds:7.1f}s  {samples / seconds:9,.0f} samples/s  tables {same}")


def score_resources(args: argparse.Namespace) -> dict[str, Resources]:
    return {"score": Resources(cpus=1.0, actors=args.actors)}


def embedding(args: argparse.Namespace, tmp: Path) -> None:
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus == 0:
        print("\n3. GPU embedding, one actor per GPU: skipped (torch sees no CUDA device)")
        return
    from pairsift.world import WorldConfig, generate

    world = tmp / "world"
    generate(world, WorldConfig(samples=args.embed_samples, image_size=args.image_size, tasks=()))
    engine = EngineConfig(
        kind="ray", resources={"embed": Resources(cpus=args.decoders + 1, gpus=1, actors=gpus)}
    )
    config = EmbedConfig(
        input=str(world / "pool"),
        output=str(tmp / "embedded"),
        model=args.embed_model,
        batch_size=args.embed_batch,
        device="auto",
        precision=args.precision,
        num_workers=args.decoders,
        engine=engine,
    )
    summary, seconds = timed(lambda: embed(config))
    assert summary.ok, summary.failures
    rate = summary.rows / seconds
    print(
        f"\n3. GPU embedding with {args.embed_model} ({args.precision}), {gpus} GPU(s), one actor each with "
        f"{args.decoders} decoding processes: {summary.rows:,} images of {args.image_size}px in "
        f"{seconds:.1f}s (model loading included) = {rate:,.0f} images/s, {rate / gpus:,.0f} per GPU"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--actors", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--noop-shards", type=int, default=500)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--rows", type=int, default=8192)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--batch", type=int, default=8192, help="neg_clip_loss batch size")
    parser.add_argument("--k", type=int, default=2, help="neg_clip_loss repetitions")
    parser.add_argument("--targets", type=int, default=10_000, help="norm_sim target rows")
    parser.add_argument("--embed-model", default="pairsift:tiny-world")
    parser.add_argument("--embed-samples", type=int, default=20_000)
    parser.add_argument("--embed-batch", type=int, default=512)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--decoders", type=int, default=4, help="DataLoader processes per embedding actor")
    parser.add_argument("--precision", default="fp16", help="embedding precision on GPU")
    parser.add_argument("--tmpdir", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    import ray

    _, seconds = timed(lambda: ray.init(include_dashboard=False, log_to_driver=False))
    cpus, threads = os.cpu_count(), torch.get_num_threads()
    print(
        f"machine: {cpus} CPUs (torch uses {threads} threads in-process); "
        f"ray.init: {seconds:.1f}s (not counted)"
    )
    per_shard_overhead(args)
    with tempfile.TemporaryDirectory(prefix="pairsift-engines-", dir=args.tmpdir) as tmp:
        scoring(args, Path(tmp))
        embedding(args, Path(tmp))
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
