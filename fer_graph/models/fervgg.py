"""FER-VGG: a compact VGG-style CNN for 48 px faces, registered as a timm model family.

timm's own small backbones downsample a 48 px face to 2x2 (ResNet) or carry 100M-parameter
heads (VGG); this family keeps four conv stages (48 -> 24 -> 12 -> 6 -> 3) and a pooled
linear head, the design that trains FER-2013 from scratch on a CPU within an hour.
Registering it lets every config name it like any other timm backbone.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn
from timm.layers import ClassifierHead
from timm.models._features import feature_take_indices
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model

__all__ = ["FerVGG"]


def _conv_bn_act(in_chs: int, out_chs: int) -> List[nn.Module]:
    return [nn.Conv2d(in_chs, out_chs, 3, padding=1, bias=False), nn.BatchNorm2d(out_chs), nn.ReLU(inplace=True)]


class FerVGG(nn.Module):
    """Stacks of 3x3 conv-BN-ReLU stages, each ending in a 2x2 max pool.

    Args:
        channels: output channels of each stage.
        convs_per_stage: 3x3 convolutions in each stage (one number for all, or one per stage).
        in_chans: input image channels.
        num_classes: classifier outputs (0 for a feature extractor).
        global_pool: timm pooling type of the head.
        drop_rate: dropout before the classifier.
        img_size: accepted for config symmetry with transformer backbones; any size works.
    """

    def __init__(
            self,
            channels: Sequence[int] = (64, 128, 256, 512),
            convs_per_stage: Union[int, Sequence[int]] = 2,
            in_chans: int = 3,
            num_classes: int = 1000,
            global_pool: str = "avg",
            drop_rate: float = 0.0,
            img_size: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.feature_info = []
        stages = []
        depths = [convs_per_stage] * len(channels) if isinstance(convs_per_stage, int) else list(convs_per_stage)
        if len(depths) != len(channels):
            raise ValueError(f"convs_per_stage has {len(depths)} entries for {len(channels)} stages")
        prev = in_chans
        for index, (width, depth) in enumerate(zip(channels, depths)):
            layers: List[nn.Module] = []
            for _ in range(depth):
                layers += _conv_bn_act(prev, width)
                prev = width
            layers.append(nn.MaxPool2d(2))
            stages.append(nn.Sequential(*layers))
            self.feature_info.append(dict(num_chs=width, reduction=2 ** (index + 1), module=f"stages.{index}"))
        self.stages = nn.Sequential(*stages)
        self.num_features = self.head_hidden_size = prev
        self.head = ClassifierHead(prev, num_classes, pool_type=global_pool, drop_rate=drop_rate)

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        self.num_classes = num_classes
        self.head.reset(num_classes, global_pool)

    def forward_intermediates(
            self,
            x: torch.Tensor,
            indices: Optional[Union[int, List[int]]] = None,
            norm: bool = False,
            stop_early: bool = False,
            output_fmt: str = "NCHW",
            intermediates_only: bool = False,
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """Forward returning the stage outputs selected by `indices` (timm convention)."""
        if output_fmt != "NCHW":
            raise ValueError(f"FerVGG only produces NCHW intermediates, got {output_fmt!r}")
        take_indices, max_index = feature_take_indices(len(self.stages), indices)
        stages = self.stages[: max_index + 1] if stop_early else self.stages
        intermediates = []
        for index, stage in enumerate(stages):
            x = stage(x)
            if index in take_indices:
                intermediates.append(x)
        if intermediates_only:
            return intermediates
        return x, intermediates

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _create(variant: str, pretrained: bool = False, **kwargs: Any) -> FerVGG:
    out_indices = kwargs.pop("out_indices", (0, 1, 2, 3))
    return build_model_with_cfg(
        FerVGG, variant, pretrained,
        feature_cfg=dict(flatten_sequential=True, out_indices=out_indices), **kwargs,
    )


def _cfg(**kwargs: Any) -> dict:
    return {
        "url": "", "num_classes": 7, "input_size": (3, 48, 48), "pool_size": (3, 3),
        "interpolation": "bilinear", "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25),
        "first_conv": "stages.0.0", "classifier": "head.fc", **kwargs,
    }


default_cfgs = generate_default_cfgs({
    "fervgg_small.untrained": _cfg(),
    "fervgg_base.untrained": _cfg(),
})


@register_model
def fervgg_small(pretrained: bool = False, **kwargs: Any) -> FerVGG:
    """FER-VGG with 32-64-128-256 channels (fast CPU runs and tests)."""
    return _create("fervgg_small", pretrained, **dict(dict(channels=(32, 64, 128, 256)), **kwargs))


@register_model
def fervgg_base(pretrained: bool = False, **kwargs: Any) -> FerVGG:
    """FER-VGG with 64-128-256-512 channels, one conv in the two wide early stages, two after.

    Single convolutions at 48 and 24 px halve the step time of a uniform double-conv stack
    while the deeper stages, where expressions are told apart, keep their two.
    """
    return _create(
        "fervgg_base", pretrained, **dict(dict(channels=(64, 128, 256, 512), convs_per_stage=(1, 1, 2, 2)), **kwargs)
    )
