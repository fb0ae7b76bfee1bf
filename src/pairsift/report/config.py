"""What ``pairsift report`` builds: the run, the subsets, where images and labels come from, the sizes."""

from __future__ import annotations

from dataclasses import dataclass

from pairsift.errors import ConfigError


@dataclass(frozen=True)
class ReportConfig:
    """The same names as the command's options.

    ``subsets=None`` shows ``RUN_DIR/subsets/*.npy``; ``images``/``labels`` ``None`` means "find them"
    (the pool's ``embed.json`` input; ``labels.parquet`` beside that input), ``""`` means "none".
    """

    run_dir: str
    output: str
    subsets: tuple[str, ...] | None = None
    images: str | None = None
    labels: str | None = None
    label_column: str = "kind"
    scatter: tuple[str, str] | None = None  #: the two score columns of the scatter plot
    bins: int = 60  #: histogram bins
    sample: int = 5000  #: rows sampled for the rank correlations and the scatter plot
    scatter_points: int = 2000  #: of those, rows drawn in the scatter plot
    cards: int = 8  #: samples per gallery
    pair_subsets: int = 3  #: "kept by A, dropped by B" galleries for pairs among the first N subsets
    duplicate_groups: int = 4  #: galleries of the largest duplicate groups, per dedup column
    thumbnail: int = 96  #: longest side of a thumbnail, in pixels
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("bins", "sample", "scatter_points", "cards", "thumbnail"):
            if getattr(self, name) < 1:
                raise ConfigError(f"report option {name} must be >= 1, got {getattr(self, name)}")
        for name in ("pair_subsets", "duplicate_groups"):
            if getattr(self, name) < 0:
                raise ConfigError(f"report option {name} must be >= 0, got {getattr(self, name)}")
        if self.scatter is not None and len(self.scatter) != 2:
            raise ConfigError(f"scatter takes two score columns X,Y, got {self.scatter!r}")

    @staticmethod
    def parse_scatter(text: str) -> tuple[str, str]:
        """``"clip_score,neg_clip_loss"`` -> ``("clip_score", "neg_clip_loss")``."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"--scatter expects two score columns X,Y, got {text!r}")
        return parts[0], parts[1]
