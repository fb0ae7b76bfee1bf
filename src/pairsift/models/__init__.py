"""Every model pairsift runs, by user-facing id: CLIP encoders (:mod:`~pairsift.models.encoders`, with the
open_clip and transformers backends), image captioners (:mod:`~pairsift.models.captioners`) and sentence
encoders (:mod:`~pairsift.models.sentence`); ids are parsed in :mod:`~pairsift.models.ids`.

This package imports nothing itself, so that torch-free modules (caption settings, ids) stay torch-free.
"""
