"""The package declares what it imports: every distribution a module of ``src/`` imports is among the core
dependencies or among those of the extra whose feature that module is (pyproject.toml), so that
``pip install "pairsift[extra]"`` gives a working feature; ``requirements.txt`` pins the same names."""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "pairsift"

#: module prefix -> the extra its feature needs (the longest matching prefix wins; the rest is core)
FEATURES = {
    "pairsift.engines.ray_engine": "ray",
    "pairsift.models.kmeans": "dedup",
    "pairsift.stages.evaluate": "bench",
    "pairsift.stages.train_worker": "bench",
    "pairsift.models.hf": "hf",
    "pairsift.models.langid": "baselines",
    "pairsift.models.sentence": "sieve",
    "pairsift.models.captioners": "sieve",
    "pairsift.scorers.sieve": "sieve",
    "pairsift.stages.caption": "sieve",
    "pairsift.world.captioner": "sieve",
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, requirement
    return canonical(match.group(0))


def declared() -> tuple[set[str], dict[str, set[str]]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {requirement_name(r) for r in project["dependencies"]}
    extras = {k: {requirement_name(r) for r in v} for k, v in project["optional-dependencies"].items()}
    return core, extras


def expand(extras: dict[str, set[str]], extra: str) -> set[str]:
    """The distributions of ``extra``, with ``pairsift[other]`` references followed."""
    out: set[str] = set()
    for name in extras[extra]:
        if name == "pairsift":
            continue
        out.add(name)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["optional-dependencies"][extra]:
        if requirement.startswith("pairsift["):
            for other in requirement[len("pairsift[") : -1].split(","):
                out |= expand(extras, other.strip())
    return out


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def top_level_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def imported_distributions(path: Path) -> set[str]:
    """Distributions of the third-party modules ``path`` imports (at any depth: lazy imports count)."""
    distributions = top_level_distributions()
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            tops = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops = [node.module.split(".")[0]]
        else:
            continue
        for top in tops:
            if top == "pairsift" or top in sys.stdlib_module_names:
                continue
            assert top in distributions, f"{path}: imports {top!r}, which no installed distribution provides"
            out |= {canonical(d) for d in distributions[top]}
    return out


def feature_of(module: str) -> str | None:
    matches = [prefix for prefix in FEATURES if module == prefix or module.startswith(prefix + ".")]
    return FEATURES[max(matches, key=len)] if matches else None


MODULES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_every_import_is_declared_by_the_core_or_the_modules_extra(path):
    core, extras = declared()
    feature = feature_of(module_name(path))
    allowed = core | (expand(extras, feature) if feature else set())
    missing = sorted(imported_distributions(path) - allowed)
    where = f"the {feature!r} extra" if feature else "the core dependencies"
    assert not missing, f"{module_name(path)} imports {missing}, not declared in {where} of pyproject.toml"


def test_all_holds_every_extra_and_dev_holds_all():
    _, extras = declared()
    features = set(extras) - {"all", "dev"}
    assert {"hf", "sieve", "ray", "baselines", "dedup", "bench", "s3"} <= features
    every = set().union(*(expand(extras, f) for f in features))
    assert expand(extras, "all") == every
    assert every <= expand(extras, "dev")


def test_requirements_pin_every_declared_name():
    core, extras = declared()
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.txt: {line!r} is not an exact pin"
            pins[canonical(name.split("[", 1)[0])] = version
    names = core | set().union(*(expand(extras, e) for e in extras))
    assert not sorted(names - set(pins)), "declared but not pinned in requirements.txt"
