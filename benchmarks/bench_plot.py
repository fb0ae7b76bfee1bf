"""Write the plot of a ``pairsift bench`` output (average accuracy per method, one dot per seed, mean and
± std) as a standalone SVG file, for docs/bench.md; the same chart as in ``OUT/report.html``.

    python benchmarks/bench_plot.py OUT docs/bench-plot.svg
"""

from __future__ import annotations

import sys
from pathlib import Path

from pairsift.report.bench import method_scores, read_bench, spread_chart


def main(out: str, svg: str) -> None:
    data = read_bench(out)
    if data is None:
        raise SystemExit(f"{out}: no bench.json")
    Path(svg).write_text(str(spread_chart(method_scores(data.results))) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
