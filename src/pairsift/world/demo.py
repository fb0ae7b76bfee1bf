"""``pairsift demo``: the whole pipeline on the tiny world, offline, in under 4 minutes on 2 CPU cores.

1. generate a web-like pool of the tiny world (``pairsift world generate``), with labelled noise;
2. embed it with the bundled teacher CLIP (``pairsift embed --model pairsift:tiny-world``), and embed
   one world task's train images as a NormSim target set (``pairsift embed-targets``);
3. caption its images with the bundled tiny BLIP (``pairsift caption --model
   pairsift:tiny-world-captioner``, SIEVE's decoding settings);
4. score it (``clip_score``, ``neg_clip_loss``, ``norm_sim`` p = ∞, ``sieve`` with whole-word masking);
   embed its images once more with the bundled copy detector (``pairsift embed --model
   pairsift:tiny-copy``, image embeddings only) and score ``semdedup`` on those, at the eps the detector
   recorded, in a second run folder (``run-dedup``: one run reads one embedding family);
5. select with ``pairsift select``: CLIPScore top 30 %, negCLIPLoss top 30 %, the paper's recipe
   negCLIPLoss 30 % → NormSim∞ 20 %, SIEVE top 30 %, SIEVE + CLIPScore (min-max fusion 0.5 / 0.5)
   top 30 %, and SemDeDup's deduplicated pool (``semdedup_kept`` of ``run-dedup``);
6. print, for each kind of sample, the share each selection keeps;
7. write the HTML report (``pairsift report``) of each run, ``report.html`` and ``report-dedup.html``
   (its duplicate groups), and print their paths.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

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

if TYPE_CHECKING:
    from pairsift.stages.score import ScoreSummary

logger = logging.getLogger(__name__)

TEACHER = "pairsift:tiny-world"
COPY_DETECTOR = "pairsift:tiny-copy"  #: SemDeDup's image embeddings (docs/methods/semdedup.md)
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
}
#: the deduplicated pool, selected from the ``run-dedup`` folder
DEDUP_RULES = (("threshold", "semdedup_kept>=1"),)


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
    scorers = (
        ScorerSpec("clip_score"),
        ScorerSpec("neg_clip_loss"),
        ScorerSpec("norm_sim", {"p": "inf", "target": str(target)}),
        ScorerSpec("sieve", sieve),
    )
    summary = _scored(pool, run, family_of(TEACHER), scorers, device, seed)
    dedup_run, eps = output / "run-dedup", copy_detector_eps()
    logger.info("demo 4/5: semdedup on %s image embeddings (eps %s)", COPY_DETECTOR, eps)
    copies = output / "pool-dedup"
    _checked("embed", embed(EmbedConfig(str(world / "pool"), str(copies), COPY_DETECTOR, device=device)))
    semdedup = (ScorerSpec("semdedup", {"eps": eps}),)
    dedup = _scored(copies, dedup_run, family_of(COPY_DETECTOR), semdedup, device, seed)
    logger.info("demo 5/5: selecting")
    table = kept_by_kind(world / "labels.parquet", run, (dedup_run, f"semdedup (tiny-copy, eps {eps})"))
    reports = [demo_report(run, output / "report.html"), demo_report(dedup_run, output / "report-dedup.html")]
    return "\n\n".join(
        [
            f"world: {world} (labels.parquet says what each sample is)",
            f"pool:  {pool} ({embedded.rows} rows; statuses {embedded.statuses})",
            f"captions: {captions} ({captioned.images} images captioned in {captioned.seconds:.0f}s)",
            format_summary(summary),
            format_summary(dedup),
            table,
            "\n".join(reports),
        ]
    )


def copy_detector_eps() -> float:
    """The eps the shipped copy detector recorded from its held-out scenes (its ``config.json``)."""
    from pairsift.world.copydetect.model import read_config

    return float(read_config()["eps"])


def family_of(model: str) -> str:
    from pairsift.models.ids import parse_model_id

    return parse_model_id(model).family


def _scored(
    pool: Path, run: Path, family: str, scorers: tuple[ScorerSpec, ...], device: str, seed: int
) -> ScoreSummary:
    """``pairsift score`` of ``pool``'s ``family`` embeddings into ``run``, checked."""
    from pairsift.stages.score import score

    config = ScoreConfig(
        pool=str(pool),
        output=str(run),
        embeddings=family,
        scorers=scorers,
        compute=ComputeConfig(device=device),
        seed=seed,
    )
    return _checked("score", score(config))


S = TypeVar("S", bound=Summary)


def _checked(stage: str, summary: S) -> S:
    """``summary``, or :class:`StageFailed` when any of its shards failed."""
    if not summary.ok:
        failures = [(f.shard, f.error) for f in summary.failures]
        raise StageFailed("demo", stage, failures, summary.shards)
    return summary


def kept_by_kind(labels: Path, run: Path, dedup: tuple[Path, str] | None = None) -> str:
    """Share of each kind of sample kept by each selection (made with ``pairsift select``) of ``run``,
    and by the deduplication of ``dedup`` (its run folder and its row's label)."""
    table = pq.read_table(labels, columns=[UID_COLUMN, "kind"])
    kinds = table.column("kind").to_numpy(zero_copy_only=False)
    keys, _ = parse_uids(table.column(UID_COLUMN))
    names = sorted(set(kinds), key=lambda k: (k != "clean", k))
    lines = [f"{'selection':<40}" + "".join(f"{k:>17}" for k in names)]
    lines.append(f"{'(samples in the pool)':<40}" + "".join(f"{int((kinds == k).sum()):>17}" for k in names))
    rows = [
        (run, f"selection-{i}", label, rules, fuse)
        for i, (label, (rules, fuse)) in enumerate(SELECTIONS.items())
    ]
    if dedup is not None:
        rows.append((dedup[0], "semdedup", dedup[1], DEDUP_RULES, ()))
    for folder, name, label, rules, fuse in rows:
        output = RunDir(folder).subsets / f"{name}.npy"
        select(folder, SelectConfig(rules=rules, fuse=fuse, output=str(output)))
        kept = SubsetIndex(read_subset(output)).contains_keys(keys)
        lines.append(f"{label:<40}" + "".join(f"{np.mean(kept[kinds == k]):>17.1%}" for k in names))
    return "share of each kind of sample kept by each selection\n" + "\n".join(lines)


def demo_report(run_dir: str | Path, output: str | Path) -> str:
    """Write the report of a demo run (its subsets, images and labels found as usual); one line about it."""
    summary = build_report(ReportConfig(run_dir=str(run_dir), output=str(output)))
    return f"report: {summary.output} ({summary.bytes / 1e6:.1f} MB): open it in a browser"
