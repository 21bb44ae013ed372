"""ModelConfig: every key of the YAML `model:` mapping, with its type, default and meaning.

Everything else about the keys comes from here: DEFAULT_CONFIG, the known-key list of
create_model's errors, the keyword arguments of the model classes, the experiment config's
type and choice checks and the key table in docs/architecture.md (`markdown_table`;
tests/models/test_schema.py keeps the two equal).
"""

from __future__ import annotations

import json
import typing
from dataclasses import Field, asdict, dataclass, field, fields
from typing import Any

from fer_graph.models.agm import MODES
from fer_graph.models.cs_gbsbf import GRAPH_HEADS
from fer_graph.models.sren import BACKENDS, CONVS, READOUTS

NAMES = ("cs_gbsbf", "vren_only")


def _key(default: Any = None, doc: str = "", *, choices: tuple = (), baseline: bool = False,
         factory: Any = None) -> Any:
    """A schema field: `baseline` marks the keys the VREN-only baseline reads too."""
    metadata = {"doc": doc, "choices": choices, "baseline": baseline}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class AGMConfig:
    """The `model.agm` mapping."""

    enabled: bool = _key(True, "AGM on; needs srsn")
    mode: str = _key("global", "guidance per graph (global) or per node position (spatial)", choices=MODES)
    pairs: list | str = _key(
        doc='[vren_stage, sren_layer] pairs guided, negative ids from the end, or "all"',
        factory=lambda: [[-1, -1]],
    )


# sren_layers/sren_hidden default to 2/64 (not 4/256): on a CPU at 48 px the larger stack
# alone costs as much as a resnet18 step.
@dataclass(frozen=True)
class ModelConfig:
    """The `model:` mapping; field order is the resolved config's key order (config.yaml)."""

    name: str = _key("cs_gbsbf", "the network", choices=NAMES, baseline=True)
    backbone: str = _key("swin_base_patch4_window7_224", "VREN's timm model", baseline=True)
    pretrained: bool | str = _key(False, "timm pretrained weights (true or a tag)", baseline=True)
    checkpoint_path: str | None = _key(None, "backbone weights file", baseline=True)
    img_size: int = _key(224, "input side in pixels", baseline=True)
    in_chans: int = _key(3, "input channels", baseline=True)
    num_classes: int = _key(7, "classes", baseline=True)
    embed_dim: int = _key(1024, "D_e, width of F_b^v and F_b^s")
    component_dim: int = _key(128, "D_s, width of a component")
    num_components: int = _key(9, "K, components per stream")
    vrsn_hidden: int | None = _key(None, "VRSN's inner width; null = component_dim")
    node_features: int = _key(12, "features per graph node", baseline=True)
    sren_layers: int = _key(2, "SREN GraphConv layers")
    sren_hidden: int = _key(64, "SREN layer width (and GVG's node embedding)", baseline=True)
    graph_backend: str = _key("auto", "SREN's and GVG's graph library; auto = DGL on CPU when it imports",
                              choices=BACKENDS, baseline=True)
    agm: dict = _key(doc="AGM settings, the agm.* keys", factory=lambda: asdict(AGMConfig()))
    srsn: bool = _key(True, "the graph stream (SREN + SRSN); false = RFN with a learned query")
    rfn_temperature: float | None = _key(
        None, "RFN softmax temperature; null = sqrt(component_dim), 1.0 = the paper's Eq. 6")
    head_norm: bool = _key(False, "BatchNorm1d before CHN's linear layer (not in the paper)")
    drop_rate: float = _key(0.0, "dropout before CHN / the baseline head, in [0, 1)", baseline=True)
    graph_head: str = _key("none", "concat: F_b^s beside F_u into CHN (not in the paper)",
                           choices=GRAPH_HEADS)
    graph_guidance_stage: int | None = _key(
        None, "VREN stage GVG guides (not in the paper)", baseline=True)
    sren_conv: str = _key("gcn", "SREN layer kind (gin: not in the paper)", choices=CONVS)
    sren_residual: bool = _key(False, "residual SREN layers (not in the paper)")
    sren_readout: str = _key(
        "linear", "F_b^s: linear = mean and max pooled, then linear to D_e; mean = the mean node state "
        "(needs sren_hidden = embed_dim)",
        choices=READOUTS)


DEFAULT_AGM: dict[str, Any] = asdict(AGMConfig())
DEFAULT_CONFIG: dict[str, Any] = asdict(ModelConfig())


def _types(cls: type) -> dict[str, tuple[type, ...]]:
    """Each field's allowed YAML types; a float key takes ints too (`drop_rate: 0`)."""
    out = {}
    for name, hint in typing.get_type_hints(cls).items():
        options = typing.get_args(hint) or (hint,)
        out[name] = tuple(t for o in options for t in ((int, float) if o is float else (typing.get_origin(o) or o,)))
    return out


def key_types(prefix: str = "model.") -> dict[str, tuple[type, ...]]:
    """Dotted key -> allowed types, for every leaf key (agm's inside it)."""
    agm = {f"{prefix}agm.{k}": v for k, v in _types(AGMConfig).items()}
    return {**{prefix + k: v for k, v in _types(ModelConfig).items() if k != "agm"}, **agm}


def key_choices(prefix: str = "model.") -> dict[str, tuple]:
    """Dotted key -> allowed values, for the keys that have a fixed set."""
    return {prefix + name: f.metadata["choices"] for name, f in _fields() if f.metadata["choices"]}


def positive_int_keys() -> tuple[str, ...]:
    """The int keys (sizes and counts; each must be >= 1)."""
    return tuple(name for name, t in _types(ModelConfig).items() if t == (int,))


def model_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """A resolved config -> the keyword arguments of its class (CSGBSBF or VRENOnly).

    `name` picks the class and is not passed; CSGBSBF takes agm.<key> as agm_<key>, VRENOnly
    only the `baseline` keys.
    """
    if config["name"] == "vren_only":
        return {f.name: config[f.name] for f in fields(ModelConfig) if f.metadata["baseline"] and f.name != "name"}
    kwargs = {f.name: config[f.name] for f in fields(ModelConfig) if f.name not in ("name", "agm")}
    return {**kwargs, **{f"agm_{f.name}": config["agm"][f.name] for f in fields(AGMConfig)}}


def _fields() -> list[tuple[str, Field]]:
    """(dotted name below model., field) of every leaf key, agm's in place of agm."""
    out = []
    for f in fields(ModelConfig):
        out += [(f"agm.{g.name}", g) for g in fields(AGMConfig)] if f.name == "agm" else [(f.name, f)]
    return out


def markdown_table() -> str:
    """The key table of docs/architecture.md."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    defaults = {**DEFAULT_CONFIG, **{f"agm.{k}": v for k, v in DEFAULT_AGM.items()}}
    for name, f in _fields():
        meaning = f.metadata["doc"]
        if f.metadata["choices"]:
            meaning += f"; one of {', '.join(f.metadata['choices'])}"
        if f.metadata["baseline"]:
            meaning += "; vren_only reads it too"
        rows.append(f"| `{name}` | `{json.dumps(defaults[name])}` | {meaning} |")
    return "\n".join(rows) + "\n"
