import logging

from pairsift.cli import main


def test_demo_generates_embeds_scores_selects_and_reports(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["-q", "demo", "-o", str(out), "--samples", "400", "--device", "cpu"]) == 0
    report = capsys.readouterr().out
    assert "rows: 400" in report
    table = report[report.index("share of each kind") :].splitlines()
    header = table[1].split()
    assert header[0] == "selection" and "clean" in header and "corrupt" in header
    recipe = next(line for line in table if line.startswith("neg_clip_loss 30% -> norm_sim_inf 20%"))
    shares = dict(
        zip(header[1:], (float(x.rstrip("%")) for x in recipe.split()[-len(header) + 1 :]), strict=True)
    )
    assert shares["corrupt"] == 0.0  # undecodable images are never selected
    for label in ("sieve top 30%", "sieve + clip_score (minmax) top 30%"):
        row = next(line for line in table if line.startswith(label))
        kept = dict(
            zip(header[1:], (float(x.rstrip("%")) for x in row.split()[-len(header) + 1 :]), strict=True)
        )
        assert kept["corrupt"] == 0.0 and kept["boilerplate"] < kept["clean"]
    dedup = next(line for line in table if line.startswith("semdedup (tiny-copy, eps "))
    kept = dict(
        zip(header[1:], (float(x.rstrip("%")) for x in dedup.split()[-len(header) + 1 :]), strict=True)
    )
    assert kept["corrupt"] == 0.0  # NaN rows never kept
    assert kept["near_duplicate"] < 50.0 < kept["clean"]  # the copy detector finds copies, keeps sources
    assert "images captioned" in report and (out / "captions" / "captions.json").is_file()
    assert (out / "run" / "subsets" / "selection-2.npy").is_file()
    assert (out / "target.npy").is_file()
    for name in ("report.html", "report-dedup.html"):
        assert f"report: {out / name}" in report and (out / name).stat().st_size > 10_000
    assert (out / "run-dedup" / "subsets" / "semdedup.npy").is_file()


def test_a_failing_stage_stops_the_demo_with_one_error_naming_it(tmp_path, caplog, capsys):
    out = tmp_path / "demo"
    argv = [
        "demo",
        "-o",
        str(out),
        "--samples",
        "200",
        "--device",
        "cpu",
        "--text-model",
        str(tmp_path / "nope"),
    ]
    with caplog.at_level(logging.ERROR, logger="pairsift"):
        assert main(argv) == 1
    final = [r.getMessage() for r in caplog.records if r.name == "pairsift"]
    assert len(final) == 1 and final[0].startswith("demo stopped at the score stage: 1 of 1 shards failed")
    assert "text model" in final[0]
    assert capsys.readouterr().out == ""  # no table, no report line
    assert not (out / "run" / "subsets").exists() and not (out / "report.html").exists()
    assert not list((out / "run" / "scores").glob("*.parquet"))
