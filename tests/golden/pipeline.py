"""The whole data path on a small tiny-world pool, through the CLI, and the sha256 of every output.

``python -m tests.golden.pipeline --write`` records the hashes in ``hashes.json`` beside this file;
``tests/golden/test_outputs.py`` reruns the pipeline and compares. The hashes were first recorded on the
tree before the layout change of issue 11, so the test proves the reorganisation changed no output byte.
Files that hold paths or timings (``*.json``, dot files) are not hashed. Recorded again, on purpose, when
issue 14 renamed world tars ``{:08d}.tar`` (captions are seeded by shard name, so the SIEVE scores moved)
and gave pool parquets DataComp's similarity column; every other output kept its bytes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from pairsift.cli import main

HASHES = Path(__file__).with_name("hashes.json")
TEACHER = "pairsift:tiny-world"
CAPTIONER = "pairsift:tiny-world-captioner"


def _run(*argv: str) -> None:
    code = main(["-q", *argv])
    if code != 0:
        raise RuntimeError(f"pairsift {' '.join(argv)} exited {code}")


def run_pipeline(root: Path) -> dict[str, str]:
    """world generate -> embed (+ targets) -> caption -> score -> select -> reshard; ``{file: sha256}``."""
    world, pool, captions, run = root / "world", root / "pool", root / "captions", root / "run"
    target = root / "target.npy"
    _run(
        "world",
        "generate",
        "-o",
        str(world),
        "--samples",
        "300",
        "--shard-size",
        "100",
        "--seed",
        "7",
        "--task",
        "shape",
        "--task-samples",
        "40",
    )
    _run(
        "embed",
        str(world / "pool"),
        "-o",
        str(pool),
        "--model",
        TEACHER,
        "--device",
        "cpu",
        "--batch-size",
        "64",
        "--num-workers",
        "0",
    )
    _run(
        "embed-targets",
        str(world / "tasks" / "shape" / "train"),
        "-o",
        str(target),
        "--model",
        TEACHER,
        "--device",
        "cpu",
        "--num-workers",
        "0",
    )
    _run(
        "caption",
        str(world / "pool"),
        "-o",
        str(captions),
        "--model",
        CAPTIONER,
        "--device",
        "cpu",
        "--num-workers",
        "0",
        "--batch-size",
        "32",
    )
    _run(
        "score",
        str(pool),
        "-o",
        str(run),
        "--embeddings",
        "tiny_world",
        "--device",
        "cpu",
        "--scorer",
        "clip_score",
        "--scorer",
        "neg_clip_loss:batch_size=64,k=3",
        "--scorer",
        f"norm_sim:p=inf,target={target}",
        "--scorer",
        f"norm_sim:p=2,target={target}",
        "--scorer",
        "norm_sim_d:fraction=0.5,target_fraction=0.3,iters=3",
        "--scorer",
        f"sieve:captions={captions},mask=words",
    )
    subsets = root / "subsets"
    _run(
        "select",
        str(run),
        "-o",
        str(subsets / "paper.npy"),
        "--top",
        "neg_clip_loss=0.3",
        "--top",
        "norm_sim_inf=0.2",
    )
    _run(
        "select",
        str(run),
        "-o",
        str(subsets / "fused.npy"),
        "--fuse",
        "fused=clip_score:0.5,sieve:0.5",
        "--top",
        "fused=0.3",
    )
    _run(
        "select",
        str(run),
        "-o",
        str(subsets / "datacomp.npy"),
        "--datacomp-threshold",
        "--top",
        "clip_score=0.3",
    )
    _run("select", str(run), "-o", str(subsets / "dynamic.npy"), "--threshold", "norm_sim_d=0")
    _run(
        "reshard",
        "--input",
        str(world / "pool"),
        "--subset",
        str(subsets / "paper.npy"),
        "-o",
        str(root / "reshard"),
        "--shard-size",
        "20",
    )
    return hashes(root)


def hashes(root: Path) -> dict[str, str]:
    """sha256 of every output file under ``root`` except the world itself and ``*.json`` records."""
    out = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        hidden = path.name.startswith(".")  # a run's lock file holds a pid and a time
        if path.is_file() and not relative.startswith("world/") and path.suffix != ".json" and not hidden:
            out[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        found = run_pipeline(Path(tmp))
    if "--write" in sys.argv:
        HASHES.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
    print(json.dumps(found, indent=2, sort_keys=True))
