"""NormSim-D (METHODS.md §3): NormSim_2 against a dynamic target, for when no target data exists.

1. Candidates C = the top ``fraction`` of the pool by CLIPScore (exact count int(fraction·n),
   ties by uid).
2. S = second moment (1/|A|) Σ a aᵀ of the image embeddings, first over the whole pool.
3. For ``iters`` rounds: score every surviving candidate by fᵀ S f, drop the lowest
   ceil((|C| − m)/iters) (never below m = int(target_fraction·n)), and recompute S from the
   survivors — exactly, in float64, by subtracting the dropped samples' outer products.

Output: ``t + x/2`` for a candidate dropped in round t with last score x ∈ [0, 1], ``iters + x/2``
for the survivors, -1 for non-candidates and NaN for invalid rows; so the top int(target_fraction·n)
of the pool by this column is exactly NormSim-D's selection. Ties among equal x are dropped in pool
order (shard order, then row).

Memory: 9 bytes per pool sample (CLIPScore, candidate flag, output) and 7 per candidate (alive flag,
round, last score) plus one d×d matrix; candidate embeddings are streamed from a float32 cache on
local disk (4·d bytes per candidate), never held in RAM.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pairsift.data import IMAGE, TEXT, PoolReader
from pairsift.device import Compute
from pairsift.params import float_param, int_param
from pairsift.scorers.base import PoolScorer, register
from pairsift.scorers.clip_score import own_similarity
from pairsift.scorers.norm_sim import gram, quadratic_form
from pairsift.scorers.top_k_masks import top_k_masks

CHUNK_ROWS = 65536


@register("norm_sim_d")
class NormSimD(PoolScorer):
    """Iterative NormSim_2 with the target re-estimated from the current selection."""

    requires = frozenset({IMAGE, TEXT})

    def __init__(
        self,
        *,
        fraction: float = 0.3,
        target_fraction: float = 0.2,
        iters: int = 10,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.fraction = float_param("fraction", fraction, low=0, high=1)
        self.target_fraction = float_param("target_fraction", target_fraction, low=0, high=1)
        if self.target_fraction > self.fraction:
            raise ValueError(
                f"target_fraction ({target_fraction}) must not exceed fraction ({fraction}): "
                "the final selection is taken from the candidates"
            )
        self.iters = int_param("iters", iters, minimum=1)

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "fraction": self.fraction,
            "target_fraction": self.target_fraction,
            "iters": self.iters,
        }

    def score_pool(
        self, batches: PoolReader, compute: Compute, *, seed: int, workdir: Path | None = None
    ) -> dict[str, np.ndarray]:
        shards = batches.shards()
        clip, pool_moment, n_valid = self._clip_pass(batches, shards, compute)
        n = sum(len(v) for v in clip.values())
        candidates = top_k_masks(
            clip, int(self.fraction * n), lambda s: batches.read(s, frozenset()).uid_keys
        )
        with tempfile.TemporaryDirectory(prefix="norm_sim_d-", dir=workdir) as tmp:
            cache, cand_moment = self._cache_candidates(batches, shards, candidates, Path(tmp), compute)
            m = min(int(self.target_fraction * n), len(cache))
            start = pool_moment / max(n_valid, 1)
            rounds, last = self._iterate(cache, start, cand_moment, m, compute)
            del cache
        values = (rounds.astype(np.float64) + 0.5 * last).astype(np.float32)
        out: dict[str, np.ndarray] = {}
        offset = 0
        for shard in shards:
            col = np.where(np.isfinite(clip[shard]), np.float32(-1), np.float32(np.nan))
            mask = candidates[shard]
            col[mask] = values[offset : offset + int(mask.sum())]
            offset += int(mask.sum())
            out[shard] = col
        return out

    def _clip_pass(
        self, batches: PoolReader, shards: list[str], compute: Compute
    ) -> tuple[dict[str, np.ndarray], torch.Tensor, int]:
        clip: dict[str, np.ndarray] = {}
        moment: torch.Tensor | None = None
        n_valid = 0
        for shard in shards:
            batch = batches.read(shard, self.requires)
            valid = batch.valid(self.requires)
            scores = np.full(len(batch), np.nan, dtype=np.float32)
            if valid.any():
                assert batch.image is not None and batch.text is not None
                f = torch.from_numpy(batch.image[valid]).to(compute.device)
                t = torch.from_numpy(batch.text[valid]).to(compute.device)
                scores[valid] = own_similarity(f, t).cpu().numpy()
                part = gram(f, compute.device)
                moment = part if moment is None else moment + part
                n_valid += int(valid.sum())
            clip[shard] = scores
        if moment is None:
            raise ValueError("norm_sim_d: the pool has no valid rows")
        return clip, moment, n_valid

    def _cache_candidates(
        self,
        batches: PoolReader,
        shards: list[str],
        candidates: dict[str, np.ndarray],
        tmp: Path,
        compute: Compute,
    ) -> tuple[np.ndarray, torch.Tensor]:
        path = tmp / "candidates.f32"
        rows, dim = 0, 0
        moment: torch.Tensor | None = None
        with path.open("wb") as fh:
            for shard in shards:
                if not candidates[shard].any():
                    continue
                batch = batches.read(shard, frozenset({IMAGE}))
                assert batch.image is not None
                block = np.ascontiguousarray(batch.image[candidates[shard]], dtype=np.float32)
                fh.write(block.tobytes())
                part = gram(torch.from_numpy(block).to(compute.device), compute.device)
                moment = part if moment is None else moment + part
                rows, dim = rows + len(block), block.shape[1]
        if moment is None:
            raise ValueError("norm_sim_d: no candidates (fraction too small for this pool?)")
        return np.memmap(path, dtype=np.float32, mode="r", shape=(rows, dim)), moment

    def _iterate(
        self, cache: np.ndarray, start: torch.Tensor, moment: torch.Tensor, m: int, compute: Compute
    ) -> tuple[np.ndarray, np.ndarray]:
        count = len(cache)
        alive = np.ones(count, dtype=bool)
        rounds = np.full(count, self.iters, dtype=np.int16)
        last = np.zeros(count, dtype=np.float32)
        per_round = math.ceil((count - m) / self.iters)
        second = start
        for t in range(self.iters):
            n_alive = int(alive.sum())
            if n_alive <= m:
                break
            matrix = second.float().to(compute.device)
            for s0 in range(0, count, CHUNK_ROWS):
                idx = s0 + np.flatnonzero(alive[s0 : s0 + CHUNK_ROWS])
                f = torch.from_numpy(np.asarray(cache[idx])).to(compute.device)
                last[idx] = quadratic_form(f, matrix).cpu().numpy()
            survivors = np.flatnonzero(alive)
            order = np.argsort(last[survivors], kind="stable")[: min(per_round, n_alive - m)]
            dropped = np.sort(survivors[order])
            rounds[dropped] = t
            alive[dropped] = False
            moment = moment - gram(
                torch.from_numpy(np.asarray(cache[dropped])).to(compute.device), compute.device
            )
            second = moment / (n_alive - len(dropped))
        return rounds, last
