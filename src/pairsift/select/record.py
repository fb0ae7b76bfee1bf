"""The subset file and its record (``<output>.json``), written so that a record never sits beside a
subset it does not describe.

Both files are written to temporaries first (a full disk fails there, leaving the old pair as it was).
Two renames cannot happen at once, so :func:`write_selection` orders them: the old record is removed
first, then the new subset is renamed into place, then the new record (which holds the subset's sha256).
A kill at any point leaves either the old pair, or a subset without a record, or the new pair; never
a record that lies. On object storage (any fsspec URL) the same order holds, with one upload in place
of each rename and no temporary there at all. The temporaries a killed local writer leaves
(``.<output>.*.tmp``) are swept by the next selection into the same output, and :func:`read_record`
checks the sha256 of whatever is beside it.
"""

from __future__ import annotations

import glob
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from pairsift.errors import InputError
from pairsift.io.fs import publish, write_temporary
from pairsift.io.location import Location, RemotePath, output_path
from pairsift.io.subsets import file_sha256, stage_subset

logger = logging.getLogger(__name__)

SHA256 = "subset_sha256"


def record_path(output: str | Path | RemotePath) -> Location:
    location = output_path(output)
    return location.parent / (location.name + ".json")


def sweep(output: str | Path | RemotePath) -> int:
    """Delete the temporaries a killed selection into ``output`` left (its subset's and its record's).

    Only this output's own (``.<name>.*.tmp``, what ``atomic_write`` names them): the folder may be
    shared with other writers.
    """
    output = output_path(output)
    removed = 0
    stales = (
        [] if isinstance(output, RemotePath) else output.parent.glob(f".{glob.escape(output.name)}.*.tmp")
    )
    for stale in stales:
        stale.unlink(missing_ok=True)
        removed += 1
    if removed:
        logger.info("%s: removed %d temporary file(s) of an interrupted selection", output, removed)
    if output.exists() and not record_path(output).exists():
        logger.warning("%s has no record beside it (an earlier selection was interrupted); rewriting", output)
    return removed


def write_selection(output: str | Path | RemotePath, subset: np.ndarray, record: dict[str, Any]) -> str:
    """Write the subset file, then its record with the subset's sha256 (returned).

    Both are written to temporaries first, so a full disk fails before anything under the final names
    changes (the earlier pair is left as it was); then come the old record's removal and the renames.
    """
    output = output_path(output)
    path = record_path(output)
    staged, digest = stage_subset(output, subset)
    record = dict(record, **{SHA256: digest})
    text = (json.dumps(record, indent=2) + "\n").encode()
    staged_record: Path | None = None
    try:
        staged_record = write_temporary(path, lambda fh: fh.write(text))
        path.unlink(missing_ok=True)  # until the last rename: a subset without a record, never a stale one
        publish(staged, output)
        publish(staged_record, path)
    except BaseException:
        staged.unlink(missing_ok=True)
        if staged_record is not None:
            staged_record.unlink(missing_ok=True)
        raise
    return digest


def read_record(output: str | Path | RemotePath) -> dict[str, Any] | None:
    """The record beside ``output`` (None when there is none), checked against the subset's sha256.

    A record whose sha256 differs describes another subset (an interrupted or foreign write): an error.
    Records written before the sha256 was recorded are returned unchecked.
    """
    path = record_path(output)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the selection record: {exc}") from exc
    if not isinstance(record, dict):
        raise InputError(f"{path}: expected a JSON object (a `pairsift select` record)")
    expected = record.get(SHA256)
    if expected is not None and output_path(output).is_file():
        found = file_sha256(output)
        if found != expected:
            raise InputError(
                f"{path} does not describe {output}: it records sha256 {expected[:12]}…, the file has "
                f"{found[:12]}… (a selection was interrupted, or the file was rewritten since); rerun "
                "`pairsift select` to write both again"
            )
    return record
