"""Evaluation functions on handmade embeddings with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from pairsift.world.teacher.evaluate import class_embeddings, retrieval_accuracy, zero_shot_accuracy


def test_zero_shot_accuracy_counts_argmax_hits() -> None:
    class_emb = torch.eye(3)
    image_emb = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [0.9, 0.1, 0]])
    labels = torch.tensor([0, 1, 2, 1])  # the last image looks like class 0
    assert zero_shot_accuracy(image_emb, class_emb, labels) == pytest.approx(0.75)
    assert math.isnan(zero_shot_accuracy(torch.empty(0, 3), class_emb, torch.empty(0, dtype=torch.long)))


def test_retrieval_accuracy_top1_and_top_k() -> None:
    text_emb = torch.eye(4)
    # image 0 and 1 find their own text; image 2's own text is second best; image 3's is worst
    image_emb = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0.9, 0, 0.5, 0], [0.5, 0.4, 0.3, 0.0]])
    assert retrieval_accuracy(image_emb, text_emb, 1) == pytest.approx(0.5)
    assert retrieval_accuracy(image_emb, text_emb, 2) == pytest.approx(0.75)
    assert retrieval_accuracy(image_emb, text_emb, 4) == pytest.approx(1.0)


class _BagOfClasses:
    """A fake text encoder: the embedding of a prompt is the one-hot of the class name it contains."""

    names = ("cat", "dog")

    def encode_text(self, tokens: list[str], normalize: bool = True) -> torch.Tensor:
        return torch.stack([torch.eye(2)[[n in t for n in self.names].index(True)] for t in tokens])


def test_class_embeddings_ensemble_templates_and_normalise() -> None:
    emb = class_embeddings(_BagOfClasses(), lambda texts: texts, ["dog", "cat"], ["a {}.", "my {}!"])
    assert torch.allclose(emb, torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
