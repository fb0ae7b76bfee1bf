"""Gallery cards: everything known about one sample, read only for the few rows the galleries show.

A card holds the uid, status and every score and text column of the row's score table; the caption
and URL from the pool's metadata parquet (matched by uid); the ground-truth label when labels are
known; which subsets keep it; and a thumbnail when the raw images are available.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from pairsift.data import STATUS_COLUMN, UID_COLUMN
from pairsift.errors import InputError
from pairsift.io.fs import display, join, open_input, resolve
from pairsift.io.location import read_parquet
from pairsift.io.raw import TEXT_FIELDS
from pairsift.progress import track
from pairsift.report.gather import ReportData
from pairsift.report.passes import membership_patterns
from pairsift.report.thumbnails import ImageShards, Thumbnail
from pairsift.uids import check_uid_type, parse_uids

logger = logging.getLogger(__name__)

URL_COLUMN = "url"


@dataclass
class Card:
    uid: str
    shard: str
    row: int
    status: str
    scores: dict[str, float]
    texts: dict[str, str] = field(default_factory=dict)
    caption: str | None = None
    url: str | None = None
    label: str | None = None
    kept: list[bool] = field(default_factory=list)
    image: Thumbnail | None = None


Cards = dict[tuple[int, int], Card]  # (shard index, row) -> card


def build_cards(data: ReportData, images: ImageShards | None) -> Cards:
    """The cards of every gallery pick, with captions from the pool and thumbnails from ``images``."""
    wanted: dict[int, set[int]] = defaultdict(set)
    for gallery in data.galleries:
        for shard, row in zip(gallery.picks.shards.tolist(), gallery.picks.rows.tolist(), strict=True):
            wanted[shard].add(row)
    cards: Cards = {}
    pool = PoolMetadata(data.info.pool) if data.info.pool else None
    for index in track(sorted(wanted), "report: gallery cards"):
        rows = sorted(wanted[index])
        shard_cards = _score_rows(data, index, rows)
        if pool is not None:
            pool.annotate(data.info.shards[index], shard_cards)
        cards.update({(index, c.row): c for c in shard_cards})
    if images is not None:
        by_shard: dict[str, set[str]] = defaultdict(set)
        for card in cards.values():
            by_shard[card.shard].add(card.uid)
        thumbs = images.fetch(by_shard)
        for card in cards.values():
            card.image = thumbs.get(card.uid)
    return cards


def _score_rows(data: ReportData, index: int, rows: list[int]) -> list[Card]:
    info = data.info
    shard = info.shards[index]
    columns = [UID_COLUMN, STATUS_COLUMN, *info.scores, *info.texts]
    table = read_parquet(info.tables.paths[shard], columns=columns).take(rows)
    records = table.to_pylist()
    keys, ok = parse_uids(table.column(UID_COLUMN))
    labels = data.labels
    codes = labels.codes(keys, ok) if labels is not None else None
    patterns = membership_patterns(tuple(s.index for s in data.selections), keys, ok)
    cards = []
    for i, (row, record) in enumerate(zip(rows, records, strict=True)):
        cards.append(
            Card(
                uid=str(record[UID_COLUMN]),
                shard=shard,
                row=row,
                status=str(record[STATUS_COLUMN]),
                scores={c: _float(record[c]) for c in info.scores},
                texts={c: str(record[c]) for c in info.texts if record[c] is not None},
                label=labels.names[codes[i]]
                if labels is not None and codes is not None and codes[i] >= 0
                else None,
                kept=[bool((patterns[i] >> b) & 1) for b in range(len(data.selections))],
            )
        )
    return cards


def _float(value: Any) -> float:
    return float(value) if value is not None else math.nan


class PoolMetadata:
    """Captions and URLs from a pool's metadata parquet (``<pool>/<shard>.parquet``), by uid."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = resolve(url)
        self.available = self.fs.exists(self.root)
        if not self.available:
            logger.warning("pool %s (from run.json) not found: cards show no caption or URL", url)

    def path(self, shard: str) -> str:
        return self.root if self.fs.isfile(self.root) else join(self.fs, self.root, f"{shard}.parquet")

    def annotate(self, shard: str, cards: list[Card]) -> None:
        if not self.available or not cards:
            return
        path = self.path(shard)
        try:
            with open_input(self.fs, path) as fh:
                schema = pq.read_schema(fh)
                names = schema.names
                text = next((c for c in TEXT_FIELDS if c in names), None)
                columns = [c for c in (UID_COLUMN, text, URL_COLUMN) if c is not None and c in names]
                if UID_COLUMN not in columns:
                    return
                check_uid_type(schema.field(UID_COLUMN).type, display(self.fs, path), UID_COLUMN)
                fh.seek(0)
                table = pq.read_table(fh, columns=columns)
        except (InputError, OSError, ValueError) as exc:
            logger.warning("pool metadata %s: %s; cards of this shard show no caption", path, exc)
            return
        uids = np.asarray(table.column(UID_COLUMN).to_numpy(zero_copy_only=False), dtype=object)
        where = {u: i for i, u in reversed(list(enumerate(uids.tolist())))}
        captions = table.column(text).to_pylist() if text else None
        urls = table.column(URL_COLUMN).to_pylist() if URL_COLUMN in columns else None
        for card in cards:
            i = where.get(card.uid)
            if i is not None:
                card.caption = captions[i] if captions else None
                card.url = urls[i] if urls else None
