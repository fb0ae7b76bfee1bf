"""The tiny world captioner: a small BLIP trained on the tiny world's clean captions, shipped in the package.

``pairsift:tiny-world-captioner`` loads it (see :mod:`pairsift.models.captioners`); ``pairsift world
train-captioner`` trains a new one (:mod:`pairsift.world.captioner.train`).
"""

from pathlib import Path

#: The shipped checkpoint: a ``save_pretrained`` directory of ``BlipForConditionalGeneration``.
WEIGHTS_DIR = Path(__file__).resolve().parent / "tiny_world"
