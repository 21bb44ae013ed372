"""AGM: attention guidance from VREN stage maps into SREN layers (paper Eq. 4)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fer_graph.data.graph_batch import GraphBatch

MODES = ("global", "spatial")


def resolve_pairs(
    pairs: str | Sequence[Sequence[int]], num_stages: int, num_layers: int
) -> list[tuple[int, int]]:
    """Turns the `agm.pairs` config into sorted, non-negative (vren_stage, sren_layer) pairs.

    Args:
        pairs: a list of [vren_stage, sren_layer] (negative ids count from the end), or
            "all": stage i -> layer i when the counts match, else the last min(S, L) stages
            onto the last min(S, L) layers, so the last stage always guides the last layer
            (the paper's l = N, which is also the default [[-1, -1]]).
        num_stages: S, VREN stages.
        num_layers: L, SREN layers.

    Raises:
        ValueError: a pair is malformed, out of range or repeated.
    """
    if pairs == "all":
        common = min(num_stages, num_layers)
        return [(num_stages - common + i, num_layers - common + i) for i in range(common)]
    if isinstance(pairs, str):
        raise ValueError(f"agm.pairs must be a list of [vren_stage, sren_layer] or 'all', got {pairs!r}")
    resolved = []
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"agm.pairs entries are [vren_stage, sren_layer], got {pair!r}")
        stage, layer = int(pair[0]), int(pair[1])
        if not -num_stages <= stage < num_stages:
            raise ValueError(f"agm.pairs stage {stage} out of range for a VREN with {num_stages} stages")
        if not -num_layers <= layer < num_layers:
            raise ValueError(f"agm.pairs layer {layer} out of range for sren_layers={num_layers}")
        resolved.append((stage % num_stages, layer % num_layers))
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"agm.pairs repeats a pair: {pairs!r}")
    return sorted(resolved)


def sample_at_centers(
    maps: torch.Tensor, centers: torch.Tensor, graph_index: torch.Tensor
) -> torch.Tensor:
    """Bilinear value of each node's own image map at its centre, (num_nodes, C).

    Matches F.grid_sample(align_corners=False, padding_mode="border"): a centre (r, c) in
    [0, 1] is a position on the image's full extent, 0 and 1 being its outer edges.

    Args:
        maps: (B, C, H, W).
        centers: (num_nodes, 2) normalised (row, col).
        graph_index: (num_nodes,) which map each node reads.
    """
    _, channels, height, width = maps.shape
    flat = maps.permute(0, 2, 3, 1).reshape(-1, channels)
    row = (centers[:, 0] * height - 0.5).clamp(0, height - 1)
    col = (centers[:, 1] * width - 0.5).clamp(0, width - 1)
    r0, c0 = row.floor().long(), col.floor().long()
    r1, c1 = (r0 + 1).clamp(max=height - 1), (c0 + 1).clamp(max=width - 1)
    wr, wc = (row - r0).unsqueeze(1).to(maps.dtype), (col - c0).unsqueeze(1).to(maps.dtype)
    base = graph_index * (height * width)

    def at(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return flat[base + r * width + c]

    top = at(r0, c0) * (1 - wc) + at(r0, c1) * wc
    bottom = at(r1, c0) * (1 - wc) + at(r1, c1) * wc
    return top * (1 - wr) + bottom * wr


class AGM(nn.Module):
    """AGM: attention guidance module, FC(VREN stage l) added to SREN layer l's output (Eq. 4)."""

    def __init__(
        self,
        *,
        pairs: Sequence[tuple[int, int]],
        stage_channels: Sequence[int],
        sren_hidden: int,
        mode: str = "global",
    ) -> None:
        """Builds one FC per pair.

        Args:
            pairs: resolved (vren_stage, sren_layer) pairs (see resolve_pairs).
            stage_channels: channels of every VREN stage.
            sren_hidden: width of the SREN layers.
            mode: "global" (pooled stage map, the same term for every node of an image) or
                "spatial" (the stage map read at each node's centre, a term per node).
        """
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"agm.mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.pairs = [tuple(p) for p in pairs]
        self.fcs = nn.ModuleList(nn.Linear(stage_channels[s], sren_hidden) for s, _ in self.pairs)

    @property
    def stages(self) -> list[int]:
        return sorted({s for s, _ in self.pairs})

    def forward(self, stage_maps: dict[int, torch.Tensor], graphs: GraphBatch) -> dict[int, torch.Tensor]:
        """Guidance terms, SREN layer id -> (num_nodes, sren_hidden)."""
        guidance: dict[int, torch.Tensor] = {}
        for (stage, layer), fc in zip(self.pairs, self.fcs):
            maps = stage_maps[stage]
            if self.mode == "global":
                term = fc(maps.mean(dim=(2, 3)))[graphs.graph_index]
            else:
                # FC before sampling: both are linear and the bilinear weights sum to one,
                # so this equals FC(sample(map)) while sampling hidden instead of C channels.
                projected = torch.einsum("bchw,oc->bohw", maps, fc.weight) + fc.bias[:, None, None]
                term = sample_at_centers(projected, graphs.centers.to(maps.dtype), graphs.graph_index)
            guidance[layer] = guidance[layer] + term if layer in guidance else term
        return guidance
