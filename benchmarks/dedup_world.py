"""SemDeDup on the tiny world, measured against its labels (issue 13's acceptance).

A duplicate group is a clean sample and the ``near_duplicate`` samples whose ``source_uid`` it is; the
figures are the share of groups with exactly one member kept and the share of clean samples without a
duplicate that are removed. Embedding families of the same world pool:

- ``tiny_world``: the world's teacher CLIP (``pairsift embed --model pairsift:tiny-world``);
- ``preproj``: the teacher's image tower before its projection (128-d, the pooled ViT token), unit norm;
- ``dedup``: a pixel embedding written by this script, like the ``dedup`` key DataComp's npz files hold
  for its own deduplication model: the image in grey levels, box-averaged to 16 × 16, minus its mean,
  unit norm (256-d);
- ``rgb16``: the same in colour (16 × 16 × 3 = 768-d), a "tiny image" descriptor (Torralba et al. 2008
  matched 32 × 32 colour thumbnails, zero mean and unit norm, to find near-duplicates); added after the
  first three were measured, so it is a diagnostic, not a blind choice;
- ``tiny_copy``: the shipped copy detector (``pairsift embed --model pairsift:tiny-copy``, trained on
  scenes of its own seed by ``pairsift world train-copy-detector``, never on this pool), with one more
  row of figures at the eps its training recorded (``shipped eps``).

Undecodable images get NaN rows. Each family is scored once (the ``semdedup`` column M does not depend on
eps); the figures are computed from M at:

- the scorer's default eps (0.05, chosen before any world was measured);
- the eps of SemDeDup's own rule, a target kept share (Abbas et al. choose eps to reach a dataset size):
  here 1 − the world's declared ``near_duplicate`` share (``world.json``), i.e. eps = 1 − the quantile of
  M at that share; it uses the world's configuration, not its per-sample labels;
- a grid of eps values, with the labels: the best any eps can do with that embedding (an upper bound
  to explain the figures, not a setting).

    PYTHONPATH=src python benchmarks/dedup_world.py --out /tmp/dedup-world [--samples 5000] [--eps 0.05]
        [--clusters auto] [--families tiny_copy,rgb16]
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
FAMILIES = ("tiny_world", "preproj", "dedup", "rgb16", "tiny_copy")
EPS_GRID = (0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1, 0.2, 0.3)


def pixel_embedding(image: Image.Image | None, mode: str) -> np.ndarray:
    """``mode`` ("L" or "RGB") box-averaged to SIDE × SIDE, centred, unit norm; NaN without an image."""
    width = SIDE * SIDE * (3 if mode == "RGB" else 1)
    if image is None:
        return np.full(width, np.nan, np.float32)
    x = np.asarray(image.convert(mode).resize((SIDE, SIDE), Image.Resampling.BOX), np.float64).ravel()
    x -= x.mean()
    norm = np.linalg.norm(x)
    return (x / norm if norm > 0 else x).astype(np.float32)


def decode(data: bytes) -> Image.Image | None:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        return image.convert("RGB")
    except Exception:
        return None


def shard_images(tar: Path) -> dict[str, Image.Image | None]:
    """uid → decoded image (None when it does not decode) of one world shard."""
    images: dict[str, Image.Image | None] = {}
    with tarfile.open(tar) as fh:
        members = {m.name: m for m in fh.getmembers()}
        for name in members:
            if name.endswith(".json"):
                stem = name[: -len(".json")]
                uid = json.loads(fh.extractfile(members[name]).read())["uid"]  # type: ignore[union-attr]
                image = next((members[stem + s] for s in (".jpg", ".png") if stem + s in members), None)
                data = fh.extractfile(image).read() if image else b""  # type: ignore[union-attr]
                images[uid] = decode(data)
    return images


def preprojection(images: list[Image.Image | None]) -> np.ndarray:
    """The teacher's image tower output before ``visual.proj``, unit norm; NaN rows without an image."""
    import torch

    from pairsift.world.teacher import model as teacher

    config = teacher.read_config()
    clip = teacher.load_weights(teacher.build_model(config))
    preprocess = teacher.build_preprocess(config)
    clip.visual.proj = None
    width = config["model_cfg"]["vision_cfg"]["width"]
    out = np.full((len(images), width), np.nan, np.float32)
    rows = [i for i, image in enumerate(images) if image is not None]
    if rows:
        with torch.no_grad():
            features = clip.encode_image(torch.stack([preprocess(images[i]) for i in rows])).numpy()
        out[rows] = features / np.linalg.norm(features, axis=1, keepdims=True)
    return out


def copy_embeddings(images: list[Image.Image | None]) -> np.ndarray:
    """The shipped copy detector's embeddings (as ``pairsift embed`` computes them); NaN without an image."""
    import torch

    from pairsift.device import Compute
    from pairsift.models.encoders import load_encoder

    encoder = load_encoder("pairsift:tiny-copy", Compute.resolve("cpu"))
    preprocess = encoder.transforms()[0]
    rows = [i for i, image in enumerate(images) if image is not None]
    out = np.full((len(images), encoder.dims()[0]), np.nan, np.float32)
    if rows:
        out[rows] = encoder.encode_image(torch.stack([preprocess(images[i]) for i in rows])).numpy()
    return out


def write_families(world_pool: Path, pool: Path) -> None:
    """Add the ``preproj``, ``dedup`` and ``rgb16`` families (``_img``, and a copy as ``_txt``, unused)
    to every shard of an embedded pool."""
    for tar in sorted(world_pool.glob("*.tar")):
        by_uid = shard_images(tar)
        uids = pq.read_table(pool / f"{tar.stem}.parquet", columns=["uid"]).column("uid").to_pylist()
        images = [by_uid.get(u) for u in uids]
        with np.load(pool / f"{tar.stem}.npz") as npz:
            arrays = {k: npz[k] for k in npz.files}
        for family, image in (
            ("preproj", preprojection(images)),
            ("dedup", np.stack([pixel_embedding(i, "L") for i in images])),
            ("rgb16", np.stack([pixel_embedding(i, "RGB") for i in images])),
            ("tiny_copy", copy_embeddings(images)),
        ):
            arrays.update({f"{family}_img": image, f"{family}_txt": image})
        np.savez(pool / f"{tar.stem}.npz", **arrays)  # type: ignore[arg-type]


def read_scores(run: Path, column: str) -> dict[str, float]:
    scores: dict[str, float] = {}
    for path in sorted((run / "scores").glob("*.parquet")):
        t = pq.read_table(path, columns=["uid", column])
        scores.update(zip(t.column("uid").to_pylist(), t.column(column).to_pylist(), strict=True))
    return scores


def figures(labels: Path, similarity: dict[str, float], eps: float) -> dict[str, float]:
    """The acceptance figures when rows with M > 1 − eps are removed (M: the ``semdedup`` column)."""
    table = pq.read_table(labels, columns=["uid", "kind", "source_uid"]).to_pylist()
    limit = np.float32(1 - eps)
    kept = {u: float(m <= limit) for u, m in similarity.items() if m is not None and not np.isnan(m)}
    groups: dict[str, list[str]] = {}
    for row in table:
        if row["kind"] == "near_duplicate":
            groups.setdefault(row["source_uid"], []).append(row["uid"])
    exact = [sum(kept.get(u) == 1.0 for u in [src, *dups]) == 1 for src, dups in groups.items()]
    singles = [r["uid"] for r in table if r["kind"] == "clean" and r["uid"] not in groups]
    scored = [u for u in singles if u in kept]
    removed = [kept[u] == 0.0 for u in scored]
    return {
        "eps": round(float(eps), 5),
        "groups": len(groups),
        "groups_with_exactly_one_kept": round(float(np.mean(exact)), 4),
        "clean_without_duplicate": len(scored),
        "clean_without_duplicate_removed": round(float(np.mean(removed)), 4),
        "removed_share": round(1 - float(np.mean(list(kept.values()))), 4),
    }


def separability(pool: Path, labels: Path, family: str) -> dict[str, object]:
    """Why a threshold on the cosine can or cannot work: exact all-pairs cosines of the valid rows.

    ``dup_to_source``: a near-duplicate's cosine to its source (median, 5th percentile, and the median per
    background kind); ``single_nearest``: a clean sample without a duplicate's cosine to its nearest other
    sample (median, 95th and 99th percentile); ``nearest_in_group``: the share of near-duplicates whose
    nearest other sample is in their own group (their source or another copy of it).
    """
    import torch

    uids, rows = [], []
    for shard in sorted(pool.glob("*.parquet")):
        uids += pq.read_table(shard, columns=["uid"]).column("uid").to_pylist()
        with np.load(pool / f"{shard.stem}.npz") as npz:
            rows.append(npz[f"{family}_img"].astype(np.float32))
    x = np.concatenate(rows)
    ok = np.isfinite(x).all(axis=1) & (np.abs(x).sum(axis=1) > 0)
    at = {u: i for i, u in enumerate(np.array(uids, dtype=object)[ok].tolist())}
    t = torch.from_numpy(x[ok] / np.linalg.norm(x[ok], axis=1, keepdims=True))
    sims = (t @ t.T).numpy()
    np.fill_diagonal(sims, -np.inf)
    table = pq.read_table(labels, columns=["uid", "kind", "source_uid", "background"]).to_pylist()
    dups = [r for r in table if r["kind"] == "near_duplicate" and r["uid"] in at and r["source_uid"] in at]
    group: dict[str, set[int]] = {}
    for r in dups:
        group.setdefault(r["source_uid"], {at[r["source_uid"]]}).add(at[r["uid"]])
    to_source = np.array([sims[at[r["uid"]], at[r["source_uid"]]] for r in dups])
    nearest = [int(sims[at[r["uid"]]].argmax()) in group[r["source_uid"]] for r in dups]
    singles = [
        at[r["uid"]] for r in table if r["kind"] == "clean" and r["uid"] in at and r["uid"] not in group
    ]
    single_nearest = sims[singles].max(axis=1)
    backgrounds = sorted({r["background"] for r in dups if r["background"]})
    by_background = {
        b: round(
            float(np.median([c for c, r in zip(to_source, dups, strict=True) if r["background"] == b])), 3
        )
        for b in backgrounds
    }
    return {
        "dup_to_source_median": round(float(np.median(to_source)), 4),
        "dup_to_source_p5": round(float(np.percentile(to_source, 5)), 4),
        "dup_to_source_median_by_background": by_background,
        "single_nearest_median": round(float(np.median(single_nearest)), 4),
        "single_nearest_p95": round(float(np.percentile(single_nearest, 95)), 4),
        "single_nearest_p99": round(float(np.percentile(single_nearest, 99)), 4),
        "nearest_in_group": round(float(np.mean(nearest)), 4),
    }


def rule_eps(similarity: dict[str, float], keep: float) -> float:
    """SemDeDup's rule: the eps whose kept share is ``keep`` (1 − the ``keep`` quantile of M)."""
    values = np.array([m for m in similarity.values() if m is not None and not np.isnan(m)])
    return float(np.clip(1 - np.quantile(values, keep), 1e-6, 1 - 1e-6))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--eps", type=float, default=0.05, help="the scorer's eps (default: its default)")
    parser.add_argument("--clusters", default="auto", help="the scorer's clusters (default: its default)")
    parser.add_argument("--families", default=",".join(FAMILIES), help="embeddings to measure (default: all)")
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
    write_families(world / "pool", pool)
    shares = json.loads((world / "world.json").read_text())["shares"]
    labels = world / "labels.parquet"
    for family in args.families.split(","):
        run = out / f"run-{family}-eps{args.eps:g}-clusters{args.clusters}"
        start = time.perf_counter()
        spec = ScorerSpec("semdedup", {"eps": args.eps, "clusters": args.clusters})
        score(ScoreConfig(pool=str(pool), output=str(run), embeddings=family, scorers=(spec,)))
        seconds = round(time.perf_counter() - start, 1)
        similarity = read_scores(run, "semdedup")
        rule = rule_eps(similarity, 1 - shares["near_duplicate"])
        grid = [figures(labels, similarity, eps) for eps in EPS_GRID]
        best = max(
            grid, key=lambda f: f["groups_with_exactly_one_kept"] - f["clean_without_duplicate_removed"]
        )
        print(
            json.dumps(
                {
                    "family": family,
                    "clusters": args.clusters,
                    "seconds": seconds,
                    "at": "default",
                    **figures(labels, similarity, args.eps),
                }
            )
        )
        print(json.dumps({"family": family, "at": "keep-share rule", **figures(labels, similarity, rule)}))
        if family == "tiny_copy":
            from pairsift.world.copydetect.model import read_config

            shipped = float(read_config()["eps"])
            print(json.dumps({"family": family, "at": "shipped eps", **figures(labels, similarity, shipped)}))
        print(json.dumps({"family": family, "at": "best of grid (labels)", **best}))
        for row in grid:
            print(json.dumps({"family": family, "at": "grid", **row}))
        print(json.dumps({"family": family, "at": "separability", **separability(pool, labels, family)}))


if __name__ == "__main__":
    main()
