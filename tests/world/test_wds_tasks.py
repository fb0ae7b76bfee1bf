"""The world's tasks in clip_benchmark's webdataset layout, read back by clip_benchmark's own loader."""

from __future__ import annotations

from pathlib import Path

from clip_benchmark.datasets.builder import build_wds_dataset

from pairsift.world import WorldSummary
from pairsift.world.wds_tasks import write_world_tasks


def test_world_tasks_read_back_with_clip_benchmark(world: tuple[Path, WorldSummary], tmp_path: Path) -> None:
    root, summary = world
    written = write_world_tasks(root, tmp_path, retrieval_pool=root / "pool")
    assert sorted(p.name for p in written) == ["colour", "count", "retrieval", "shape"]
    colour = build_wds_dataset("colour", transform=None, split="test", data_dir=str(tmp_path / "colour"))
    assert colour.classes[:2] == ["red", "green"] or len(colour.classes) == 6
    assert all("{c}" in t for t in colour.templates)
    labels = [int(label) for _, label in colour]
    assert len(labels) == 42 and set(labels) <= set(range(len(colour.classes)))
    retrieval = build_wds_dataset(
        "retrieval", transform=None, split="test", data_dir=str(tmp_path / "retrieval")
    )
    pairs = list(retrieval)
    assert (
        retrieval.classes is None
        and 700 - summary.kinds["corrupt"] <= len(pairs) < 700
        and all(len(texts) == 1 for _, texts in pairs)
    )
