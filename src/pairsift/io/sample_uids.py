"""The one uid rule of raw samples, shared by ``embed``, ``caption`` and ``reshard``.

A sample's uid is its own ``uid`` (from a webdataset ``KEY.json`` sidecar, a captions-file or parquet
column) when that is a string of 32 hexadecimal digits, kept as written. Otherwise it is
``derived_uid(shard, key)``: the 32-hex blake2b-128 digest of ``"<shard>/<key>"`` (UTF-8), stable across
runs and machines. ``shard`` is the input file's stem (:func:`shard_stem`), so every stage derives the same
uid for the same sample, and a sample with a broken sidecar can be selected *and* resharded.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from pairsift.data import UID_COLUMN

#: why a uid was derived (``reason`` of :class:`SampleUid`), in the order checked
NO_JSON = "no_json"
MALFORMED_JSON = "malformed_json"
NO_UID = "no_uid"
MALFORMED_UID = "malformed_uid"
#: reasons that mean the sample's own metadata is broken (``embed`` records them as a row status)
BROKEN = (MALFORMED_JSON, MALFORMED_UID)

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
#: input files whose stem is a shard name, longest first
SHARD_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst", ".tgz", ".tar", ".parquet", ".jsonl", ".csv")


@dataclass(frozen=True)
class SampleUid:
    """A sample's uid and, when it was derived, why (``""`` when the sample's own uid was used)."""

    uid: str
    reason: str = ""


def derived_uid(shard: str, key: str) -> str:
    """A stable 128-bit uid for a sample that has none: blake2b-128 of ``"<shard>/<key>"``."""
    return hashlib.blake2b(f"{shard}/{key}".encode(), digest_size=16).hexdigest()


def uid_of(shard: str, key: str, value: Any, missing: str = NO_UID) -> SampleUid:
    """The sample's own uid ``value`` if it is 32 hex digits, else the derived uid (reason ``missing``
    when there is none)."""
    if value is None or value == "":
        return SampleUid(derived_uid(shard, key), missing)
    if isinstance(value, str) and _HEX32.fullmatch(value):
        return SampleUid(value)
    return SampleUid(derived_uid(shard, key), MALFORMED_UID)


def sidecar_uid(shard: str, key: str, sidecar: bytes | None) -> tuple[SampleUid, dict[str, Any]]:
    """The uid of a webdataset sample from its ``KEY.json`` bytes (``None``: no sidecar), and the parsed
    metadata (``{}`` when there is none or it is not a JSON object)."""
    if sidecar is None:
        return SampleUid(derived_uid(shard, key), NO_JSON), {}
    try:
        meta = json.loads(sidecar)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        meta = None
    if not isinstance(meta, dict):
        return SampleUid(derived_uid(shard, key), MALFORMED_JSON), {}
    return uid_of(shard, key, meta.get(UID_COLUMN)), meta


def shard_stem(path: str) -> str:
    """``/data/00000123.tar`` -> ``00000123`` (also ``.tar.gz``, ``.tgz``, ``.parquet``, …; any case)."""
    base = posixpath.basename(path.replace("\\", "/"))
    lowered = base.lower()
    suffix = next((s for s in SHARD_SUFFIXES if lowered.endswith(s)), "")
    return base[: len(base) - len(suffix)]
