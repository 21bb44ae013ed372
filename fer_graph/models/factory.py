"""create_model: the model built from the YAML `model:` mapping, with checked keys and sizes."""

from __future__ import annotations

import copy
from typing import Any, Mapping

from torch import nn

from fer_graph.models.agm import MODES
from fer_graph.models.cs_gbsbf import CSGBSBF, VRENOnly
from fer_graph.models.vren import check_backbone

NAMES = ("cs_gbsbf", "vren_only")

DEFAULT_AGM: dict[str, Any] = {"enabled": True, "mode": "global", "pairs": [[-1, -1]]}

# Keys beyond docs/architecture.md: vrsn_hidden (VRSN's inner width, null = component_dim)
# and rfn_temperature (null = sqrt(component_dim); 1.0 is the paper's literal Eq. 6).
# sren_layers/sren_hidden default to 2/64 (not 4/256): on a CPU at 48 px the larger stack
# alone costs as much as a resnet18 step. drop_rate is dropout before CHN / the baseline head;
# head_norm puts a BatchNorm1d before CHN's linear layer (see CHN). Variants beyond the paper
# (off by default): graph_head "concat" (F_b^s beside F_u into CHN), graph_guidance_stage (GVG
# into that VREN stage), sren_conv "gin" and sren_residual. sren_readout "mean" (F_b^s = the
# mean node state of a D_e-wide last layer, as Eqs. 3-4 read) replaces the [mean|max] + linear.
DEFAULT_CONFIG: dict[str, Any] = {
    "name": "cs_gbsbf",
    "backbone": "swin_base_patch4_window7_224",
    "pretrained": False,
    "checkpoint_path": None,
    "img_size": 224,
    "in_chans": 3,
    "num_classes": 7,
    "embed_dim": 1024,
    "component_dim": 128,
    "num_components": 9,
    "vrsn_hidden": None,
    "node_features": 12,
    "sren_layers": 2,
    "sren_hidden": 64,
    "graph_backend": "auto",
    "agm": DEFAULT_AGM,
    "srsn": True,
    "rfn_temperature": None,
    "head_norm": False,
    "drop_rate": 0.0,
    "graph_head": "none",
    "graph_guidance_stage": None,
    "sren_conv": "gcn",
    "sren_residual": False,
    "sren_readout": "linear",
}

_POSITIVE_INTS = (
    "img_size", "in_chans", "num_classes", "embed_dim", "component_dim",
    "num_components", "node_features", "sren_layers", "sren_hidden",
)


def _check_keys(given: Mapping[str, Any], known: Mapping[str, Any], prefix: str) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise KeyError(
            f"unknown model config key(s): {', '.join(prefix + k for k in unknown)}; "
            f"known: {', '.join(prefix + k for k in known)}"
        )


def resolve_config(config: Mapping[str, Any]) -> dict[str, Any]:
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
    """Whether the model of a `model:` mapping reads graphs: not VREN-only, not without SRSN."""
    return config.get("name", DEFAULT_CONFIG["name"]) != "vren_only" and bool(
        config.get("srsn", DEFAULT_CONFIG["srsn"])
    )


def create_model(config: Mapping[str, Any] | None = None) -> nn.Module:
    """Builds CS-GBSBF or the VREN-only baseline from a `model:` config mapping.

    Keys and defaults are DEFAULT_CONFIG (agm: DEFAULT_AGM). The VREN-only baseline uses
    name, backbone, pretrained, checkpoint_path, img_size, in_chans, num_classes and
    drop_rate and ignores the rest. Checkpoints are plain state_dicts of the returned module.

    Raises:
        KeyError: unknown key, named.
        ValueError: inconsistent or malformed values (e.g. agm.pairs out of range).
    """
    cfg = resolve_config(config or {})
    common = {
        "backbone": cfg["backbone"], "pretrained": cfg["pretrained"],
        "checkpoint_path": cfg["checkpoint_path"], "img_size": cfg["img_size"],
        "in_chans": cfg["in_chans"], "num_classes": cfg["num_classes"],
        "drop_rate": float(cfg["drop_rate"]),
    }
    if cfg["name"] == "vren_only":
        return VRENOnly(**common)
    return CSGBSBF(
        **common,
        embed_dim=cfg["embed_dim"], component_dim=cfg["component_dim"],
        num_components=cfg["num_components"], vrsn_hidden=cfg["vrsn_hidden"],
        node_features=cfg["node_features"], sren_layers=cfg["sren_layers"],
        sren_hidden=cfg["sren_hidden"], graph_backend=cfg["graph_backend"],
        agm_enabled=bool(cfg["agm"]["enabled"]), agm_mode=cfg["agm"]["mode"],
        agm_pairs=cfg["agm"]["pairs"], srsn=bool(cfg["srsn"]),
        rfn_temperature=cfg["rfn_temperature"], head_norm=cfg["head_norm"],
        graph_head=cfg["graph_head"], graph_guidance_stage=cfg["graph_guidance_stage"],
        sren_conv=cfg["sren_conv"], sren_residual=bool(cfg["sren_residual"]),
        sren_readout=cfg["sren_readout"],
    )
