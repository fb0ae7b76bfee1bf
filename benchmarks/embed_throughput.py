"""End-to-end embedding throughput: images/s for decode + preprocess + encode + write.

Generates a tiny-world pool (JPEG tars), then runs ``pairsift embed`` on it for each requested
DataLoader worker count and reports images/s (model loading excluded, the rest included).

``--profile`` first times each step alone, in this process and one thread at a time, over the first
shard: reading the member bytes, JPEG decoding, preprocessing (resize, crop, normalise), tokenizing,
the image tower and the text tower, as ms per image and share of the total.

    python benchmarks/embed_throughput.py                          # bundled teacher on CPU
    python benchmarks/embed_throughput.py --model open_clip:ViT-B-32 --device cuda --precision fp16 \\
        --image-size 256 --batch-size 512                          # random-weight ViT-B/32 on a GPU
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from pairsift.device import Compute, torch_threads
from pairsift.io.images import decode_image
from pairsift.io.raw import RawInput, open_raw_input
from pairsift.models.encoders import Encoder, load_encoder
from pairsift.stages.embed import EmbedConfig, embed
from pairsift.world import WorldConfig, generate

logger = logging.getLogger("embed_throughput")


def profile(source: RawInput, encoder: Encoder, batch_size: int) -> None:
    """Time the embedding steps one after the other on the first shard, single-threaded."""
    shard = source.shards()[0]
    samples = list(source.samples(shard))
    steps: dict[str, float] = {}

    @contextmanager
    def step(name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        steps[name] = steps.get(name, 0.0) + time.perf_counter() - start

    preprocess, tokenize = encoder.transforms()
    with torch_threads(1):
        for b0 in range(0, len(samples), batch_size):
            batch = samples[b0 : b0 + batch_size]
            with step("read member bytes"):
                data = [source.image_bytes(s) for s in batch]
            with step("decode JPEG"):
                images = [decode_image(d, 1 << 30)[0] for d in data]
            with step("preprocess"):
                pixels = torch.stack([preprocess(i) for i in images if i is not None])
            with step("tokenize"):
                tokens = tokenize([s.text or "" for s in batch])
            with step("image tower"):
                encoder.encode_image(pixels)
            with step("text tower"):
                encoder.encode_text(tokens)
    total = sum(steps.values())
    n = len(samples)
    print(f"profile over {n} samples of shard {shard}, 1 thread, batch {batch_size}:")
    for name, seconds in steps.items():
        print(f"  {name:<18} {1000 * seconds / n:7.3f} ms/image  {100 * seconds / total:5.1f} %")
    print(f"  {'total':<18} {1000 * total / n:7.3f} ms/image = {n / total:,.0f} images/s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="pairsift:tiny-world")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--image-size", type=int, default=64, help="rendered image side in pixels")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--num-workers", default="0,1", help="comma-separated DataLoader worker counts")
    parser.add_argument(
        "--threads",
        default=None,
        help="comma-separated torch thread counts of the model's process (default: torch's)",
    )
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--profile", action="store_true", help="time each step alone first (see above)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    compute = Compute.resolve(args.device, args.precision)
    start = time.perf_counter()
    encoder = load_encoder(args.model, compute)
    logger.info("loaded %s in %.1fs", args.model, time.perf_counter() - start)
    with tempfile.TemporaryDirectory(prefix="pairsift-embed-", dir=args.tmpdir) as tmp:
        world = Path(tmp) / "world"
        generate(world, WorldConfig(samples=args.samples, image_size=args.image_size, tasks=()))
        print(
            f"model {args.model} on {compute.device} ({args.precision}); {args.samples} JPEG samples of "
            f"{args.image_size}px in tars of 1000; batch {args.batch_size}"
        )
        if args.profile:
            profile(open_raw_input(str(world / "pool")), encoder, args.batch_size)
        thread_counts = (
            [int(t) for t in args.threads.split(",")] if args.threads else [torch.get_num_threads()]
        )
        runs = [(w, t) for w in (int(w) for w in args.num_workers.split(",")) for t in thread_counts]
        for workers, threads in runs:
            config = EmbedConfig(
                input=str(world / "pool"),
                output=str(Path(tmp) / f"pool-{workers}-{threads}"),
                model=args.model,
                batch_size=args.batch_size,
                device=args.device,
                precision=args.precision,
                num_workers=workers,
            )
            start = time.perf_counter()
            with torch_threads(threads):
                summary = embed(config, encoder=encoder)
            seconds = time.perf_counter() - start
            rate = summary.rows / seconds
            run = f"num_workers={workers} threads={threads}"
            print(f"{run}: {summary.rows} rows in {seconds:.1f}s = {rate:,.0f} images/s")
            print(f"  statuses {summary.statuses}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
