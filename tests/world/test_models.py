import numpy as np
import torch
from PIL import Image

from pairsift.device import Compute
from pairsift.models.encoders import load_encoder
from pairsift.models.ids import parse_model_id
from pairsift.scorers.neg_clip_loss import NegClipLoss
from pairsift.world.teacher import load_teacher, teacher_tau


def test_the_teacher_id_loads_the_shipped_model():
    spec = parse_model_id("pairsift:tiny-world")
    assert (spec.backend, spec.family) == ("pairsift", "tiny_world")
    encoder = load_encoder("pairsift:tiny-world", Compute.resolve("cpu"))
    model, preprocess, tokenizer = load_teacher()
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    pixels = preprocess(image)[None]
    tokens = tokenizer(["a photo of two red circles"])
    with torch.no_grad():
        want_img = torch.nn.functional.normalize(model.encode_image(pixels), dim=-1)
        want_txt = torch.nn.functional.normalize(model.encode_text(tokens), dim=-1)
    torch.testing.assert_close(encoder.encode_image(pixels), want_img, atol=1e-5, rtol=0)
    torch.testing.assert_close(encoder.encode_text(tokens), want_txt, atol=1e-5, rtol=0)


def test_neg_clip_loss_defaults_to_the_teachers_temperature():
    scorer = NegClipLoss()
    scorer.setup(Compute.resolve("cpu"), family="tiny_world")
    assert scorer.tau == teacher_tau() != 0.01
