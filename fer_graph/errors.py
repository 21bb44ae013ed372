"""Error types shared by every layer (this module imports nothing from fer_graph)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration problem, described in one line that names the key or path."""
