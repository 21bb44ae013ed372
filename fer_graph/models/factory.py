"""create_model: the model built from the YAML `model:` mapping, with checked keys and sizes."""

from __future__ import annotations

import copy
from typing import Any, Mapping

from torch import nn

from fer_graph.models.agm import MODES
from fer_graph.models.cs_gbsbf import CSGBSBF, VRENOnly
from fer_graph.models.schema import DEFAULT_AGM, DEFAULT_CONFIG, NAMES, model_kwargs, positive_int_keys
from fer_graph.models.vren import check_backbone

# Keys, defaults and meanings: ModelConfig in fer_graph/models/schema.py.
_POSITIVE_INTS = positive_int_keys()


def _check_keys(given: Mapping[str, Any], known: Mapping[str, Any], prefix: str) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise KeyError(
            f"unknown model config key(s): {', '.join(prefix + k for k in unknown)}; "
            f"known: {', '.join(prefix + k for k in known)}"
        )


def resolve_model_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config with defaults filled in and values checked.

    Raises:
        KeyError: an unknown key (named, "agm.<key>" inside agm).
        ValueError: a bad name, a backbone timm does not know (close names suggested) or a
            size that is not a positive integer.
    """
    _check_keys(config, DEFAULT_CONFIG, "")
    resolved = copy.deepcopy(DEFAULT_CONFIG)
    resolved.update(copy.deepcopy(dict(config)))
    agm = resolved["agm"]
    if not isinstance(agm, Mapping):
        raise ValueError(f"agm must be a mapping, got {agm!r}")
    _check_keys(agm, DEFAULT_AGM, "agm.")
    resolved["agm"] = {**DEFAULT_AGM, **agm}
    if resolved["agm"]["mode"] not in MODES:
        raise ValueError(f"agm.mode must be one of {MODES}, got {resolved['agm']['mode']!r}")
    if resolved["name"] not in NAMES:
        raise ValueError(f"name must be one of {NAMES}, got {resolved['name']!r}")
    check_backbone(resolved["backbone"])
    for key in _POSITIVE_INTS:
        value = resolved[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    hidden = resolved["vrsn_hidden"]
    if hidden is not None and (isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1):
        raise ValueError(f"vrsn_hidden must be a positive integer or null, got {hidden!r}")
    if not isinstance(resolved["head_norm"], bool):
        raise ValueError(f"head_norm must be true or false, got {resolved['head_norm']!r}")
    if not 0.0 <= float(resolved["drop_rate"]) < 1.0:
        raise ValueError(f"drop_rate must be in [0, 1), got {resolved['drop_rate']!r}")
    return resolved


def uses_graphs(config: Mapping[str, Any]) -> bool:
    """Whether the model of a `model:` mapping reads graphs: CS-GBSBF with SRSN, or VREN-only with GVG."""
    if config.get("name", DEFAULT_CONFIG["name"]) == "vren_only":
        return config.get("graph_guidance_stage", DEFAULT_CONFIG["graph_guidance_stage"]) is not None
    return bool(config.get("srsn", DEFAULT_CONFIG["srsn"]))


def create_model(config: Mapping[str, Any] | None = None) -> nn.Module:
    """Builds CS-GBSBF or the VREN-only baseline from a `model:` config mapping.

    Keys and defaults are ModelConfig's (fer_graph/models/schema.py); the VREN-only baseline
    reads the keys marked `baseline` there and ignores the rest. Checkpoints are plain state_dicts of the returned module.

    Raises:
        KeyError: unknown key, named.
        ValueError: inconsistent or malformed values (e.g. agm.pairs out of range).
    """
    cfg = resolve_model_config(config or {})
    model = VRENOnly if cfg["name"] == "vren_only" else CSGBSBF
    return model(**model_kwargs(cfg))
