"""Encoders for embedding raw image–text data: model ids, open_clip and transformers backends."""

from pairsift.models.encoders import ENCODERS, Encoder, load_encoder
from pairsift.models.ids import MODEL_IDS, ModelIdError, ModelSpec, family_of, parse_model_id

__all__ = [
    "ENCODERS",
    "MODEL_IDS",
    "Encoder",
    "ModelIdError",
    "ModelSpec",
    "family_of",
    "load_encoder",
    "parse_model_id",
]
