"""The CS-GBSBF network (VREN + SREN coupled by AGM, RSN, RFN, CHN) and the VREN-only baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from fer_graph.data.graph_batch import GraphBatch
from fer_graph.models.agm import AGM, resolve_pairs
from fer_graph.models.output import ModelOutput
from fer_graph.models.rfn import CHN, RFN
from fer_graph.models.rsn import SRSN, VRSN
from fer_graph.models.sren import SREN
from fer_graph.models.vren import VREN


class CSGBSBF(nn.Module):
    """CS-GBSBF: images and granular-ball graphs -> components fused by spatial guidance -> logits."""

    def __init__(
        self,
        *,
        backbone: str = "swin_base_patch4_window7_224",
        pretrained: bool | str = False,
        checkpoint_path: str | Path | None = None,
        img_size: int = 224,
        in_chans: int = 3,
        num_classes: int = 7,
        embed_dim: int = 1024,
        component_dim: int = 128,
        num_components: int = 9,
        vrsn_hidden: int | None = None,
        node_features: int = 12,
        sren_layers: int = 2,
        sren_hidden: int = 64,
        graph_backend: str = "auto",
        agm_enabled: bool = True,
        agm_mode: str = "global",
        agm_pairs: str | Sequence[Sequence[int]] = ((-1, -1),),
        srsn: bool = True,
        rfn_temperature: float | None = None,
        head_norm: bool = False,
        drop_rate: float = 0.0,
    ) -> None:
        """Builds every part; the arguments mirror create_model's config keys.

        Without SRSN the graph stream has no consumer and is not built (graphs are then
        optional); RFN fuses with a learned per-component query in place of C^s (see RFN).
        """
        super().__init__()
        if agm_enabled and not srsn:
            raise ValueError("agm.enabled needs srsn: true (without SRSN the graph stream is unused)")
        self.vren = VREN(
            backbone=backbone, pretrained=pretrained, checkpoint_path=checkpoint_path,
            img_size=img_size, in_chans=in_chans, embed_dim=embed_dim,
        )
        self.vrsn = VRSN(
            embed_dim=embed_dim, hidden=vrsn_hidden or component_dim,
            component_dim=component_dim, num_components=num_components,
        )
        self.sren: SREN | None = None
        self.agm: AGM | None = None
        self.srsn: SRSN | None = None
        if srsn:
            self.sren = SREN(
                in_features=node_features, hidden=sren_hidden, num_layers=sren_layers,
                embed_dim=embed_dim, backend=graph_backend,
            )
            self.srsn = SRSN(embed_dim=embed_dim, component_dim=component_dim, num_components=num_components)
            if agm_enabled:
                pairs = resolve_pairs(agm_pairs, self.vren.num_stages, sren_layers)
                self.agm = AGM(
                    pairs=pairs, stage_channels=self.vren.stage_channels,
                    sren_hidden=sren_hidden, mode=agm_mode,
                )
        self.rfn = RFN(
            component_dim=component_dim, num_components=num_components,
            temperature=rfn_temperature, learned_query=not srsn,
        )
        self.chn = CHN(
            in_features=component_dim, num_classes=num_classes, drop_rate=drop_rate, norm=head_norm,
        )

    def forward(self, images: torch.Tensor, graphs: GraphBatch | None = None) -> ModelOutput:
        """images (B, C, H, W) and their B graphs -> ModelOutput with every field set."""
        stages = self.agm.stages if self.agm is not None else []
        final, stage_maps = self.vren.forward_features(images, stages)
        visual = self.vrsn(self.vren.forward_head(final))
        spatial = None
        if self.srsn is not None:
            if graphs is None:
                raise ValueError("this model has a graph stream (srsn: true): pass a GraphBatch")
            if graphs.num_graphs != images.shape[0]:
                raise ValueError(f"{images.shape[0]} images but {graphs.num_graphs} graphs")
            guidance = self.agm(stage_maps, graphs) if self.agm is not None else None
            spatial = self.srsn(self.sren(graphs, guidance))
        fused, weights = self.rfn(visual, spatial)
        return ModelOutput(
            logits=self.chn(fused),
            weights=weights,
            visual_components=visual,
            spatial_components=spatial,
            component_logits=self.chn.score_components(visual),
            feature_map=stage_maps[self.vren.num_stages - 1],
        )


class VRENOnly(nn.Module):
    """VREN-only baseline: the backbone's pooled features and one linear head."""

    def __init__(
        self,
        *,
        backbone: str = "swin_base_patch4_window7_224",
        pretrained: bool | str = False,
        checkpoint_path: str | Path | None = None,
        img_size: int = 224,
        in_chans: int = 3,
        num_classes: int = 7,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.vren = VREN(
            backbone=backbone, pretrained=pretrained, checkpoint_path=checkpoint_path,
            img_size=img_size, in_chans=in_chans, embed_dim=None,
        )
        self.head = CHN(in_features=self.vren.num_features, num_classes=num_classes, drop_rate=drop_rate)

    def forward(self, images: torch.Tensor, graphs: GraphBatch | None = None) -> ModelOutput:
        """images (B, C, H, W) -> ModelOutput(logits, feature_map); graphs are ignored."""
        final, stage_maps = self.vren.forward_features(images)
        return ModelOutput(
            logits=self.head(self.vren.forward_head(final)),
            feature_map=stage_maps[self.vren.num_stages - 1],
        )
