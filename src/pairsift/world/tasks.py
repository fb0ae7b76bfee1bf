"""Downstream tasks of the world: classify one attribute of clean renderings, with zero-shot prompts."""

from __future__ import annotations

from dataclasses import dataclass

from pairsift.world.attributes import COUNT_WORDS, VALUES


@dataclass(frozen=True)
class Task:
    """Classify ``attribute``; class ``i`` is ``VALUES[attribute][i]``, named ``classes[i]`` in prompts."""

    name: str
    attribute: str
    classes: tuple[str, ...]
    templates: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "task": self.name,
            "attribute": self.attribute,
            "classes": list(self.classes),
            "templates": list(self.templates),
        }


TASKS: dict[str, Task] = {
    "shape": Task(
        "shape",
        "shape",
        VALUES["shape"],
        ("a photo of a {}.", "a drawing of a {}.", "a {} on a background.", "a picture of a {} shape."),
    ),
    "colour": Task(
        "colour",
        "colour",
        VALUES["colour"],
        ("a photo of a {} object.", "something {}.", "a {} shape.", "a picture of {} objects."),
    ),
    "count": Task(
        "count",
        "count",
        tuple(COUNT_WORDS[c] for c in VALUES["count"]),
        ("a photo of {} objects.", "{} shapes.", "a picture with {} objects.", "a drawing of {} things."),
    ),
    "size": Task(
        "size",
        "size",
        VALUES["size"],
        ("a photo of a {} object.", "a {} shape.", "a picture of {} objects.", "a drawing of a {} thing."),
    ),
}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; available: {', '.join(TASKS)}") from None
