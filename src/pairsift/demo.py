"""``pairsift demo``: a synthetic DataComp-layout pool, scored end to end, with a readable summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from pairsift.config import ScoreConfig, ScorerSpec
from pairsift.pipeline import score
from pairsift.synth import KINDS, SynthConfig, write_pool, write_targets


def run_demo(output: str | Path, *, shards: int = 4, rows: int = 2500) -> str:
    output = Path(output)
    synth = SynthConfig(shards=shards, rows_per_shard=rows, dim=128)
    pool = write_pool(output / "pool", synth)
    targets = write_targets(output / "targets.npy", synth, count=1000)
    config = ScoreConfig(
        pool=str(pool),
        output=str(output / "run"),
        embeddings=synth.family,
        scorers=(
            ScorerSpec("clip_score"),
            ScorerSpec("neg_clip_loss", {"batch_size": 4096}),
            ScorerSpec("norm_sim", {"p": "inf", "target": str(targets)}),
            ScorerSpec("norm_sim", {"p": 2, "target": str(targets)}),
            ScorerSpec("norm_sim_d"),
        ),
    )
    summary = score(config)
    from pairsift.commands.score import format_summary

    return format_summary(summary) + "\n\n" + kept_by_kind(pool, Path(summary.run_dir), config)


def kept_by_kind(pool: Path, run: Path, config: ScoreConfig, fraction: float = 0.3) -> str:
    """Share of each planted kind of sample kept by the top ``fraction`` of each score."""
    kinds = np.concatenate(
        [
            pq.read_table(p, columns=["kind"]).column(0).to_numpy(zero_copy_only=False)
            for p in sorted(pool.glob("*.parquet"))
        ]
    )
    tables = [pq.read_table(p) for p in sorted((run / "scores").glob("*.parquet"))]
    columns = [c for c in tables[0].column_names if c not in ("uid", "status")]
    lines = [
        f"share of each kind kept by the top {fraction:.0%} of each score (norm_sim_d: its own 20 %)",
        f"{'score':<16}" + "".join(f"{k:>13}" for k in KINDS),
    ]
    for c in columns:
        values = np.concatenate([t.column(c).to_numpy(zero_copy_only=False) for t in tables])
        share = 0.2 if c == "norm_sim_d" else fraction
        keep = np.zeros(len(values), dtype=bool)
        keep[np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")[: int(share * len(values))]] = (
            True
        )
        lines.append(f"{c:<16}" + "".join(f"{keep[kinds == k].mean():>13.1%}" for k in KINDS))
    return "\n".join(lines)
