"""The CS-GBSBF network (VREN + SREN coupled by AGM, RSN, RFN, CHN) and the VREN-only baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from fer_graph.data.graph_batch import GraphBatch
from fer_graph.models.agm import AGM, resolve_pairs
from fer_graph.models.gvg import GVG
from fer_graph.models.chn import CHN
from fer_graph.models.output import ModelOutput
from fer_graph.models.rfn import RFN
from fer_graph.models.rsn import SRSN, VRSN
from fer_graph.models.sren import SREN, batch_to_graph
from fer_graph.models.vren import VREN


GRAPH_HEADS = ("none", "concat")


class CSGBSBF(nn.Module):
    """CS-GBSBF: images and granular-ball graphs -> components fused by spatial guidance -> logits."""

    def __init__(
        self,
        *,
        backbone: str,
        pretrained: bool | str,
        checkpoint_path: str | Path | None,
        img_size: int,
        in_chans: int,
        num_classes: int,
        embed_dim: int,
        component_dim: int,
        num_components: int,
        vrsn_hidden: int | None,
        node_features: int,
        sren_layers: int,
        sren_hidden: int,
        graph_backend: str,
        agm_enabled: bool,
        agm_mode: str,
        agm_pairs: str | Sequence[Sequence[int]],
        srsn: bool,
        rfn_temperature: float | None,
        head_norm: bool,
        drop_rate: float,
        graph_head: str,
        graph_guidance_stage: int | None,
        sren_conv: str,
        sren_residual: bool,
        sren_readout: str,
    ) -> None:
        """Builds every part; the arguments are ModelConfig's keys (models/schema.py), agm.<key> as agm_<key>.

        Without SRSN the graph stream has no consumer and is not built (graphs are then
        optional); RFN fuses with a learned per-component query in place of C^s (see RFN).
        Variants beyond the paper (defaults off): ``graph_head="concat"`` gives CHN the graph
        representation beside F_u, [F_u ; sigmoid(FC(F_b^s))], so the graph reaches the logits
        directly and not only through W; ``graph_guidance_stage`` adds GVG at that VREN stage.
        """
        super().__init__()
        if agm_enabled and not srsn:
            raise ValueError("agm.enabled needs srsn: true (without SRSN the graph stream is unused)")
        if graph_head not in GRAPH_HEADS:
            raise ValueError(f"graph_head must be one of {GRAPH_HEADS}, got {graph_head!r}")
        if not srsn and (graph_head != "none" or graph_guidance_stage is not None):
            raise ValueError("graph_head and graph_guidance_stage need srsn: true (a graph stream)")
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
                embed_dim=embed_dim, backend=graph_backend, conv=sren_conv, residual=sren_residual,
                readout=sren_readout,
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
        self.graph_head = (
            nn.Sequential(nn.Linear(embed_dim, component_dim), nn.Sigmoid()) if graph_head == "concat" else None
        )
        self.gvg: GVG | None = None
        self.gvg_stage = graph_guidance_stage
        if graph_guidance_stage is not None:
            self.vren.stage_module(graph_guidance_stage)  # checks the stage id
            self.gvg = GVG(
                in_features=node_features, hidden=sren_hidden,
                stage_channels=self.vren.stage_channels[graph_guidance_stage],
            )
        head_width = component_dim * (2 if self.graph_head is not None else 1)
        self.chn = CHN(
            in_features=head_width, num_classes=num_classes, drop_rate=drop_rate, norm=head_norm,
        )

    def forward(self, images: torch.Tensor, graphs: GraphBatch | None = None) -> ModelOutput:
        """images (B, C, H, W) and their B graphs -> ModelOutput with every field set."""
        stages = self.agm.stages if self.agm is not None else []
        graph = adjust = None
        if self.srsn is not None:
            if graphs is None:
                raise ValueError("this model has a graph stream (srsn: true): pass a GraphBatch")
            if graphs.num_graphs != images.shape[0]:
                raise ValueError(f"{images.shape[0]} images but {graphs.num_graphs} graphs")
            graph = batch_to_graph(graphs, self.sren.backend)
            if self.gvg is not None:
                adjust = {self.gvg_stage: lambda stage_map: self._guide(graph, graphs, stage_map)}
        final, stage_maps = self.vren.forward_features(images, stages, adjust)
        visual = self.vrsn(self.vren.forward_head(final))
        spatial = graph_features = None
        if self.srsn is not None:
            guidance = self.agm(stage_maps, graphs) if self.agm is not None else None
            graph_features = self.sren(graphs, guidance, graph)
            spatial = self.srsn(graph_features)
        fused, weights = self.rfn(visual, spatial)
        head_visual = visual
        if self.graph_head is not None:
            side = self.graph_head(graph_features).to(fused.dtype)
            fused = torch.cat([fused, side], dim=1)
            head_visual = torch.cat([visual, side.unsqueeze(1).expand(-1, visual.shape[1], -1)], dim=2)
        return ModelOutput(
            logits=self.chn(fused),
            weights=weights,
            visual_components=visual,
            spatial_components=spatial,
            component_logits=self.chn.score_components(head_visual),
            feature_map=stage_maps[self.vren.num_stages - 1],
        )

    def _guide(self, graph, graphs: GraphBatch, stage_map: torch.Tensor) -> torch.Tensor:
        """The stage map plus GVG's term; NHWC stage outputs (Swin) are handled in NCHW."""
        channels = self.vren.stage_channels[self.gvg_stage]
        nhwc = stage_map.shape[1] != channels and stage_map.shape[-1] == channels
        nchw = stage_map.permute(0, 3, 1, 2) if nhwc else stage_map
        out = nchw + self.gvg(graph, graphs, nchw)
        return out.permute(0, 2, 3, 1) if nhwc else out


class VRENOnly(nn.Module):
    """VREN-only baseline: the backbone's pooled features and one linear head."""

    def __init__(
        self,
        *,
        backbone: str,
        pretrained: bool | str,
        checkpoint_path: str | Path | None,
        img_size: int,
        in_chans: int,
        num_classes: int,
        drop_rate: float,
    ) -> None:
        """Builds VREN and the head; the arguments are ModelConfig's `baseline` keys (models/schema.py)."""
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
