"""The bundled tiny copy detector, trained on the tiny world's copies (`pairsift world train-copy-detector`).

``pairsift embed --model pairsift:tiny-copy --family dedup`` writes its image embeddings (``dedup_img``),
for ``semdedup`` and ``decontaminate`` (``--embeddings dedup``). See ``docs/world.md``. Importing this
package does not import torch.
"""

from __future__ import annotations

#: The model id under which encoders know the copy detector, and the family the world writes it under.
COPY_ID = "pairsift:tiny-copy"
COPY_FAMILY = "dedup"
