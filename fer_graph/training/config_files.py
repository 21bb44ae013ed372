"""Config YAML files: reading with `base:` inheritance, dotted overrides and dotted access, writing."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from fer_graph.errors import ConfigError


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-4` and `3E5` as floats (YAML 1.1 wants a dot)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)

def parse_value(text: str) -> Any:
    """Parse one override value the way the YAML file would (`3e-4` -> float, `[0, 1]` -> list)."""
    return yaml.load(text, Loader=_Loader)


def load_yaml(path: str | Path) -> dict:
    """Read one YAML mapping, following `base:` (relative to the file) and deep-merging on top."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.load(path.read_text(), Loader=_Loader) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML ({str(err).splitlines()[0]})") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    base = data.pop("base", None)
    if base is None:
        return data
    return deep_merge(load_yaml(path.parent / base), data)


def deep_merge(base: dict, top: dict) -> dict:
    """Return `base` updated by `top`, merging nested mappings key by key."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_overrides(config: dict, overrides: Iterable[str]) -> dict:
    """Apply `a.b.c=value` overrides (values parsed as YAML) to a copy of `config`."""
    out = copy.deepcopy(config)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        set_dotted(out, key.strip(), parse_value(text))
    return out


def set_dotted(config: dict, key: str, value: Any) -> None:
    """Set `config[a][b][c] = value` for key `a.b.c`, creating mappings on the way."""
    node = config
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(parts[: i + 1])}: is not a section, cannot set {key}")
        node = child
    node[parts[-1]] = value


def get_dotted(config: dict, key: str) -> Any:
    """Return `config[a][b][c]` for key `a.b.c` (KeyError if absent)."""
    node = config
    for part in key.split("."):
        node = node[part]
    return node


def dump_config(config: dict, path: str | Path) -> None:
    """Write the resolved config as YAML that `load_config` reads back to the same dict."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(config, sort_keys=False))
