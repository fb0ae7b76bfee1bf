"""The trainer's process: ``python -m pairsift.stages.train_worker MODEL_DIR OPEN_CLIP_TRAIN_ARGS...``.

Registers the model configs of ``MODEL_DIR`` with open_clip (``open_clip.add_model_config``), so that
``--model`` takes their names, then runs ``open_clip_train.main.main`` with the remaining arguments. The
same command runs under ``torchrun`` (one process per GPU); see docs/train.md.

``open_clip_train.data`` imports pandas at the top for its CSV dataset only. Where pandas is not installed,
a placeholder module stands in for it whose every attribute raises an ImportError naming the need, so the
webdataset path pairsift uses runs and ``--dataset-type csv`` fails with a clear message.

webdataset >= 0.2.96 ends each tar with an end-of-shard marker (``eof_value={}``) that open_clip_train's
``group_by_keys_nothrow`` cannot read (``KeyError: 'fname'``; open_clip issue #935, webdataset issue #384).
The fix named there is to expand the tars with ``eof_value=None``; :func:`_tar_samples` does that and
stands in for ``open_clip_train.data.tarfile_to_samples_nothrow``.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from typing import Any


class _Missing(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise ImportError(
            f"pandas is not installed: open_clip_train needs it for pandas.{name} (CSV datasets)"
        )


def _pandas_placeholder() -> None:
    if importlib.util.find_spec("pandas") is None:
        module = _Missing("pandas")
        module.__spec__ = importlib.machinery.ModuleSpec("pandas", None)
        sys.modules["pandas"] = module


def _tar_samples(src: Any, handler: Any = None) -> Any:
    from open_clip_train import data
    from webdataset.tariterators import tar_file_expander, url_opener

    handler = handler or data.log_and_continue
    files = tar_file_expander(url_opener(src, handler=handler), handler=handler, eof_value=None)
    return data.group_by_keys_nothrow(files, handler=handler)


def main(argv: list[str]) -> None:
    import open_clip

    _pandas_placeholder()
    from open_clip_train import data
    from open_clip_train.main import main as train_main

    data.tarfile_to_samples_nothrow = _tar_samples

    if not argv:
        raise SystemExit("usage: python -m pairsift.stages.train_worker MODEL_DIR [open_clip_train args]")
    open_clip.add_model_config(argv[0])
    train_main(argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
