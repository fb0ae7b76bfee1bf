"""End-to-end embedding throughput: images/s for decode + preprocess + encode + write.

Generates a tiny-world pool (JPEG tars), then runs ``pairsift embed`` on it for each requested
DataLoader worker count and reports images/s (model loading excluded, the rest included).

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
from pathlib import Path

from pairsift.device import Compute
from pairsift.models.encoders import load_encoder
from pairsift.stages.embed import EmbedConfig, embed
from pairsift.world import WorldConfig, generate

logger = logging.getLogger("embed_throughput")


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
    parser.add_argument("--tmpdir", default=None)
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
        for workers in (int(w) for w in args.num_workers.split(",")):
            config = EmbedConfig(
                input=str(world / "pool"),
                output=str(Path(tmp) / f"pool-{workers}"),
                model=args.model,
                batch_size=args.batch_size,
                device=args.device,
                precision=args.precision,
                num_workers=workers,
            )
            start = time.perf_counter()
            summary = embed(config, encoder=encoder)
            seconds = time.perf_counter() - start
            rate = summary.rows / seconds
            print(f"num_workers={workers}: {summary.rows} rows in {seconds:.1f}s = {rate:,.0f} images/s")
            print(f"  statuses {summary.statuses}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
