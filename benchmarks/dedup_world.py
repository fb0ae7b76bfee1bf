"""SemDeDup on the tiny world, measured against its labels (issue 13's acceptance).

A duplicate group is a clean sample and the ``near_duplicate`` samples whose ``source_uid`` it is; the
figures are the share of groups with exactly one member kept and the share of clean samples without a
duplicate that are removed. Two embedding families of the same world pool:

- ``tiny_world``: the world's teacher CLIP (``pairsift embed --model pairsift:tiny-world``);
- ``dedup``: a pixel embedding written by this script, like the ``dedup`` key DataComp's npz files hold
  for its own deduplication model: the image in grey levels, box-averaged to 16 × 16, minus its mean,
  unit norm (256-d). Undecodable images get NaN rows.

    PYTHONPATH=src python benchmarks/dedup_world.py --out /tmp/dedup-world [--samples 5000] [--eps 0.05]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import tarfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from pairsift.stages.score import score
from pairsift.stages.score_config import ScoreConfig, ScorerSpec

SIDE = 16


def pixel_embedding(data: bytes) -> np.ndarray:
    """Grey levels box-averaged to SIDE × SIDE, centred, unit norm; NaN when the bytes do not decode."""
    try:
        image = Image.open(io.BytesIO(data)).convert("L").resize((SIDE, SIDE), Image.Resampling.BOX)
    except Exception:
        return np.full(SIDE * SIDE, np.nan, np.float32)
    x = np.asarray(image, dtype=np.float64).ravel()
    x -= x.mean()
    norm = np.linalg.norm(x)
    return (x / norm if norm > 0 else x).astype(np.float32)


def write_dedup_family(world_pool: Path, pool: Path) -> None:
    """Add ``dedup_img`` (and a copy as ``dedup_txt``, unused) to every shard of an embedded pool."""
    for tar in sorted(world_pool.glob("*.tar")):
        rows: dict[str, np.ndarray] = {}
        with tarfile.open(tar) as fh:
            members = {m.name: m for m in fh.getmembers()}
            for name in members:
                if name.endswith(".json"):
                    stem = name[: -len(".json")]
                    uid = json.loads(fh.extractfile(members[name]).read())["uid"]  # type: ignore[union-attr]
                    image = next((members[stem + s] for s in (".jpg", ".png") if stem + s in members), None)
                    data = fh.extractfile(image).read() if image else b""  # type: ignore[union-attr]
                    rows[uid] = pixel_embedding(data)
        shard = pool / f"{tar.stem}.parquet"
        uids = pq.read_table(shard, columns=["uid"]).column("uid").to_pylist()
        image = np.stack([rows.get(u, np.full(SIDE * SIDE, np.nan, np.float32)) for u in uids])
        with np.load(pool / f"{tar.stem}.npz") as npz:
            arrays = {k: npz[k] for k in npz.files}
        arrays.update(dedup_img=image, dedup_txt=image)
        np.savez(pool / f"{tar.stem}.npz", **arrays)  # type: ignore[arg-type]


def figures(labels: Path, run: Path, column: str) -> dict[str, float]:
    table = pq.read_table(labels, columns=["uid", "kind", "source_uid"]).to_pylist()
    kept: dict[str, float] = {}
    for path in sorted((run / "scores").glob("*.parquet")):
        t = pq.read_table(path, columns=["uid", column])
        kept.update(zip(t.column("uid").to_pylist(), t.column(column).to_pylist(), strict=True))
    groups: dict[str, list[str]] = {}
    for row in table:
        if row["kind"] == "near_duplicate":
            groups.setdefault(row["source_uid"], []).append(row["uid"])
    exact = [sum(kept.get(u) == 1.0 for u in [src, *dups]) == 1 for src, dups in groups.items()]
    singles = [r["uid"] for r in table if r["kind"] == "clean" and r["uid"] not in groups]
    scored = [u for u in singles if kept.get(u) in (0.0, 1.0)]
    removed = [kept[u] == 0.0 for u in scored]
    return {
        "groups": len(groups),
        "groups_with_exactly_one_kept": float(np.mean(exact)),
        "clean_without_duplicate": len(scored),
        "clean_without_duplicate_removed": float(np.mean(removed)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--eps", type=float, default=0.05)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from pairsift.stages.embed import EmbedConfig, embed
    from pairsift.world import WorldConfig, generate

    out = Path(args.out)
    world, pool = out / "world", out / "pool"
    if not (world / "labels.parquet").exists():
        generate(world, WorldConfig(samples=args.samples, seed=0))
    if not (pool / "embed.json").exists():
        embed(EmbedConfig(str(world / "pool"), str(pool), "pairsift:tiny-world", device="cpu"))
    write_dedup_family(world / "pool", pool)
    for family in ("tiny_world", "dedup"):
        run = out / f"run-{family}-eps{args.eps:g}"
        start = time.perf_counter()
        spec = ScorerSpec("semdedup", {"eps": args.eps})
        score(ScoreConfig(pool=str(pool), output=str(run), embeddings=family, scorers=(spec,)))
        result = figures(world / "labels.parquet", run, "semdedup_kept")
        print(
            json.dumps(
                {
                    "family": family,
                    "eps": args.eps,
                    "seconds": round(time.perf_counter() - start, 1),
                    **result,
                }
            )
        )


if __name__ == "__main__":
    main()
