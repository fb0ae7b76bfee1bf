"""``image_size``: smaller side and max/min aspect ratio in float64; missing sizes give NaN."""

from __future__ import annotations

import numpy as np
import pytest

from pairsift.data import EmbeddingBatch, metadata_column
from pairsift.device import Compute
from pairsift.scorers import build_scorer
from tests import pools

CPU = Compute.resolve("cpu")


def test_smaller_side_and_aspect_ratio():
    width = np.array([200, 600, np.nan, 0, 0, 1000, 333], dtype=np.float64)
    height = np.array([600, 199, 300, 500, 0, 333, 1000], dtype=np.float64)
    uids = np.array(pools.hex_uids(len(width)), dtype=object)
    batch = EmbeddingBatch.build("s", uids, columns={"original_width": width, "original_height": height})
    scorer = build_scorer("image_size", {})
    assert scorer.inputs() == {metadata_column("original_width"), metadata_column("original_height")}
    columns = scorer.score_columns(batch, CPU)
    assert columns["image_size"].dtype == np.float64 and columns["image_size_aspect"].dtype == np.float64
    assert columns["image_size"].tolist()[:2] == [200.0, 199.0] and np.isnan(columns["image_size"][2])
    assert columns["image_size_aspect"][0] == 3.0 and columns["image_size_aspect"][3] == np.inf
    assert np.isnan(columns["image_size_aspect"][4])  # 0 x 0
    assert (
        columns["image_size_aspect"][5] == pytest.approx(1000 / 333, abs=0)
        and columns["image_size_aspect"][5] > 3
    )
    assert columns["image_size_aspect"][5] == columns["image_size_aspect"][6]


def test_other_size_columns_can_be_named():
    scorer = build_scorer("image_size", {"width": "w", "height": "h", "name": "size"})
    assert scorer.inputs() == {"column:w", "column:h"} and scorer.output_columns() == ("size", "size_aspect")
