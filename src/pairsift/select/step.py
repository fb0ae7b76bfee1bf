"""One line of a selection's funnel."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class Step:
    """One line of the funnel: the rule, rows kept after it, the base size, the threshold used."""

    rule: str
    kept: int
    base: int
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "kept": self.kept, "base": self.base}
        if self.threshold is not None:
            out["threshold"] = self.threshold if math.isfinite(self.threshold) else None
        return out
