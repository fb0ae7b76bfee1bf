"""SIEVE throughput: captions/s of the captioning step and SIEVE scores/s of the scorer.

1. Captioning: ``pairsift caption`` on a tiny-world pool (JPEG tars) with SIEVE's decoding settings
   (8 nucleus-sampled captions per image, 5-20 tokens), model loading excluded.
2. Scoring: :func:`pairsift.scorers.sieve.sieve_columns` with all-MiniLM-L6-v2 on the cached captions
   and the pool's alt-texts, with and without masking; and on the same rows made all-distinct (a
   suffix per row), the worst case for the per-shard de-duplication of texts.
3. With ``--gpu`` and CUDA: captioning with a randomly initialised BLIP of BLIP-base's size
   (ViT-B/16 at 384 px, BERT-base decoder, 30,524 tokens), fp16, on random images.

    python benchmarks/sieve_throughput.py                       # tiny captioner on CPU
    python benchmarks/sieve_throughput.py --gpu --device cuda   # also BLIP-base-sized on a GPU
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from pairsift.device import Compute
from pairsift.models.caption_settings import CaptionSettings
from pairsift.models.captioners import BlipCaptioner
from pairsift.models.sentence import load_text_model
from pairsift.scorers.sieve import sieve_columns
from pairsift.scorers.text_masking import masker
from pairsift.stages.caption import CaptionConfig, caption
from pairsift.world import WorldConfig, generate

logger = logging.getLogger("sieve_throughput")


def caption_rate(world: Path, out: Path, args: argparse.Namespace) -> Path:
    config = CaptionConfig(
        input=str(world / "pool"),
        output=str(out),
        model=args.captioner,
        device=args.device,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
    )
    from pairsift.models.captioners import load_captioner

    start = time.perf_counter()
    load_captioner(args.captioner, Compute.resolve(args.device))  # warm the import and file caches
    logger.info("captioner loads in %.1fs", time.perf_counter() - start)
    summary = caption(config)
    seconds = summary.seconds
    n = CaptionSettings().num_captions
    print(
        f"captioning  {args.captioner} on {args.device}: {summary.images} images, batch {args.batch_size}, "
        f"{n} captions each: {summary.images / seconds:,.1f} images/s = {n * summary.images / seconds:,.0f} "
        f"captions/s ({seconds:.1f}s incl. decoding and the captioner load of each shard task)"
    )
    return out


def scoring_rate(world: Path, captions: Path, args: argparse.Namespace) -> None:
    caps: list[list[str] | None] = []
    for path in sorted(captions.glob("*.parquet")):
        table = pq.read_table(path).to_pylist()
        caps += [r["captions"] for r in table]
    labels = pq.read_table(world / "labels.parquet", columns=["caption"]).column("caption").to_pylist()
    texts = np.array([t if t is not None else "" for t in labels], dtype=object)
    encoder = load_text_model("all-MiniLM-L6-v2", Compute.resolve(args.device))
    encoder.encode(["warm up"])
    distinct_caps = [[f"{c} {i}" for c in row] if row else row for i, row in enumerate(caps)]
    distinct_texts = np.array([f"{t} {i}" for i, t in enumerate(texts)], dtype=object)
    for label, alt, rows, mode in (
        ("world texts, no masking", texts, caps, "none"),
        ("world texts, word masking", texts, caps, "words"),
        ("all-distinct texts", distinct_texts, distinct_caps, "none"),
    ):
        start = time.perf_counter()
        sieve_columns(alt, rows, masker(mode), encoder.encode)
        seconds = time.perf_counter() - start
        unique = len({t for r in rows if r for t in r} | set(alt))
        print(
            f"sieve       {label:<28} {len(alt) / seconds:>9,.0f} scores/s  ({len(alt)} rows, "
            f"{unique:,} distinct texts, {unique / seconds:,.0f} texts embedded/s)"
        )


def gpu_blip_base(args: argparse.Namespace) -> None:
    if not torch.cuda.is_available():
        print("gpu         skipped: no CUDA device here")
        return
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    torch.manual_seed(0)
    model = BlipForConditionalGeneration(BlipConfig())  # BLIP-base sizes, random weights
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "picture", "of"])}
    vocab.update({f"w{i}": i for i in range(len(vocab), 30524)})
    tokenizer = BertTokenizer(vocab=vocab, bos_token="[DEC]")
    processor = BlipProcessor(image_processor=BlipImageProcessor(), tokenizer=tokenizer)
    captioner = BlipCaptioner(model, processor, device=torch.device("cuda"), dtype=torch.float16)
    settings = CaptionSettings()
    pixels = torch.randn(args.gpu_batch, 3, 384, 384)
    captioner.caption(pixels, settings, seed=0)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(args.gpu_batches):
        captioner.caption(pixels, settings, seed=i)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    images = args.gpu_batch * args.gpu_batches
    print(
        f"gpu         BLIP-base-sized random, fp16, batch {args.gpu_batch}: "
        f"{images / seconds:,.1f} images/s = "
        f"{settings.num_captions * images / seconds:,.0f} captions/s (random weights decode to max_length)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--captioner", default="pairsift:tiny-world-captioner")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--gpu", action="store_true", help="also caption with a BLIP-base-sized model on CUDA"
    )
    parser.add_argument("--gpu-batch", type=int, default=64)
    parser.add_argument("--gpu-batches", type=int, default=5)
    parser.add_argument("--tmpdir", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", stream=sys.stderr)
    logger.setLevel(logging.INFO)
    print(f"torch threads {torch.get_num_threads()}; {args.samples} tiny-world samples (64 px JPEG)")
    with tempfile.TemporaryDirectory(prefix="pairsift-sieve-", dir=args.tmpdir) as tmp:
        world = Path(tmp) / "world"
        generate(world, WorldConfig(samples=args.samples, shard_size=1000, tasks=()))
        captions = caption_rate(world, Path(tmp) / "captions", args)
        scoring_rate(world, captions, args)
    if args.gpu:
        gpu_blip_base(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
