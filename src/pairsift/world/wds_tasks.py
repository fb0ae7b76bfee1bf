"""The world's tasks in clip_benchmark's webdataset layout, so ``pairsift evaluate`` reads them as it reads
any ``wds/<task>`` dataset a user has on disk::

    OUT/<task>/classnames.txt                          one class name per line
    OUT/<task>/zeroshot_classification_templates.txt   one prompt per line, ``{c}`` for the class name
    OUT/<task>/test/nshards.txt, OUT/<task>/test/0.tar  KEY.jpg + KEY.cls (the class index)
    OUT/retrieval/dataset_type.txt                     ``retrieval``
    OUT/retrieval/test/0.tar                           KEY.jpg + KEY.txt (the caption of a clean pair)

Classification tasks come from a world's ``tasks/<task>/test`` tars; the retrieval task from the pool of a
world generated with only clean samples (:func:`write_retrieval_task`).
"""

from __future__ import annotations

import json
from pathlib import Path

from pairsift.io.fs import atomic_write
from pairsift.io.tars import read_samples
from pairsift.world.shards import SampleFiles, tar_bytes

RETRIEVAL = "retrieval"


def _write_text(path: Path, lines: list[str]) -> None:
    data = ("\n".join(lines) + "\n").encode()
    atomic_write(path, lambda fh: fh.write(data))


def _write_split(directory: Path, samples: list[SampleFiles]) -> None:
    (directory / "test").mkdir(parents=True, exist_ok=True)
    data = tar_bytes(samples)
    atomic_write(directory / "test" / "0.tar", lambda fh: fh.write(data))
    _write_text(directory / "test" / "nshards.txt", ["1"])


def write_classification_task(world_task: str | Path, out: str | Path) -> Path:
    """Write the world task folder ``world_task`` (``classes.json``, ``test/*.tar``) into ``out``."""
    source, target = Path(world_task), Path(out)
    spec = json.loads((source / "classes.json").read_text())
    samples: list[SampleFiles] = []
    for tar in sorted((source / "test").glob("*.tar")):
        for sample in read_samples(str(tar)):
            image, ext = (
                (sample.member("jpg"), "jpg") if sample.member("jpg") else (sample.member("png"), "png")
            )
            label = sample.member("cls")
            if image is None or label is None:
                raise ValueError(f"{tar}: sample {sample.key} has no image or no .cls")
            samples.append((sample.key, [(ext, image), ("cls", label)]))
    _write_split(target, samples)
    _write_text(target / "classnames.txt", list(spec["classes"]))
    _write_text(
        target / "zeroshot_classification_templates.txt", [t.replace("{}", "{c}") for t in spec["templates"]]
    )
    return target


def write_retrieval_task(pool: str | Path, out: str | Path) -> Path:
    """Write the image–caption pairs of the pool tars in ``pool`` as a retrieval task into ``out``."""
    target = Path(out)
    samples: list[SampleFiles] = []
    for tar in sorted(Path(pool).glob("*.tar")):
        for sample in read_samples(str(tar)):
            image, text = sample.member("jpg"), sample.member("txt")
            if image is not None and text is not None and _decodes(image):
                samples.append((sample.key, [("jpg", image), ("txt", text)]))
    _write_split(target, samples)
    _write_text(target / "dataset_type.txt", [RETRIEVAL])
    return target


def _decodes(image: bytes) -> bool:
    """Whether PIL reads the image (a pool's corrupt samples are left out of the retrieval task)."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(image)) as img:
            img.load()
    except Exception:  # any decoding failure: not a pair to retrieve
        return False
    return True


def write_world_tasks(
    world: str | Path, out: str | Path, *, retrieval_pool: str | Path | None = None
) -> list[Path]:
    """Every task of the world in ``world`` (and a retrieval task from ``retrieval_pool``) under ``out``."""
    tasks = sorted(p for p in (Path(world) / "tasks").iterdir() if p.is_dir())
    written = [write_classification_task(t, Path(out) / t.name) for t in tasks]
    if retrieval_pool is not None:
        written.append(write_retrieval_task(retrieval_pool, Path(out) / RETRIEVAL))
    return written
