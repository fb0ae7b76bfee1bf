"""``pairsift demo``: the whole pipeline on the tiny world, offline, in about a minute on 2 CPU cores.

1. generate a web-like pool of the tiny world (``pairsift world generate``), with labelled noise;
2. embed it with the bundled teacher CLIP (``pairsift embed --model pairsift:tiny-world``), and embed
   one world task's train images as a NormSim target set (``pairsift embed-targets``);
3. caption its images with the bundled tiny BLIP (``pairsift caption --model
   pairsift:tiny-world-captioner``, SIEVE's decoding settings);
4. score it (``clip_score``, ``neg_clip_loss``, ``norm_sim`` p = ∞, ``sieve`` with whole-word masking,
   and ``semdedup`` at its default eps on the teacher's image embeddings);
5. select with ``pairsift select``: CLIPScore top 30 %, negCLIPLoss top 30 %, the paper's recipe
   negCLIPLoss 30 % → NormSim∞ 20 %, SIEVE top 30 %, SIEVE + CLIPScore (min-max fusion 0.5 / 0.5)
   top 30 %, and SemDeDup's deduplicated pool (``semdedup_kept``; the tiny teacher maps every image of a
   scene nearly alike, so it removes most clean samples too — docs/methods/semdedup.md);
6. print, for each kind of sample, the share each selection keeps;
7. write the HTML report (``pairsift report``) to ``report.html`` and print its path.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow.parquet as pq

from pairsift.data import UID_COLUMN
from pairsift.errors import StageFailed
from pairsift.io.run_dir import RunDir
from pairsift.io.subsets import SubsetIndex, read_subset
from pairsift.models.sentence import DEFAULT_TEXT_MODEL
from pairsift.report import ReportConfig, build_report
from pairsift.select.selection import SelectConfig, select
from pairsift.stages.base import Summary
from pairsift.stages.score_config import ComputeConfig, ScoreConfig, ScorerSpec
from pairsift.uids import parse_uids

logger = logging.getLogger(__name__)

TEACHER = "pairsift:tiny-world"
CAPTIONER = "pairsift:tiny-world-captioner"
TEXT_MODEL = DEFAULT_TEXT_MODEL  #: SIEVE's sentence-embedding model (all-MiniLM-L6-v2, shipped offline)
TARGET_TASK = "shape"
FUSED = "fused=clip_score:0.5,sieve:0.5"
#: label -> (rules, fusions) of each selection
SELECTIONS: dict[str, tuple[tuple[tuple[str, str], ...], tuple[str, ...]]] = {
    "clip_score top 30%": ((("top", "clip_score=0.3"),), ()),
    "neg_clip_loss top 30%": ((("top", "neg_clip_loss=0.3"),), ()),
    "neg_clip_loss 30% -> norm_sim_inf 20%": (
        (("top", "neg_clip_loss=0.3"), ("top", "norm_sim_inf=0.2")),
        (),
    ),
    "sieve top 30%": ((("top", "sieve=0.3"),), ()),
    "sieve + clip_score (minmax) top 30%": ((("top", "fused=0.3"),), (FUSED,)),
    "semdedup (eps 0.05)": ((("threshold", "semdedup_kept>=1"),), ()),
}


def run_demo(
    output: str | Path,
    *,
    samples: int = 5000,
    seed: int = 0,
    device: str = "auto",
    text_model: str = TEXT_MODEL,
) -> str:
    """Run the demo into ``output`` (must be new or empty) and return the printed report.

    A stage whose shards fail stops the demo with :class:`~pairsift.errors.StageFailed` naming it:
    nothing after it runs on missing inputs.
    """
    from pairsift.cli.score import format_summary
    from pairsift.stages.caption import CaptionConfig, caption
    from pairsift.stages.embed import EmbedConfig, embed, embed_targets
    from pairsift.stages.score import score
    from pairsift.world import WorldConfig, generate

    output = Path(output)
    world = output / "world"
    logger.info("demo 1/5: generating a %d-sample world in %s", samples, world)
    generate(world, WorldConfig(samples=samples, seed=seed, tasks=(TARGET_TASK,)))
    logger.info("demo 2/5: embedding with the bundled teacher %s", TEACHER)
    pool = output / "pool"
    embedded = _checked("embed", embed(EmbedConfig(str(world / "pool"), str(pool), TEACHER, device=device)))
    target = output / "target.npy"
    embed_targets(str(world / "tasks" / TARGET_TASK / "train"), target, TEACHER, device=device)
    logger.info("demo 3/5: captioning with the bundled captioner %s", CAPTIONER)
    captions = output / "captions"
    captioned = _checked(
        "caption",
        caption(
            CaptionConfig(input=str(world / "pool"), output=str(captions), model=CAPTIONER, device=device)
        ),
    )
    logger.info("demo 4/5: scoring")
    run = output / "run"
    sieve = {"captions": str(captions), "mask": "words", "text_model": text_model}
    summary = _checked(
        "score",
        score(
            ScoreConfig(
                pool=str(pool),
                output=str(run),
                embeddings="tiny_world",
                scorers=(
                    ScorerSpec("clip_score"),
                    ScorerSpec("neg_clip_loss"),
                    ScorerSpec("norm_sim", {"p": "inf", "target": str(target)}),
                    ScorerSpec("sieve", sieve),
                    ScorerSpec("semdedup"),
                ),
                compute=ComputeConfig(device=device),
                seed=seed,
            )
        ),
    )
    logger.info("demo 5/5: selecting")
    table = kept_by_kind(world / "labels.parquet", run)
    report = demo_report(run, output / "report.html")
    return "\n\n".join(
        [
            f"world: {world} (labels.parquet says what each sample is)",
            f"pool:  {pool} ({embedded.rows} rows; statuses {embedded.statuses})",
            f"captions: {captions} ({captioned.images} images captioned in {captioned.seconds:.0f}s)",
            format_summary(summary),
            table,
            report,
        ]
    )


S = TypeVar("S", bound=Summary)


def _checked(stage: str, summary: S) -> S:
    """``summary``, or :class:`StageFailed` when any of its shards failed."""
    if not summary.ok:
        failures = [(f.shard, f.error) for f in summary.failures]
        raise StageFailed("demo", stage, failures, summary.shards)
    return summary


def kept_by_kind(labels: Path, run: Path) -> str:
    """Share of each kind of sample kept by each selection (made with ``pairsift select``)."""
    table = pq.read_table(labels, columns=[UID_COLUMN, "kind"])
    kinds = table.column("kind").to_numpy(zero_copy_only=False)
    keys, _ = parse_uids(table.column(UID_COLUMN))
    names = sorted(set(kinds), key=lambda k: (k != "clean", k))
    lines = [f"{'selection':<40}" + "".join(f"{k:>17}" for k in names)]
    lines.append(f"{'(samples in the pool)':<40}" + "".join(f"{int((kinds == k).sum()):>17}" for k in names))
    for i, (label, (rules, fuse)) in enumerate(SELECTIONS.items()):
        output = RunDir(run).subsets / f"selection-{i}.npy"
        select(run, SelectConfig(rules=rules, fuse=fuse, output=str(output)))
        kept = SubsetIndex(read_subset(output)).contains_keys(keys)
        lines.append(f"{label:<40}" + "".join(f"{np.mean(kept[kinds == k]):>17.1%}" for k in names))
    return "share of each kind of sample kept by each selection\n" + "\n".join(lines)


def demo_report(run_dir: str | Path, output: str | Path) -> str:
    """Write the report of a demo run (its subsets, images and labels found as usual); one line about it."""
    summary = build_report(ReportConfig(run_dir=str(run_dir), output=str(output)))
    return f"report: {summary.output} ({summary.bytes / 1e6:.1f} MB): open it in a browser"
