"""The web-like pool: plan which sample is which kind, then render each sample's image and caption."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from pairsift.uids import format_uids
from pairsift.world import captions, noise
from pairsift.world.attributes import ATTRIBUTES, Scene, other_value, sample_scene
from pairsift.world.render import render_scene

# Independent random streams of one seed.
PLAN_STREAM, IMAGE_STREAM, UID_STREAM, TASK_STREAM = 0, 1, 2, 3


@dataclass(frozen=True)
class Record:
    """One planned pool sample: its label and everything needed to render it."""

    index: int
    uid: str
    kind: str
    scene: Scene | None  # what the image shows; None for off-distribution images
    caption: str
    caption_scene: Scene | None  # what the caption describes; None for boilerplate
    detail: str | None = None  # wrong attribute, off-distribution or corrupt variant
    source: int | None = None  # index of the sample copied (near_duplicate) or captioned (mismatched)

    @property
    def key(self) -> str:
        return f"{self.index:08d}"


def make_uids(seed: int, stream: tuple[int, ...], n: int) -> list[str]:
    """``n`` 128-bit uids as 32-hex strings, deterministic from the seed and a stream id."""
    rng = np.random.default_rng([seed, UID_STREAM, *stream])
    keys = rng.integers(0, 2**64, size=(n, 2), dtype=np.uint64, endpoint=False)
    return [str(u) for u in format_uids(keys)]


def plan_pool(n: int, shares: dict[str, float], seed: int) -> list[Record]:
    """Decide kind, scene and caption of every sample; cheap (no rendering)."""
    rng = np.random.default_rng([seed, PLAN_STREAM])
    counts = noise.kind_counts(n, shares)
    kinds = rng.permutation(np.repeat(np.array(noise.KINDS), [counts[k] for k in noise.KINDS])).tolist()
    if counts[noise.NEAR_DUPLICATE] and not counts[noise.CLEAN]:
        raise ValueError(f"{n} samples with these shares give near-duplicates but no clean sample to copy")
    if counts[noise.NEAR_DUPLICATE]:  # a near-duplicate needs an earlier clean one
        first = kinds.index(noise.CLEAN)
        kinds[0], kinds[first] = kinds[first], kinds[0]
    scenes = [sample_scene(rng) for _ in range(n)]
    own = [captions.render_caption(s, captions.choose_template(rng)) for s in scenes]
    uids = make_uids(seed, (0,), n)
    clean = [i for i, kind in enumerate(kinds) if kind == noise.CLEAN] or list(range(n))
    clean_so_far: list[int] = []
    records = []
    for i, kind in enumerate(kinds):
        records.append(_plan_one(i, uids[i], kind, scenes, own, clean, clean_so_far, rng))
        if kind == noise.CLEAN:
            clean_so_far.append(i)
    return records


def _plan_one(
    i: int,
    uid: str,
    kind: str,
    scenes: list[Scene],
    own: list[str],
    clean: list[int],
    clean_so_far: list[int],
    rng: np.random.Generator,
) -> Record:
    scene = scenes[i]
    if kind == noise.MISMATCHED:
        j = _unlike(i, clean, scenes, rng)
        return Record(i, uid, kind, scene, own[j], scenes[j], source=j)
    if kind == noise.BOILERPLATE:
        return Record(i, uid, kind, scene, captions.boilerplate(rng), None)
    if kind == noise.WRONG_ATTRIBUTE:
        attribute = ATTRIBUTES[int(rng.integers(len(ATTRIBUTES)))]
        wrong = scene.with_value(attribute, other_value(rng, attribute, getattr(scene, attribute)))
        template = captions.choose_template(rng, must_mention=attribute)
        return Record(i, uid, kind, scene, captions.render_caption(wrong, template), wrong, detail=attribute)
    if kind == noise.OFF_DISTRIBUTION:
        variant = noise.OFF_DISTRIBUTION_VARIANTS[int(rng.integers(len(noise.OFF_DISTRIBUTION_VARIANTS)))]
        return Record(i, uid, kind, None, own[i], scene, detail=variant)
    if kind == noise.NEAR_DUPLICATE:
        j = clean_so_far[int(rng.integers(len(clean_so_far)))]
        return Record(i, uid, kind, scenes[j], own[j], scenes[j], source=j)
    if kind == noise.CORRUPT:
        variant = noise.CORRUPT_VARIANTS[int(rng.integers(len(noise.CORRUPT_VARIANTS)))]
        return Record(i, uid, kind, scene, own[i], scene, detail=variant)
    return Record(i, uid, kind, scene, own[i], scene)


def _unlike(i: int, candidates: list[int], scenes: list[Scene], rng: np.random.Generator) -> int:
    """A candidate (a clean sample, whose caption is its own) unlike sample ``i`` in shape and colour."""
    mine = scenes[i]
    for _ in range(1000):  # 6/7 * 11/12 of the draws succeed in a pool of varied scenes
        j = candidates[int(rng.integers(len(candidates)))]
        if scenes[j].shape != mine.shape and scenes[j].colour != mine.colour:
            return j
    raise ValueError(f"no sample unlike sample {i} to take a mismatched caption from; pool too small?")


def encode(image: Image.Image, image_format: str, quality: int) -> bytes:
    buffer = io.BytesIO()
    if image_format == "jpg":
        image.save(buffer, "JPEG", quality=quality)
    else:
        image.save(buffer, "PNG")
    return buffer.getvalue()


def render_image(records: list[Record], record: Record, size: int, seed: int) -> Image.Image:
    """The image of a record (before any corruption of its bytes)."""
    rng = np.random.default_rng([seed, IMAGE_STREAM, record.index])
    if record.kind == noise.OFF_DISTRIBUTION:
        return noise.off_distribution_image(str(record.detail), size, rng)
    if record.kind == noise.NEAR_DUPLICATE:
        assert record.source is not None
        return noise.perturb(render_image(records, records[record.source], size, seed), rng)
    assert record.scene is not None
    return render_scene(record.scene, size, rng)


def sample_files(
    records: list[Record], size: int, seed: int, image_format: str, quality: int
) -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """``(key, [(extension, bytes), …])`` of every pool sample, in order."""
    for record in records:
        data = encode(render_image(records, record, size, seed), image_format, quality)
        if record.kind == noise.CORRUPT:
            data = noise.corrupt_bytes(str(record.detail), data)
        meta = json.dumps(metadata(records, record), sort_keys=True).encode()
        yield record.key, [(image_format, data), ("txt", record.caption.encode()), ("json", meta)]


def metadata(records: list[Record], record: Record) -> dict[str, Any]:
    """The ``KEY.json`` of a sample: uid, kind, the image's attributes and how the sample was made."""
    attributes = record.scene.to_dict() if record.scene else dict.fromkeys(ATTRIBUTES)
    return {
        "uid": record.uid,
        "key": record.key,
        "kind": record.kind,
        **attributes,
        "caption": record.caption,
        "caption_attributes": record.caption_scene.to_dict() if record.caption_scene else None,
        "detail": record.detail,
        "source_uid": records[record.source].uid if record.source is not None else None,
    }
