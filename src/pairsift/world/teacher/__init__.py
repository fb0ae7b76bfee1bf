"""The bundled tiny teacher CLIP, trained on the tiny world (``pairsift world train-teacher``).

``load_teacher()`` returns an ``open_clip.CLIP`` with ``encode_image/encode_text(normalize=True)``, its
open_clip preprocessing transform and its open_clip tokenizer. See ``docs/teacher.md``. The loading
functions are imported on first use, so importing this package does not import torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: The model id under which encoders know the teacher.
TEACHER_ID = "pairsift:tiny-world"

_LAZY = {
    "load_teacher": "pairsift.world.teacher.loader",
    "teacher_config": "pairsift.world.teacher.loader",
    "teacher_tau": "pairsift.world.teacher.loader",
    "CONFIG_NAME": "pairsift.world.teacher.model",
    "MODEL_CFG": "pairsift.world.teacher.model",
    "PACKAGE_DIR": "pairsift.world.teacher.model",
    "WEIGHTS_NAME": "pairsift.world.teacher.model",
}

__all__ = [
    "CONFIG_NAME",
    "MODEL_CFG",
    "PACKAGE_DIR",
    "TEACHER_ID",
    "WEIGHTS_NAME",
    "load_teacher",
    "teacher_config",
    "teacher_tau",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pairsift.world.teacher' has no attribute {name!r}")
