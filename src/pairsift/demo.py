"""``pairsift demo``: a synthetic DataComp-layout pool, scored end to end, with a readable summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from pairsift.config import ScoreConfig, ScorerSpec
from pairsift.data import parse_uids
from pairsift.io.subsets import contains, read_subset
from pairsift.pipeline import score
from pairsift.select.selection import SelectConfig, select
from pairsift.synth import KINDS, SynthConfig, write_pool, write_targets

SCORED = ("clip_score", "neg_clip_loss", "norm_sim_inf", "norm_sim_2")


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
    """Share of each planted kind of sample kept by selections made with ``pairsift select``."""
    kinds, keys = [], []
    for path in sorted(pool.glob("*.parquet")):
        table = pq.read_table(path, columns=["uid", "kind"])
        kinds.append(table.column("kind").to_numpy(zero_copy_only=False))
        keys.append(parse_uids(table.column("uid"))[0])
    kind, key = np.concatenate(kinds), np.concatenate(keys)
    selections: dict[str, tuple[tuple[str, str], ...]] = {
        f"{c} top {fraction:.0%}": (("top", f"{c}={fraction}"),) for c in SCORED
    }
    selections["norm_sim_d (its 20 %)"] = (("top", "norm_sim_d=0.2"),)
    selections["neg_clip_loss 30% -> norm_sim_inf 20%"] = (
        ("top", "neg_clip_loss=0.3"),
        ("top", "norm_sim_inf=0.2"),
    )
    lines = [f"{'selection':<40}" + "".join(f"{k:>13}" for k in KINDS)]
    for label, rules in selections.items():
        output = run / "subsets" / f"{label.split()[0]}-{len(lines)}.npy"
        select(run, SelectConfig(rules=rules, output=str(output)))
        kept = contains(read_subset(output), key)
        lines.append(f"{label:<40}" + "".join(f"{kept[kind == k].mean():>13.1%}" for k in KINDS))
    return "share of each kind of sample kept by each selection\n" + "\n".join(lines)
