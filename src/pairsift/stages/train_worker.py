"""The trainer's process: ``python -m pairsift.stages.train_worker MODEL_DIR OPEN_CLIP_TRAIN_ARGS...``.

Registers the model configs of ``MODEL_DIR`` with open_clip (``open_clip.add_model_config``), so that
``--model`` takes their names, then runs ``open_clip_train.main.main`` with the remaining arguments. The
same command runs under ``torchrun`` (one process per GPU); see docs/train.md.

webdataset >= 0.2.96 ends each tar with an end-of-shard marker (``eof_value={}``) that open_clip_train's
``group_by_keys_nothrow`` cannot read (``KeyError: 'fname'``; open_clip issue #935, webdataset issue #384).
The fix named there is to expand the tars with ``eof_value=None``; :func:`_tar_samples` does that and
stands in for ``open_clip_train.data.tarfile_to_samples_nothrow``.
"""

from __future__ import annotations

import sys
from typing import Any


def _tar_samples(src: Any, handler: Any = None) -> Any:
    from open_clip_train import data
    from webdataset.tariterators import tar_file_expander, url_opener

    handler = handler or data.log_and_continue
    files = tar_file_expander(url_opener(src, handler=handler), handler=handler, eof_value=None)
    return data.group_by_keys_nothrow(files, handler=handler)


def main(argv: list[str]) -> None:
    import open_clip
    from open_clip_train import data
    from open_clip_train.main import main as train_main

    data.tarfile_to_samples_nothrow = _tar_samples

    if not argv:
        raise SystemExit("usage: python -m pairsift.stages.train_worker MODEL_DIR [open_clip_train args]")
    open_clip.add_model_config(argv[0])
    train_main(argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
