from pairsift.cli import main
from pairsift.synth import KINDS


def test_demo_scores_selects_and_prints_the_table(tmp_path, capsys):
    assert main(["-q", "demo", "-o", str(tmp_path / "demo"), "--shards", "2", "--rows", "600"]) == 0
    out = capsys.readouterr().out
    assert "rows: 1200" in out
    table = out[out.index("share of each kind") :].splitlines()
    assert all(kind in table[1] for kind in KINDS)
    recipe = next(line for line in table if line.startswith("neg_clip_loss 30% -> norm_sim_inf 20%"))
    shares = [float(x.rstrip("%")) for x in recipe.split()[-4:]]
    assert shares[KINDS.index("off_target")] < 5.0  # the target set does not cover them
    assert (tmp_path / "demo" / "run" / "subsets").is_dir()
