"""Ground-truth labels of pool samples (the tiny world's ``labels.parquet``: ``uid``, ``kind``).

Labels are looked up by uid: 16 bytes per labelled sample plus one small integer code each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from pairsift.data import UID_COLUMN
from pairsift.errors import InputError
from pairsift.uids import check_uid_type, parse_uids

DEFAULT_COLUMN = "kind"
_BIG_ENDIAN = np.dtype([("hi", ">u8"), ("lo", ">u8")])


def _as_bytes(keys: np.ndarray) -> np.ndarray:
    """``(n, 2)`` uint64 keys -> 16-byte strings whose byte order is the (hi, lo) order."""
    out = np.empty(len(keys), dtype=_BIG_ENDIAN)
    if len(keys):
        out["hi"], out["lo"] = keys[:, 0], keys[:, 1]
    return out.view("S16")


class LabelIndex:
    """``uid -> label`` for the rows of a labels file; :meth:`codes` maps uids to label numbers."""

    def __init__(self, keys: np.ndarray, labels: np.ndarray, names: list[str]) -> None:
        needles = _as_bytes(keys)
        order = np.argsort(needles, kind="stable")
        self.haystack = needles[order]
        self.labels = labels[order]
        self.names = names
        self.source: tuple[str, str] | None = None  #: (labels file, column), when read from one

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Pickled (for the report's engine tasks) as its file and column, read again where unpickled."""
        if self.source is None:
            return super().__reduce_ex__(protocol)
        return (LabelIndex.read, self.source)

    @classmethod
    def read(cls, path: str | Path, column: str = DEFAULT_COLUMN) -> LabelIndex:
        try:
            schema = pq.read_schema(path)
        except (OSError, ValueError) as exc:
            raise InputError(f"labels {path}: cannot read parquet: {exc}") from exc
        missing = [c for c in (UID_COLUMN, column) if c not in schema.names]
        if missing:
            raise InputError(f"labels {path}: missing column(s) {missing}; found {schema.names}")
        check_uid_type(schema.field(UID_COLUMN).type, f"labels {path}", UID_COLUMN)
        table = pq.read_table(path, columns=[UID_COLUMN, column])
        keys, ok = parse_uids(table.column(UID_COLUMN))
        values = np.asarray(table.column(column).to_numpy(zero_copy_only=False), dtype=object)
        text = np.array(["(none)" if v is None else str(v) for v in values], dtype=object)
        names = sorted(set(text[ok].tolist()))
        lookup = {name: i for i, name in enumerate(names)}
        codes = np.fromiter((lookup.get(t, -1) for t in text), dtype=np.int16, count=len(text))
        index = cls(keys[ok], codes[ok], names)
        index.source = (str(path), column)
        return index

    def codes(self, keys: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """Label number of each ``(n, 2)`` uid key; -1 for unlabelled or malformed uids."""
        out = np.full(len(keys), -1, dtype=np.int16)
        if not len(self.haystack) or not len(keys):
            return out
        needles = _as_bytes(keys)
        where = np.minimum(np.searchsorted(self.haystack, needles), len(self.haystack) - 1)
        found = ok & (self.haystack[where] == needles)
        out[found] = self.labels[where[found]]
        return out
