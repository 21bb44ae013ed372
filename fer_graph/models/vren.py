"""VREN: the visual stream, a timm backbone giving NCHW stage maps and the pooled F_b^v."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Callable, Mapping

import timm
import torch
from torch import nn


def _swin_window(backbone: str, img_size: int) -> int | None:
    """Largest window <= the model's own that tiles the first Swin stage (None: keep it).

    Swin's first stage is img_size/4 tokens wide; a window that divides it avoids padded,
    partly empty windows (48 px -> 12 tokens -> window 6 instead of 7).
    """
    match = re.search(r"window(\d+)", backbone)
    default = int(match.group(1)) if match else 7
    tokens = img_size // 4
    if tokens % default == 0:
        return None
    for window in range(min(default, tokens), 0, -1):
        if tokens % window == 0:
            return window
    return None


def check_backbone(name: object) -> None:
    """Raise ValueError, suggesting close names, when ``name`` is no timm model.

    A pretrained tag (``resnet50.a1_in1k``) is allowed. The project's ``fervgg_*`` backbones
    are timm models too: ``fer_graph.models`` registers them on import.
    """
    if isinstance(name, str) and timm.is_model(name):
        return
    close = difflib.get_close_matches(str(name), timm.list_models(), n=5)
    hint = f"close timm names: {', '.join(close)}" if close else "see timm.list_models()"
    raise ValueError(f"backbone {name!r} is not a timm model; {hint}")


class VREN(nn.Module):
    """VREN: visual representation extraction network (timm backbone -> stage maps, F_b^v)."""

    def __init__(
        self,
        *,
        backbone: str = "swin_base_patch4_window7_224",
        pretrained: bool | str = False,
        checkpoint_path: str | Path | None = None,
        img_size: int = 224,
        in_chans: int = 3,
        embed_dim: int | None = 1024,
    ) -> None:
        """Builds the backbone.

        Args:
            backbone: timm model name (resnet18/34/50, vgg16, swin_*_patch4_window7_224, ...).
            pretrained: False, True (timm's default weights for `backbone`) or a timm name
                with tag of the same architecture (e.g. "resnet50.a1_in1k"). Loaded from the
                local hub cache when HF_HUB_OFFLINE=1.
            checkpoint_path: local backbone weights (a timm/ImageNet state_dict file); timm's
                own filter adapts heads, in_chans and Swin position tables. Wins over
                `pretrained`.
            img_size: input side; passed to Swin (which fixes its token grid), ignored by CNNs.
            in_chans: image channels.
            embed_dim: size D_e of F_b^v; a linear projection is added when the backbone's
                width differs. None keeps the backbone's width (VREN-only baseline).
        """
        super().__init__()
        name = backbone
        if isinstance(pretrained, str):
            if pretrained.split(".")[0] != backbone.split(".")[0]:
                raise ValueError(
                    f"pretrained={pretrained!r} names another architecture than backbone={backbone!r}"
                )
            name = pretrained
        kwargs: dict = {"num_classes": 0, "in_chans": in_chans}
        if backbone.startswith("swin"):
            kwargs["img_size"] = img_size
            window = _swin_window(backbone, img_size)
            if window is not None:
                kwargs["window_size"] = window
        if checkpoint_path is not None:
            path = Path(checkpoint_path)
            if not path.is_file():
                raise FileNotFoundError(f"checkpoint_path {path} does not exist")
            kwargs["pretrained_cfg_overlay"] = {"file": str(path)}
            load = True
        else:
            load = bool(pretrained)
        if not load:
            self.backbone = timm.create_model(name, pretrained=False, **kwargs)
        else:
            try:
                self.backbone = timm.create_model(name, pretrained=True, **kwargs)
            except Exception as err:  # hub, cache and file errors have no common base class
                raise RuntimeError(
                    f"could not load weights for {name!r}: {err}. Offline, pass checkpoint_path."
                ) from err
        self.stage_channels: list[int] = [int(i["num_chs"]) for i in self.backbone.feature_info]
        # pre_logits width: num_features for most models, the MLP width for VGG (4096)
        self.num_features = int(getattr(self.backbone, "head_hidden_size", self.backbone.num_features))
        out_dim = self.num_features if embed_dim is None else embed_dim
        self.embed_dim = out_dim
        self.proj = nn.Identity() if out_dim == self.num_features else nn.Linear(self.num_features, out_dim)

    @property
    def num_stages(self) -> int:
        return len(self.stage_channels)

    def forward_features(
        self,
        images: torch.Tensor,
        stages: list[int] | None = None,
        adjust: Mapping[int, Callable[[torch.Tensor], torch.Tensor]] | None = None,
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Runs the backbone once.

        Args:
            images: (B, C, H, W).
            stages: non-negative stage ids wanted as maps; the last stage is always included
                (class activation maps are computed from it).
            adjust: stage id -> function replacing that stage's NCHW output before the next
                stage reads it (graph guidance, GVG); NCHW backbones only.

        Returns:
            The backbone's final features (its own layout, for forward_head) and a dict
            stage id -> (B, C_stage, h, w) NCHW map, still attached to the autograd graph.
        """
        wanted = sorted(set(stages or []) | {self.num_stages - 1})
        handles = [
            self.stage_module(stage).register_forward_hook(lambda _m, _i, out, fn=fn: fn(out))
            for stage, fn in (adjust or {}).items()
        ]
        try:
            final, maps = self.backbone.forward_intermediates(images, indices=wanted)
        finally:
            for handle in handles:
                handle.remove()
        return final, dict(zip(wanted, maps))

    def stage_module(self, stage: int) -> nn.Module:
        """The backbone module whose output is stage ``stage`` (timm's feature_info)."""
        if not 0 <= stage < self.num_stages:
            raise ValueError(f"stage {stage} out of range for a VREN with {self.num_stages} stages")
        return self.backbone.get_submodule(self.backbone.feature_info[stage]["module"])

    def forward_head(self, final: torch.Tensor) -> torch.Tensor:
        """Pools the final features to F_b^v (B, D_e)."""
        return self.proj(self.backbone.forward_head(final, pre_logits=True))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Returns F_b^v (B, D_e)."""
        return self.forward_head(self.forward_features(images)[0])
