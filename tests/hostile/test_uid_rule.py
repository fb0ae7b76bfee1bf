"""Issue 16, item 7: one uid rule for every stage. A sample whose JSON sidecar is broken gets a derived uid
and a status from embed, can be selected, and reshard derives the same uid and writes it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from pairsift import api
from pairsift.io.sample_uids import derived_uid, shard_stem, sidecar_uid
from pairsift.io.subsets import read_subset
from pairsift.stages.embed import embed
from pairsift.stages.reshard import ReshardConfig, reshard
from tests.hostile.tars import embed_config, encoder, info, sample_members, uid, write

#: key -> the sidecar written (None: no sidecar), the status embed records
BROKEN = {
    "good": (json.dumps({"uid": uid(0)}).encode(), "ok"),
    "notjson": (b"{not json", "malformed_metadata"),
    "array": (b"[1, 2]", "malformed_metadata"),
    "baduid": (b'{"uid": "xyz"}', "malformed_metadata"),
    "intuid": (b'{"uid": 12}', "malformed_metadata"),
    "nouid": (b'{"url": "u"}', "ok"),
    "nojson": (None, "ok"),
}


def broken_tar(path: Path) -> Path:
    members = []
    for i, (key, (sidecar, _)) in enumerate(BROKEN.items()):
        members += [(m, d) for m, d in sample_members(key, i) if not m.name.endswith(".json")]
        if sidecar is not None:
            members.append((info(f"{key}.json", len(sidecar)), sidecar))
    return write(path, members)


def test_the_rule() -> None:
    assert sidecar_uid("s", "k", json.dumps({"uid": "AB" * 16}).encode())[0].uid == "AB" * 16  # as written
    assert sidecar_uid("s", "k", b"{oops")[0].uid == derived_uid("s", "k")
    assert [shard_stem(p) for p in ("/d/0001.tar", "0001.tar.gz", "x/0001.TGZ", "p.parquet")] == [
        "0001"
    ] * 3 + ["p"]


def test_embed_select_and_reshard_agree_on_derived_uids(tmp_path: Path) -> None:
    broken_tar(tmp_path / "in" / "u.tar")
    pool = tmp_path / "pool"
    summary = embed(embed_config(tmp_path / "in", pool), encoder=encoder())
    table = pq.read_table(pool / "u.parquet").to_pylist()
    assert [r["status"] for r in table] == [status for _, status in BROKEN.values()]
    assert summary.statuses == {"malformed_metadata": 4, "ok": 3}
    expected = [uid(0)] + [derived_uid("u", key) for key in list(BROKEN)[1:]]
    assert [r["uid"] for r in table] == expected
    api.score(str(pool), str(tmp_path / "run"), scorers=["clip_score"], embeddings="tiny", device="cpu")
    subset = str(tmp_path / "subset.npy")
    api.select(str(tmp_path / "run"), subset, rules=[("top", "clip_score=1.0")])
    assert len(read_subset(subset)) == len(BROKEN)  # select can pick every one of them
    out = reshard(ReshardConfig(str(tmp_path / "in"), subset, str(tmp_path / "out")))
    assert out.ok and out.written_samples == len(BROKEN) and out.missing_uids == 0
    assert out.derived_uid_reasons == {"malformed_json": 2, "malformed_uid": 2, "no_uid": 1, "no_json": 1}
    written = np.load(tmp_path / "out" / "u.uids.npy")
    assert len(written) == len(BROKEN)
