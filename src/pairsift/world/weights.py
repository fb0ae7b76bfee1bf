"""A shipped world model's files: float16 safetensors weights and a JSON config, each written atomically,
and the config read back with errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file


def save_model_files(
    model: torch.nn.Module, config: dict[str, Any], out_dir: str | Path, names: tuple[str, str], model_id: str
) -> tuple[Path, Path]:
    """Write ``names = (weights file, config file)`` into ``out_dir``; returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    weights, cfg_path = out / names[0], out / names[1]
    tmp = weights.with_name(f".{names[0]}.tmp")
    save_file(state, str(tmp), metadata={"format": "pt", "model": model_id})
    tmp.replace(weights)
    tmp_cfg = cfg_path.with_name(f".{names[1]}.tmp")
    tmp_cfg.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    tmp_cfg.replace(cfg_path)
    return weights, cfg_path


def read_model_config(
    path: Path, what: str, command: str, required: tuple[str, ...], expected: str
) -> dict[str, Any]:
    """The JSON config at ``path``; a missing file or a missing ``required`` key is an error naming the
    file, the model (``what``), the ``pairsift world`` command that writes one, and the ``expected`` keys."""
    try:
        config: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: {what} config not found (train one: pairsift world {command})"
        ) from None
    for key in required:
        if key not in config:
            raise ValueError(f"{path}: {what} config has no {key!r}; expected keys {expected}")
    return config
