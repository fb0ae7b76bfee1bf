from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest

from pairsift.errors import InputError
from pairsift.io.tars import read_samples
from pairsift.world import DEFAULT_SHARES, KINDS, WorldConfig, WorldSummary, generate
from pairsift.world.attributes import ATTRIBUTES, VALUES, Scene
from pairsift.world.captions import BOILERPLATE
from pairsift.world.generate import with_shares
from pairsift.world.noise import CORRUPT_VARIANTS, OFF_DISTRIBUTION_VARIANTS
from pairsift.world.tasks import TASKS
from tests.world.conftest import CONFIG, decode


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(world: tuple[Path, WorldSummary], tmp_path: Path) -> None:
    first = _files(world[0])
    generate(tmp_path / "again", CONFIG)
    again = _files(tmp_path / "again")
    assert first.keys() == again.keys()
    assert [name for name in first if first[name] != again[name]] == []
    assert {"labels.parquet", "world.json", "pool/00000000.tar", "pool/00000002.tar"} <= first.keys()
    assert "pool/00000003.tar" not in first


def test_another_seed_gives_another_world(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", WorldConfig(samples=50, task_samples=0, seed=1))
    b = generate(tmp_path / "b", WorldConfig(samples=50, task_samples=0, seed=2))
    assert _files(Path(a.out_dir)) != _files(Path(b.out_dir))


def test_kind_counts_follow_the_shares(world: tuple[Path, WorldSummary], labels: list[dict]) -> None:
    summary = world[1]
    counted = {k: sum(1 for row in labels if row["kind"] == k) for k in KINDS}
    assert counted == summary.kinds
    for kind in KINDS:
        assert counted[kind] > 0
        assert abs(counted[kind] - DEFAULT_SHARES[kind] * CONFIG.samples) <= 1


def test_tars_labels_and_sample_files_agree(world: tuple[Path, WorldSummary], labels, pool) -> None:
    assert len(pool) == len(labels) == CONFIG.samples
    for sample, row in zip(pool, labels, strict=True):
        meta = sample["json"]
        assert sample["key"] == row["key"] == meta["key"]
        assert meta["uid"] == row["uid"] and meta["kind"] == row["kind"]
        assert sample["txt"] == row["caption"] == meta["caption"]
        assert all(meta[a] == row[a] for a in ATTRIBUTES)
    with tarfile.open(world[0] / "pool" / "00000000.tar") as tar:
        members = tar.getmembers()
    assert len(members) == 3 * CONFIG.shard_size
    assert {m.mtime for m in members} == {0} and {m.uname for m in members} == {""}


def test_uids_are_unique_32_hex(world: tuple[Path, WorldSummary], labels) -> None:
    uids = [row["uid"] for row in labels]
    for task in CONFIG.tasks:
        for split in ("train", "test"):
            for tar in sorted((world[0] / "tasks" / task / split).glob("*.tar")):
                uids += [json.loads(s.member("json") or b"")["uid"] for s in read_samples(str(tar))]
    assert len(uids) == CONFIG.samples + len(CONFIG.tasks) * 2 * CONFIG.task_samples
    assert len(set(uids)) == len(uids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", u) for u in uids)


def test_corrupt_images_do_not_decode_and_all_others_do(pool) -> None:
    variants = set()
    for sample in pool:
        if sample["json"]["kind"] == "corrupt":
            variants.add(sample["json"]["detail"])
            with pytest.raises((OSError, ValueError, SyntaxError)):
                decode(sample["image"])
        else:
            assert decode(sample["image"]).shape == (CONFIG.image_size, CONFIG.image_size, 3)
    assert variants == set(CORRUPT_VARIANTS)


def _scene(attributes: dict) -> Scene:
    return Scene(**{a: attributes[a] for a in ATTRIBUTES})


def test_mismatched_captions_describe_another_sample(pool) -> None:
    by_uid = {s["json"]["uid"]: s for s in pool}
    for sample in pool:
        meta = sample["json"]
        if meta["kind"] != "mismatched":
            continue
        described = _scene(meta["caption_attributes"])
        assert described.shape != meta["shape"] and described.colour != meta["colour"]
        source = by_uid[meta["source_uid"]]
        assert source["json"]["kind"] == "clean" and source["txt"] == sample["txt"]
        assert described == _scene(source["json"])


def test_wrong_attribute_differs_in_exactly_one_attribute(pool) -> None:
    seen = set()
    for sample in pool:
        meta = sample["json"]
        if meta["kind"] != "wrong_attribute":
            continue
        described, shown = _scene(meta["caption_attributes"]), _scene(meta)
        assert shown.differences(described) == [meta["detail"]]
        seen.add(meta["detail"])
        if meta["detail"] in ("shape", "colour", "size"):
            assert getattr(described, meta["detail"]) in sample["txt"]
    assert seen == set(ATTRIBUTES)


def test_clean_boilerplate_off_distribution_near_duplicate(pool) -> None:
    by_uid = {s["json"]["uid"]: (i, s) for i, s in enumerate(pool)}
    for i, sample in enumerate(pool):
        meta, kind = sample["json"], sample["json"]["kind"]
        if kind == "clean":
            assert meta["caption_attributes"] == {a: meta[a] for a in ATTRIBUTES}
        elif kind == "boilerplate":
            assert sample["txt"] in BOILERPLATE and meta["caption_attributes"] is None
        elif kind == "off_distribution":
            assert meta["detail"] in OFF_DISTRIBUTION_VARIANTS
            assert all(meta[a] is None for a in ATTRIBUTES) and meta["caption_attributes"]
        elif kind == "near_duplicate":
            j, source = by_uid[meta["source_uid"]]
            assert j < i and source["json"]["kind"] == "clean"
            assert sample["txt"] == source["txt"] and _scene(meta) == _scene(source["json"])
            a, b = decode(sample["image"]).astype(float), decode(source["image"]).astype(float)
            assert sample["image"] != source["image"]
            coarse = np.abs(a.reshape(8, 8, 8, 8, 3).mean((1, 3)) - b.reshape(8, 8, 8, 8, 3).mean((1, 3)))
            assert coarse.mean() < 30, coarse.mean()


def test_tasks_have_their_classes_and_balanced_labels(world: tuple[Path, WorldSummary]) -> None:
    for name in CONFIG.tasks:
        task = TASKS[name]
        classes = json.loads((world[0] / "tasks" / name / "classes.json").read_text())
        assert classes["classes"] == list(task.classes)
        assert classes["templates"] and all("{}" in t for t in classes["templates"])
        for split in ("train", "test"):
            labels = []
            for tar in sorted((world[0] / "tasks" / name / split).glob("*.tar")):
                for s in read_samples(str(tar)):
                    index = int(s.member("cls") or b"")
                    meta = json.loads(s.member("json") or b"")
                    assert meta["label"] == task.classes[index] and meta["class"] == index
                    assert meta[task.attribute] == VALUES[task.attribute][index]
                    assert decode(s.member("jpg") or b"").shape == (64, 64, 3)
                    labels.append(index)
            counts = np.bincount(labels, minlength=len(task.classes))
            assert len(labels) == CONFIG.task_samples and counts.max() - counts.min() <= 1


def test_png_format_and_tiny_pools(tmp_path: Path) -> None:
    summary = generate(tmp_path / "png", WorldConfig(samples=20, task_samples=2, image_format="png"))
    sample = next(read_samples(str(tmp_path / "png" / "pool" / "00000000.tar")))
    assert sample.member("png") is not None and summary.samples == 20
    assert generate(tmp_path / "empty", WorldConfig(samples=0, task_samples=0, tasks=())).pool_tars == []


def test_invalid_configs_and_existing_output_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        WorldConfig(shares={"clean": 0.5})
    with pytest.raises(ValueError, match="unknown kinds"):
        WorldConfig(shares={**DEFAULT_SHARES, "spam": 0.0})
    with pytest.raises(ValueError, match="unknown task"):
        WorldConfig(tasks=("colour", "mood"))
    with pytest.raises(ValueError, match="shard_size"):
        WorldConfig(shard_size=0)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(InputError, match="not empty"):
        generate(tmp_path / "full", WorldConfig(samples=5, task_samples=0))


def test_with_shares_gives_clean_the_rest() -> None:
    shares = with_shares({"mismatched": 0.3})
    assert shares["mismatched"] == 0.3 and abs(sum(shares.values()) - 1) < 1e-9
    assert shares["clean"] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="more than 1"):
        with_shares({"corrupt": 0.9})


def test_pool_tars_are_img2dataset_shards_that_datacomps_resharder_finds(world):
    """DataComp's resharder finds input shards as ``{:08d}.tar`` beside ``{:08d}_stats.json`` (whose
    ``successes`` is the shard's size), or in ``sizes.json``; the world writes both, like img2dataset."""
    import json

    pool = world[0] / "pool"
    sizes = json.loads((pool / "sizes.json").read_text())
    index = 0
    while (pool / f"{index:08d}.tar").exists():
        name = f"{index:08d}.tar"
        stats = json.loads((pool / f"{index:08d}_stats.json").read_text())
        with tarfile.open(pool / name) as tar:
            keys = {m.name.rsplit(".", 1)[0] for m in tar.getmembers()}
        assert stats["successes"] == stats["count"] == len(keys) == sizes[name]
        index += 1
    assert index == len(sizes) >= 2
