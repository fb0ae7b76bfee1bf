import json

import numpy as np
import pytest

from pairsift import recipe as recipes
from pairsift.cli import main
from pairsift.io.subsets import read_subset, write_subset
from pairsift.select.tables import ScoreTables
from pairsift.uids import from_hex
from pairsift.world.synth import SynthConfig, write_pool, write_targets


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    synth = SynthConfig(shards=2, rows_per_shard=400, dim=32)
    return write_pool(root / "pool", synth), write_targets(root / "t.npy", synth, count=100)


def test_builtin_recipes_are_listed_with_their_source(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    for name in (
        "clipscore-30",
        "negcliploss-30",
        "negcliploss-normsim-inf",
        "normsim-d",
        "dfn-negcliploss-normsim",
        "sieve-clipscore",
    ):
        assert name in out and name in recipes.builtin_names()
    assert "Wang et al." in out and "Gadre et al." in out and "Mahmoud et al." in out


def test_paper_recipe_scores_and_selects(world, tmp_path):
    pool, target = world
    run = tmp_path / "run"
    code = main(
        [
            "-q",
            "run",
            "negcliploss-normsim-inf",
            "--pool",
            str(pool),
            "-o",
            str(run),
            "--var",
            f"target={target}",
            "--set",
            "scorers.0.batch_size=256",
            "--set",
            "compute.device=cpu",
        ]
    )
    assert code == 0
    subset = read_subset(run / "subset.npy")
    assert len(subset) == int(0.2 * 800)
    assert ScoreTables(run).columns == ["neg_clip_loss", "norm_sim_inf"]


def test_dfn_recipe_selects_inside_the_given_subset(world, tmp_path):
    pool, target = world
    first = tmp_path / "first"
    assert main(["-q", "run", "clipscore-30", "--pool", str(pool), "-o", str(first)]) == 0
    tables = ScoreTables(first)
    uids = np.concatenate([tables.uid_keys(s)[0] for s in tables.shards])
    dfn = tmp_path / "dfn.npy"
    write_subset(dfn, read_subset(first / "subset.npy"))  # pretend CLIPScore-30 is the DFN subset
    run = tmp_path / "run"
    code = main(
        [
            "-q",
            "run",
            "dfn-negcliploss-normsim",
            "--pool",
            str(pool),
            "-o",
            str(run),
            "--var",
            f"target={target}",
            "--var",
            f"dfn={dfn}",
            "--set",
            "scorers.0.batch_size=256",
        ]
    )
    assert code == 0
    kept = read_subset(run / "subset.npy")
    inside = read_subset(dfn)
    assert len(kept) == int(0.8 * len(inside))
    assert np.isin(kept, inside).all()
    assert len(uids) == 800


def test_missing_variable_is_a_clear_error(world, tmp_path, caplog):
    pool, _ = world
    code = main(["run", "negcliploss-normsim-inf", "--pool", str(pool), "-o", str(tmp_path / "r")])
    assert code == 2
    assert "--var target=" in caplog.text
    assert not (tmp_path / "r").exists()


def test_unknown_recipe_lists_the_builtin_ones(tmp_path, caplog):
    assert main(["run", "no-such-recipe", "--pool", "x", "-o", str(tmp_path / "r")]) == 2
    assert "clipscore-30" in caplog.text


def test_recipe_file_with_select_section(world, tmp_path):
    pool, _ = world
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"pool: {pool}\noutput: {tmp_path / 'run'}\nembeddings: l14\nscorers: [clip_score]\n"
        "select:\n  rules:\n    - top: clip_score=0.5\n    - top-n: clip_score=10\n"
    )
    assert main(["-q", "run", str(recipe)]) == 0
    assert len(read_subset(tmp_path / "run" / "subset.npy")) == 10
    assert from_hex(["0" * 32]).dtype == read_subset(tmp_path / "run" / "subset.npy").dtype


def test_recipe_with_a_reshard_section(world, tmp_path):
    import random

    import pyarrow.parquet as pq

    from tests.stages.test_reshard import make_sample, write_tar

    pool, _ = world
    tars = tmp_path / "tars"
    tars.mkdir()
    rng = random.Random(0)
    for path in sorted(pool.glob("*.parquet")):
        uids = pq.read_table(path, columns=["uid"]).column(0).to_pylist()
        write_tar(tars / f"{path.stem}.tar", [make_sample(f"{i:06d}", u, rng) for i, u in enumerate(uids)])
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "embeddings: l14\nscorers: [clip_score]\nselect:\n  rules:\n    - top: clip_score=0.25\n"
        f"reshard:\n  input: {tars}\n  output: {tmp_path / 'out'}\n  shard_size: 50\n"
    )
    assert main(["-q", "run", str(recipe), "--pool", str(pool), "-o", str(tmp_path / "run")]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["written_samples"] == 200 and summary["missing_uids"] == 0
    assert summary["tars"] == len(list((tmp_path / "out").glob("*.tar"))) >= 4
