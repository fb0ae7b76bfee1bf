"""The errors a user can cause, shared by every layer; the CLI turns each into one message and exit 2."""

from __future__ import annotations


class ConfigError(ValueError):
    """A recipe, spec or override that cannot be understood."""


class InputError(ValueError):
    """User input that cannot be used; the message names the file, row or key."""


class OutputError(OSError):
    """An output that could not be written (disk full, quota, file size limit, I/O error); the message
    names the path, and nothing partial was left under that name."""


class RunConfigError(ValueError):
    """A rerun into an output directory that was made with another configuration."""


class StageFailed(RuntimeError):
    """A multi-stage command (``demo``, ``run``) stopped at a stage whose shards failed; nothing after it ran.

    The CLI reports it as one error naming the stage and exits 1.
    """

    def __init__(self, command: str, stage: str, failures: list[tuple[str, str]], shards: int) -> None:
        self.command, self.stage, self.failures, self.shards = command, stage, failures, shards
        first = "; ".join(f"{shard}: {error}" for shard, error in failures[:3])
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        super().__init__(
            f"{command} stopped at the {stage} stage: {len(failures)} of {shards} shards failed, "
            f"so no later stage ran. {first}{more}"
        )
