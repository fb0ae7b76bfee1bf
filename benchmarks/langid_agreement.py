"""Where language-ID backends disagree on captions: py3langid (pairsift's default) against a second offline
detector, lingua-language-detector, when it is importable (it is not a pairsift dependency: install it
apart, e.g. ``pip install --target DIR lingua-language-detector`` and ``--lingua DIR``).

Sample: the demo world's captions (``--world N`` planned samples: templated English scene captions and the
boilerplate of the noisy kinds) plus hand-written alt-texts in 12 languages with their true language.
Reports the share of captions on which the two backends' English decisions (top language == ``en``, DataComp's
rule) disagree, each backend's accuracy on the hand-written ones, and py3langid's throughput.

Run: ``PYTHONPATH=src python benchmarks/langid_agreement.py [--world 5000] [--lingua DIR]``.
"""

from __future__ import annotations

import argparse
import sys
import time

from pairsift.models.langid import language_identifier
from pairsift.world import noise
from pairsift.world.pool import plan_pool

#: short alt-texts as they appear in web data, with their true ISO 639-1 language
HANDWRITTEN = [
    ("a photo of a dog on the grass", "en"),
    ("Red dress with white dots, size M", "en"),
    ("sunset over the mountains", "en"),
    ("IMG_2034.JPG", "en"),
    ("Buy now! Free shipping on all orders", "en"),
    ("vintage leather sofa for sale", "en"),
    ("chocolate cake", "en"),
    ("New York skyline at night", "en"),
    ("un chien sur l'herbe verte", "fr"),
    ("Robe rouge à pois blancs", "fr"),
    ("coucher de soleil sur la mer", "fr"),
    ("ein Hund auf dem grünen Rasen", "de"),
    ("Rotes Kleid mit weißen Punkten", "de"),
    ("Sonnenuntergang in den Bergen", "de"),
    ("perro corriendo en la playa", "es"),
    ("vestido rojo con lunares blancos", "es"),
    ("puesta de sol en las montañas", "es"),
    ("gatto che dorme sul divano", "it"),
    ("tramonto sul mare", "it"),
    ("cachorro brincando no parque", "pt"),
    ("vestido vermelho de bolinhas", "pt"),
    ("een hond in het gras", "nl"),
    ("zonsondergang boven de zee", "nl"),
    ("собака на зелёной траве", "ru"),
    ("красное платье в горошек", "ru"),
    ("草の上の犬", "ja"),
    ("赤いドレス", "ja"),
    ("草地上的狗", "zh"),
    ("红色连衣裙", "zh"),
    ("잔디 위의 강아지", "ko"),
    ("kırmızı elbise", "tr"),
    ("pies na zielonej trawie", "pl"),
]


def world_captions(n: int) -> list[str]:
    return [r.caption for r in plan_pool(n, dict(noise.DEFAULT_SHARES), seed=0)]


def lingua_detector(path: str | None) -> object | None:
    if path:
        sys.path.insert(0, path)
    try:
        from lingua import LanguageDetectorBuilder
    except ImportError:
        return None
    return LanguageDetectorBuilder.from_all_languages().build()


def lingua_codes(detector: object, texts: list[str]) -> list[str]:
    out = []
    for text in texts:
        language = detector.detect_language_of(text.replace("\n", " "))  # type: ignore[attr-defined]
        out.append("und" if language is None else language.iso_code_639_1.name.lower())
    return out


def accuracy(codes: list[str], truth: list[str]) -> float:
    return sum(a == b for a, b in zip(codes, truth, strict=True)) / len(truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", type=int, default=5000, help="planned demo-world samples")
    parser.add_argument("--lingua", default=None, help="a folder holding the lingua package (optional)")
    args = parser.parse_args()
    world = world_captions(args.world)
    hand = [t for t, _ in HANDWRITTEN]
    truth = [c for _, c in HANDWRITTEN]
    py3 = language_identifier("py3langid")
    py3.load()
    start = time.perf_counter()
    world_py3, _ = py3.predict(world)
    rate = len(world) / (time.perf_counter() - start)
    hand_py3, _ = py3.predict(hand)
    print(f"py3langid {py3.describe()['version']}: {rate:,.0f} captions/s on one core (under load)")
    english = sum(c == "en" for c in world_py3) / len(world)
    print(f"world captions: {len(world)}, English by py3langid: {english:.2%}")
    print(f"hand-written: py3langid accuracy {accuracy(hand_py3, truth):.2%}")
    detector = lingua_detector(args.lingua)
    if detector is None:
        print("lingua-language-detector is not importable: no second backend to compare")
        return
    world_lingua, hand_lingua = lingua_codes(detector, world), lingua_codes(detector, hand)
    print(f"hand-written: lingua accuracy {accuracy(hand_lingua, truth):.2%}")
    for name, a, b, texts in (
        ("world", world_py3, world_lingua, world),
        ("hand-written", hand_py3, hand_lingua, hand),
    ):
        disagree = [(t, x, y) for t, x, y in zip(texts, a, b, strict=True) if (x == "en") != (y == "en")]
        share = len(disagree) / len(texts)
        print(f"{name}: English decisions differ on {len(disagree)} of {len(texts)} ({share:.2%})")
        seen = set()
        for text, x, y in disagree:
            if text not in seen and len(seen) < 8:
                seen.add(text)
                print(f"    py3langid={x} lingua={y}: {text!r}")


if __name__ == "__main__":
    main()
