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


def build_gvg(vren: VREN, stage: int | None, node_features: int, hidden: int) -> GVG | None:
    """GVG at VREN stage ``stage``, or None where no stage is given.

    Raises:
        ValueError: ``stage`` is not a stage of ``vren``.
    """
    if stage is None:
        return None
    vren.stage_module(stage)  # checks the stage id
    return GVG(in_features=node_features, hidden=hidden, stage_channels=vren.stage_channels[stage], stage=stage)


def check_graphs(images: torch.Tensor, graphs: GraphBatch | None, why: str) -> None:
    """Raises ValueError unless ``graphs`` holds one graph per image; ``why`` says who needs them."""
    if graphs is None:
        raise ValueError(f"this model has {why}: pass a GraphBatch")
    if graphs.num_graphs != images.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {graphs.num_graphs} graphs")


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
        self.gvg = build_gvg(self.vren, graph_guidance_stage, node_features, sren_hidden)
        head_width = component_dim * (2 if self.graph_head is not None else 1)
        self.chn = CHN(
            in_features=head_width, num_classes=num_classes, drop_rate=drop_rate, norm=head_norm,
        )

    def forward(self, images: torch.Tensor, graphs: GraphBatch | None = None) -> ModelOutput:
        """images (B, C, H, W) and their B graphs -> ModelOutput with every field set."""
        stages = self.agm.stages if self.agm is not None else []
        graph = adjust = None
        if self.srsn is not None:
            check_graphs(images, graphs, "a graph stream (srsn: true)")
            graph = batch_to_graph(graphs, self.sren.backend)
            if self.gvg is not None:
                adjust = self.gvg.adjust(graph, graphs)
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


class VRENOnly(nn.Module):
    """VREN-only baseline: the backbone's pooled features and one linear head (optionally with GVG)."""

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
        node_features: int,
        sren_hidden: int,
        graph_backend: str,
        graph_guidance_stage: int | None,
    ) -> None:
        """Builds VREN and the head; the arguments are ModelConfig's `baseline` keys (models/schema.py).

        With ``graph_guidance_stage`` the backbone is guided by GVG at that stage (node
        embeddings ``sren_hidden`` wide, propagated with ``graph_backend``): the graph's
        cheapest path to the prediction, with no SREN, RSN, RFN or CHN.
        """
        super().__init__()
        self.vren = VREN(
            backbone=backbone, pretrained=pretrained, checkpoint_path=checkpoint_path,
            img_size=img_size, in_chans=in_chans, embed_dim=None,
        )
        self.head = CHN(in_features=self.vren.num_features, num_classes=num_classes, drop_rate=drop_rate)
        self.graph_backend = graph_backend
        self.gvg = build_gvg(self.vren, graph_guidance_stage, node_features, sren_hidden)

    def forward(self, images: torch.Tensor, graphs: GraphBatch | None = None) -> ModelOutput:
        """images (B, C, H, W) -> ModelOutput(logits, feature_map); graphs are read only with GVG."""
        adjust = None
        if self.gvg is not None:
            check_graphs(images, graphs, "graph guidance (graph_guidance_stage)")
            adjust = self.gvg.adjust(batch_to_graph(graphs, self.graph_backend), graphs)
        final, stage_maps = self.vren.forward_features(images, adjust=adjust)
        return ModelOutput(
            logits=self.head(self.vren.forward_head(final)),
            feature_map=stage_maps[self.vren.num_stages - 1],
        )
