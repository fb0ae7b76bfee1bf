"""The errors a user can cause, shared by every layer; the CLI turns each into one message and exit 2."""

from __future__ import annotations


class ConfigError(ValueError):
    """A recipe, spec or override that cannot be understood."""


class InputError(ValueError):
    """User input that cannot be used; the message names the file, row or key."""


class RunConfigError(ValueError):
    """A rerun into an output directory that was made with another configuration."""
