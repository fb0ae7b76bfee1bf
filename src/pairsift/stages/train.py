"""``pairsift train``: train a CLIP on webdataset tars with open_clip's own trainer (``open_clip_train``).

The budget is DataComp's: a fixed number of *samples seen*, whatever the size of the data. The trainer reads
the tars with replacement (``--dataset-resampled``) for ``checkpoints`` epochs of ``samples_seen //
checkpoints`` samples each (open_clip rounds an epoch up to whole global batches), and saves
``epoch_N.pt`` and ``epoch_latest.pt`` after each. The trainer runs in a child process (``python -m
pairsift.stages.train_worker``, or ``torchrun`` for several processes), so its logging set-up and
``torch.distributed`` stay out of this process; its output goes to ``OUTPUT/train.log``. A rerun into the
same output resumes from ``epoch_latest.pt`` (``--resume latest``).

Output layout: ``OUTPUT/train.json`` (the config, the trainer's arguments, the seed, the status),
``OUTPUT/model/<name>.json`` (the open_clip model config the trainer and ``pairsift evaluate`` load),
``OUTPUT/run/checkpoints/epoch_N.pt``, ``OUTPUT/train.log`` and, with a subset, ``OUTPUT/data/`` (the
subset's samples, written by the reshard stage).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pairsift.errors import ConfigError, InputError, RunConfigError
from pairsift.io.fs import atomic_write
from pairsift.io.subsets import read_subset
from pairsift.registry import Registry, UnknownNameError

logger = logging.getLogger(__name__)

#: open_clip model configs by name (``embed_dim``, ``vision_cfg``, ``text_cfg``); plugins add theirs (the
#: tiny world registers ``pairsift-tiny-world``, its teacher's architecture)
MODEL_CONFIGS: Registry[Callable[[], dict[str, Any]]] = Registry("open_clip model config")

RECORD = "train.json"
LOG = "train.log"
RUN_NAME = "run"
WORKER = "pairsift.stages.train_worker"
#: settings that change how a run is executed, not what it trains: a rerun may change them
RUN_ONLY = ("workers", "threads", "device", "output")
LATEST = "epoch_latest.pt"


class TrainFailed(RuntimeError):
    """The trainer's process exited with an error; the message has its last lines and the log's path."""


@dataclass(frozen=True)
class TrainConfig:
    """What ``pairsift train`` does. ``data``: a directory of tars, a glob or one tar; ``subset``: when
    given, only its samples of ``data`` are used (resharded into ``OUTPUT/data`` first)."""

    data: str
    output: str
    subset: str | None = None
    model: str = "pairsift-tiny-world"  #: an open_clip model name, a registered name, or a JSON config file
    samples_seen: int = 20000
    checkpoints: int = 2  #: epochs; samples per epoch = samples_seen // checkpoints
    batch_size: int = 128
    lr: float = 1e-3
    wd: float = 0.1
    warmup: int = 10  #: warm-up steps
    seed: int = 0
    workers: int = 1  #: data-loader processes per trainer process
    threads: int = 0  #: torch CPU threads of the trainer (OMP_NUM_THREADS); 0: torch's default
    device: str = "auto"
    precision: str = "auto"  #: open_clip's --precision; auto = amp on CUDA, fp32 on CPU
    nproc: int = 1  #: trainer processes (> 1: launched with torchrun, one per GPU)
    extra: tuple[str, ...] = field(default_factory=tuple)  #: more open_clip_train arguments, verbatim

    def __post_init__(self) -> None:
        for name in ("samples_seen", "checkpoints", "batch_size", "nproc"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        if self.workers < 0 or self.warmup < 0 or self.threads < 0:
            raise ConfigError(
                f"workers, warmup and threads must be >= 0, got {self.workers}, {self.warmup}, {self.threads}"
            )
        per_epoch = self.samples_seen // self.checkpoints
        if per_epoch < self.global_batch:
            raise ConfigError(
                f"samples_seen {self.samples_seen} over {self.checkpoints} checkpoint(s) is {per_epoch} "
                f"samples per epoch, smaller than one global batch ({self.global_batch} = batch_size "
                f"{self.batch_size} x {self.nproc} process(es)); raise samples_seen or lower batch_size"
            )

    @property
    def global_batch(self) -> int:
        return self.batch_size * self.nproc

    @property
    def samples_per_epoch(self) -> int:
        """What the trainer sees per epoch: ``samples_seen // checkpoints`` rounded up to global batches."""
        batches = math.ceil(self.samples_seen // self.checkpoints / self.global_batch)
        per_worker = math.ceil(batches / max(1, self.workers))
        return per_worker * max(1, self.workers) * self.global_batch

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "extra": list(self.extra)}


@dataclass
class TrainSummary:
    output: str
    checkpoint: str
    epochs: int
    samples_seen: int
    train_samples: int
    seconds: float
    resumed_from: int  #: the epoch the trainer started from (0: a fresh run)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train(config: TrainConfig) -> TrainSummary:
    """Train (or resume training) into ``config.output``; returns where the last checkpoint is."""
    start = time.perf_counter()
    out = Path(config.output)
    out.mkdir(parents=True, exist_ok=True)
    _check_rerun(out, config)
    model_name = write_model_config(config.model, out / "model")
    tars, samples = _training_tars(config, out)
    args = trainer_args(config, model_name, tars, out)
    resumed = checkpoint_epoch(latest_checkpoint(out))
    record = {
        "config": config.to_dict(),
        "model_name": model_name,
        "train_samples": samples,
        "samples_seen": config.samples_per_epoch * config.checkpoints,
        "trainer_args": args,
        "status": "running",
    }
    _write_record(out, record)
    if resumed < config.checkpoints:
        if resumed:
            logger.info("resuming %s from epoch %d of %d", out, resumed, config.checkpoints)
        _launch(command(config, out / "model", args), out / LOG, config.threads)
    checkpoint = latest_checkpoint(out)
    epochs = checkpoint_epoch(checkpoint)
    if epochs != config.checkpoints:
        raise TrainFailed(f"{out / LOG}: the trainer stopped after epoch {epochs} of {config.checkpoints}")
    seconds = time.perf_counter() - start
    _write_record(out, {**record, "status": "done", "epochs": epochs, "seconds": round(seconds, 3)})
    seen = config.samples_per_epoch * config.checkpoints
    return TrainSummary(str(out), str(checkpoint), epochs, seen, samples, seconds, resumed)


def _check_rerun(out: Path, config: TrainConfig) -> None:
    path = out / RECORD
    if not path.exists():
        return
    before = json.loads(path.read_text())["config"]
    now = config.to_dict()
    changed = sorted(k for k in now if before.get(k) != now[k] and k not in RUN_ONLY)
    if changed:
        raise RunConfigError(
            f"{out}: trained before with other settings ({', '.join(changed)}); use a new output directory"
        )


def write_model_config(model: str, directory: Path) -> str:
    """Write the model's open_clip config into ``directory`` and return its name for ``--model``.

    ``model`` is a JSON file (its stem is the name), a registered name (:data:`MODEL_CONFIGS`) or one of
    open_clip's own configs (nothing written)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = Path(model)
    if model.endswith(".json"):
        if not path.is_file():
            raise InputError(f"model config {model}: no such file")
        try:
            cfg = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"model config {model}: not JSON ({exc})") from None
        name = path.stem
    else:
        try:
            cfg = MODEL_CONFIGS.get(model)()
        except UnknownNameError:
            import open_clip

            if model not in open_clip.list_models():
                raise ConfigError(
                    f"model {model!r}: not an open_clip model config, a registered one "
                    f"({', '.join(MODEL_CONFIGS.names())}) or a .json file"
                ) from None
            return model
        name = model
    for key in ("embed_dim", "vision_cfg", "text_cfg"):
        if key not in cfg:
            raise InputError(
                f"model config {model}: no {key!r}; an open_clip model config has embed_dim, "
                "vision_cfg and text_cfg"
            )
    text = json.dumps(cfg, indent=2, sort_keys=True).encode()
    atomic_write(directory / f"{name}.json", lambda fh: fh.write(text))
    return name


def _training_tars(config: TrainConfig, out: Path) -> tuple[list[str], int]:
    """The tars to train on and their samples; with a subset, its samples resharded into ``out/data``."""
    from pairsift.stages.reshard import ReshardConfig, list_inputs, reshard

    data = config.data
    if config.subset is not None:
        rows = len(read_subset(config.subset, mmap=True))
        if rows == 0:
            raise InputError(f"subset {config.subset} is empty: nothing to train on")
        summary = reshard(ReshardConfig(config.data, config.subset, str(out / "data")))
        if not summary.ok:
            first = summary.failures[0]
            raise InputError(
                f"resharding {config.data} by {config.subset} failed: {first.shard}: {first.error}"
            )
        if summary.found_uids == 0:
            raise InputError(
                f"subset {config.subset}: none of its {summary.subset_uids} uids are in the tars of "
                f"{config.data} (first ones: {', '.join(summary.missing_examples[:3])})"
            )
        if summary.missing_uids:
            logger.warning("subset %s: %d uids are not in the tars", config.subset, summary.missing_uids)
        data = str(out / "data")
    tars = sorted(list_inputs(data).values())
    samples = sum(_count_samples(t) for t in tars)
    if samples == 0:
        raise InputError(f"{data}: its tars hold no samples with an image and a .txt caption")
    return tars, samples


def _count_samples(tar: str) -> int:
    keys = set()
    try:
        with tarfile.open(tar) as fh:
            for member in fh:
                stem, _, ext = member.name.rpartition(".")
                if ext == "txt":
                    keys.add(stem)
    except (tarfile.TarError, OSError) as exc:
        raise InputError(f"{tar}: not a readable tar ({exc})") from None
    return len(keys)


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def trainer_args(config: TrainConfig, model: str, tars: list[str], out: Path) -> list[str]:
    """open_clip_train's arguments for this run."""
    device = resolve_device(config.device)
    precision = config.precision if config.precision != "auto" else ("amp" if device == "cuda" else "fp32")
    return [
        "--dataset-type", "webdataset", "--dataset-resampled",
        "--train-data", "::".join(tars),
        "--train-num-samples", str(config.samples_seen // config.checkpoints),
        "--epochs", str(config.checkpoints),
        "--batch-size", str(config.batch_size),
        "--lr", str(config.lr), "--wd", str(config.wd), "--warmup", str(config.warmup),
        "--model", model,
        "--seed", str(config.seed),
        "--workers", str(config.workers),
        "--device", device,
        "--precision", precision,
        "--logs", str(out), "--name", RUN_NAME,
        "--resume", "latest", "--save-most-recent",
        "--report-to", "", "--log-every-n-steps", "10",
        *config.extra,
    ]  # fmt: skip


def command(config: TrainConfig, model_dir: Path, args: list[str]) -> list[str]:
    """The child command: the worker module, or ``torchrun`` with ``nproc`` processes."""
    if config.nproc == 1:
        launcher = [sys.executable, "-m", WORKER]
    else:
        launcher = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={config.nproc}"]
        launcher += ["-m", WORKER]
    return [*launcher, str(model_dir), *args]


def _launch(cmd: list[str], log: Path, threads: int = 0) -> None:
    logger.info("training: %s (log: %s)", " ".join(cmd[:3]), log)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    with log.open("ab") as fh:
        code = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False).returncode
    if code != 0:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else "(no output)"
        raise TrainFailed(f"the trainer exited with status {code}: {last} (full log: {log})")


def checkpoints_dir(out: Path) -> Path:
    return out / RUN_NAME / "checkpoints"


def latest_checkpoint(out: Path) -> Path | None:
    path = checkpoints_dir(out) / LATEST
    return path if path.exists() else None


def checkpoint_epoch(path: Path | None) -> int:
    """The epoch a checkpoint file finished (0 for none)."""
    if path is None:
        return 0
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=False)["epoch"])


def _write_record(out: Path, record: dict[str, Any]) -> None:
    text = (json.dumps(record, indent=2) + "\n").encode()
    atomic_write(out / RECORD, lambda fh: fh.write(text))


def clear_checkpoints(out: Path) -> None:
    """Remove a run's checkpoints (a fresh start into the same output)."""
    shutil.rmtree(checkpoints_dir(out), ignore_errors=True)
