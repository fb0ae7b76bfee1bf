"""The run directory: ``run.json`` (what was asked and resolved), score tables, resumability."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from pairsift.errors import RunConfigError
from pairsift.io.fs import atomic_write, sweep_temporaries

MANIFEST = "run.json"
SCORES = "scores"
SUBSETS = "subsets"  #: where ``pairsift demo`` writes its selections and ``pairsift report`` looks
STAGING = ".staging"
WORK = ".work"
PACKAGES = ("pairsift", "torch", "numpy", "pyarrow", "fsspec")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


class RunDir:
    """Paths and bookkeeping of one run. A shard is done when its score table exists."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.scores = self.path / SCORES
        self.subsets = self.path / SUBSETS
        self.staging = self.path / STAGING
        self.work = self.path / WORK
        self.manifest = self.path / MANIFEST

    def table(self, shard: str) -> Path:
        return self.scores / f"{shard}.parquet"

    def staged(self, shard: str) -> Path:
        return self.staging / f"{shard}.parquet"

    def prepare(self, manifest: dict[str, Any]) -> bool:
        """Create the directory and write ``run.json``, or check it against an earlier run.

        Returns True when resuming. The ``scoring`` part of the manifest (pool, embeddings, source,
        scorers and their parameters, seed, precision) must match exactly; device and worker count
        may differ between runs since they do not change which scores are computed.
        """
        for folder in (self.scores, self.staging, self.work):
            folder.mkdir(parents=True, exist_ok=True)
            sweep_temporaries(folder)
        if self.manifest.exists():
            earlier = json.loads(self.manifest.read_text())
            self._check(earlier.get("scoring", {}), manifest["scoring"])
            return True
        atomic_write(self.manifest, lambda fh: fh.write(_dump(manifest)))
        return False

    def _check(self, earlier: dict[str, Any], now: dict[str, Any]) -> None:
        if _canonical(earlier) == _canonical(now):
            return
        diffs = [
            f"  {key}: was {json.dumps(earlier.get(key))}, now {json.dumps(now.get(key))}"
            for key in sorted(set(earlier) | set(now))
            if _canonical(earlier.get(key)) != _canonical(now.get(key))
        ]
        raise RunConfigError(
            f"{self.path} holds a run made with another configuration; refusing to mix scores.\n"
            + "\n".join(diffs)
            + "\nUse a new output directory, or delete this one to start over."
        )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _dump(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode()
