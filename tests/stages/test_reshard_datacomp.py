"""A reshard output is read by DataComp's ``train.py --data_dir`` as it is, and ``--layout datacomp`` writes
what DataComp's resharder writes.

:func:`datacomp_train_data` is our own implementation of the rule ``train.py`` uses to turn ``--data_dir``
into open_clip's ``--train-data`` string: in a folder, the ``.tar`` files are grouped by their name without
its trailing digits and each group becomes ``PREFIX{0…0..LAST}.tar`` (numbered from 0, as many digits as
the first one seen); every subfolder with a ``meta.json`` becomes ``{FIRST..LAST}.tar`` from its
``output_shard_count`` and ``output_shard_format``; every other subfolder is searched the same way and
its components joined with ``::`` (a subfolder without tars gives an empty component, which webdataset
then fails to open). Every sample is then read back with webdataset itself.
"""

from __future__ import annotations

import collections
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
from braceexpand import braceexpand

from pairsift.api import reshard
from pairsift.uids import from_hex
from tests.stages.test_reshard import make_sample, subset_file, write_tar

wds = pytest.importorskip("webdataset")


def datacomp_train_data(data_dir: Path) -> str:
    components: list[str] = []
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for entry in data_dir.iterdir():
        if entry.suffix == ".tar":
            stem = str(entry.with_suffix(""))
            digits = re.search(r"\d+$", stem)
            assert digits, f"{entry}: no trailing digits, train.py cannot name it"
            groups[stem[: digits.start()]].append(stem[digits.start() :])
        elif entry.is_dir():
            meta = entry / "meta.json"
            if meta.exists():
                record = json.loads(meta.read_text())
                fmt, count = record["output_shard_format"], int(record["output_shard_count"])
                first, last = fmt.format(0).replace(".tar", ""), fmt.format(count - 1).replace(".tar", "")
                components.append(str(entry / f"{{{first}..{last}}}.tar"))
            else:
                components.extend(datacomp_train_data(entry).split("::"))
    for prefix in sorted(groups):
        last = max(int(s) for s in groups[prefix])
        width = len(groups[prefix][0])
        components.append(f"{prefix}{{{0:0{width}d}..{last:0{width}d}}}.tar")
    return "::".join(components)


def urls(train_data: str) -> list[str]:
    out = []
    for component in train_data.split("::"):
        assert component, f"train.py would build an empty shard component: {train_data!r}"
        out.extend(braceexpand(component))
    return out


def read_back(train_data: str) -> list[dict]:
    files = urls(train_data)
    assert all(Path(f).is_file() for f in files), files
    return list(wds.WebDataset(files, shardshuffle=False, empty_check=False))


@pytest.fixture
def pool(tmp_path: Path) -> tuple[Path, list[str]]:
    """Three img2dataset-style input tars of eight samples: ``(directory, uids)``."""
    rng = random.Random(1)
    root = tmp_path / "tars"
    root.mkdir()
    uids = []
    for s in range(3):
        shard = [f"{rng.getrandbits(128):032x}" for _ in range(8)]
        write_tar(
            root / f"{s:08d}.tar", [make_sample(f"{s:05d}{i:04d}", u, rng) for i, u in enumerate(shard)]
        )
        uids += shard
    return root, uids


@pytest.mark.parametrize("layout", ["pairsift", "datacomp"])
def test_train_py_reads_every_sample_of_a_reshard_output(pool, tmp_path, layout):
    root, uids = pool
    chosen = uids[::2] + uids[:2]  # 12 distinct uids, two of them twice
    subset = subset_file(tmp_path / "s.npy", chosen)
    out = tmp_path / "out"
    summary = reshard(str(root), subset, str(out), shard_size=3, layout=layout)
    assert summary.ok and summary.written_samples == len(chosen)
    assert not [p for p in out.iterdir() if p.is_dir()], "a subfolder would be searched for shards"
    samples = read_back(datacomp_train_data(out))
    assert len(samples) == len(chosen)
    assert sorted(json.loads(s["json"])["uid"] for s in samples) == sorted(chosen)
    keys = [s["__key__"] for s in samples]
    assert len(set(keys)) == len(keys)
    if layout == "datacomp":
        assert sorted(keys) == sorted(
            f"{u}-{j}" for u, n in collections.Counter(chosen).items() for j in range(n)
        )


def test_the_datacomp_layout_writes_what_datacomps_resharder_writes(pool, tmp_path):
    root, uids = pool
    chosen = uids[1::3]
    subset = subset_file(tmp_path / "s.npy", chosen)
    out = tmp_path / "data" / "resharded"
    reshard(str(root), subset, str(out), shard_size=2, layout="datacomp")
    meta = json.loads((out / "meta.json").read_text())
    tars = sorted(out.glob("*.tar"))
    assert [t.name for t in tars] == [f"{i:08d}.tar" for i in range(meta["output_shard_count"])]
    assert meta["output_shard_format"] == "{:08d}.tar" and meta["output_count"] == len(chosen)
    for index, tar in enumerate(tars):
        stats = json.loads((out / f"{index:08d}_stats.json").read_text())
        assert stats["successes"] == len(read_back(str(tar)))
    assert (out / "sample_ids.npy").read_bytes() == Path(subset).read_bytes()
    assert np.array_equal(np.load(out / "sample_ids.npy"), np.sort(from_hex(chosen)))
    # train.py pointed at the parent folder finds the resharded subfolder through its meta.json
    train_data = datacomp_train_data(tmp_path / "data")
    assert train_data == f"{out}/{{00000000..{len(tars) - 1:08d}}}.tar"
    assert len(read_back(train_data)) == len(chosen)


def test_a_datacomp_layout_rerun_after_its_renames_changes_nothing(pool, tmp_path):
    root, uids = pool
    subset = subset_file(tmp_path / "s.npy", uids[::3])
    out = tmp_path / "out"
    reshard(str(root), subset, str(out), shard_size=2, layout="datacomp")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "summary.json"}
    again = reshard(str(root), subset, str(out), shard_size=2, layout="datacomp")
    assert again.ok and again.processed == 0
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != "summary.json"} == before


def test_an_output_of_pairsift_0_1_is_refused(pool, tmp_path):
    from pairsift.errors import RunConfigError

    root, uids = pool
    subset = subset_file(tmp_path / "s.npy", uids[:2])
    (tmp_path / "old" / "stats").mkdir(parents=True)
    with pytest.raises(RunConfigError, match=r"pairsift 0\.1"):
        reshard(str(root), subset, str(tmp_path / "old"))
