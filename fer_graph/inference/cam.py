"""What each component looked at (the paper's Figure 6): Grad-CAM maps over the image for the
visual components C_k^v and over the graph's nodes for the spatial components C_k^s.

Targets (per component k, for a class c, by default the predicted one):

- visual: the component's contribution to the class logit, W_k * CHN(C_k^v)_c with W_k held
  fixed (the logit CHN(F_u)_c equals sum_k W_k CHN(C_k^v)_c: CHN is affine in eval mode,
  with or without head_norm, and W sums to one).
- spatial: the component's fusion score <C_k^v, C_k^s> (Eq. 6), the only way C_k^s acts on
  the prediction; C_k^v is held fixed, so the gradient reaches the graph through C_k^s only.

Maps are Grad-CAM (Selvaraju et al. 2017): channel weights are the mean gradient over the
positions (pixels of the VREN's last stage map, or the nodes of the last SREN layer, as in
Pope et al. 2019 for graphs) and the map is the weighted channel sum. Maps are kept signed;
``fer_graph.viz.components`` decides how to scale them for display.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from fer_graph.data.dataset import collate_batch
from fer_graph.granular.graph import BallGraph
from fer_graph.inference.loading import LoadedModel


@dataclass
class ComponentMaps:
    """Component attributions for one image.

    Attributes:
        visual: (K, h, w) signed Grad-CAM of each C_k^v on the last VREN stage grid.
        visual_upsampled: (K, S, S) the same, bilinearly resized to the model input size.
        nodes: (K, N) signed Grad-CAM of each C_k^s on the graph's nodes, or None without SRSN.
        weights: (K,) fusion weights W.
        probabilities: (num_classes,) softmax of the logits.
        target: the class whose logit the visual maps explain.
        graph: the graph the model read (None for models without a graph stream).
    """

    visual: np.ndarray
    visual_upsampled: np.ndarray
    nodes: np.ndarray | None
    weights: np.ndarray
    probabilities: np.ndarray
    target: int
    graph: BallGraph | None

    @property
    def num_components(self) -> int:
        return int(self.weights.shape[0])


def _last_stage_module(model: torch.nn.Module) -> torch.nn.Module:
    """The backbone module whose output is the last stage map on the path to the logits.

    ``ModelOutput.feature_map`` is a copy for some backbones (Swin permutes a side branch),
    so the gradient is taken at the stage module's own output instead.
    """
    backbone = model.vren.backbone
    info = backbone.feature_info
    entries = info.get_dicts() if hasattr(info, "get_dicts") else list(info)
    return backbone.get_submodule(entries[-1]["module"])


def _to_nchw(stage_out: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """The stage output in NCHW (Swin stages give NHWC), matched against the NCHW map's shape."""
    if stage_out.shape == reference.shape:
        return stage_out
    if stage_out.permute(0, 3, 1, 2).shape == reference.shape:
        return stage_out.permute(0, 3, 1, 2)
    raise RuntimeError(f"cannot match last stage output {tuple(stage_out.shape)} "
                       f"to the feature map {tuple(reference.shape)}")


def component_maps(loaded: LoadedModel, image: np.ndarray, target: int | None = None) -> ComponentMaps:
    """Grad-CAM of every visual and spatial component for one decoded image.

    Args:
        loaded: a CS-GBSBF checkpoint (``load_model``).
        image: uint8 HxW or HxWx3, any size (prepared exactly as for prediction).
        target: class to explain; None explains the predicted class.

    Raises:
        ValueError: the model has no components (the VREN-only baseline).
    """
    model = loaded.model
    if not hasattr(model, "vrsn"):
        raise ValueError("this checkpoint is a VREN-only baseline: it has no components to explain")
    graph = loaded.graph_for(image)
    tensor = loaded.tensor_for(image)
    images, graphs, _ = collate_batch([(tensor, graph, 0)])
    images = images.to(loaded.device)
    graphs = graphs.to(loaded.device) if graphs is not None else None

    captured: dict[str, list[torch.Tensor]] = {"stage": [], "nodes": []}
    hooks = [_last_stage_module(model).register_forward_hook(
        lambda _m, _i, out: captured["stage"].append(out))]
    sren = getattr(model, "sren", None)
    if sren is not None:
        # The activation runs after every GraphConv layer; its last output feeds the readout.
        hooks.append(sren.activation.register_forward_hook(lambda _m, _i, out: captured["nodes"].append(out)))
    try:
        with torch.enable_grad():
            out = model(images, graphs)
    finally:
        for hook in hooks:
            hook.remove()

    raw_stage = captured["stage"][-1]  # gradients must be taken at this very tensor
    stage = _to_nchw(raw_stage.detach(), out.feature_map)[0]
    probs = torch.softmax(out.logits.detach().float(), dim=1)[0]
    cls = int(probs.argmax()) if target is None else int(target)
    weights = out.weights.detach()[0]
    visual_c = out.visual_components
    node_h = captured["nodes"][-1] if captured["nodes"] else None

    visual_maps, node_maps = [], []
    for k in range(weights.shape[0]):
        contribution = weights[k] * out.component_logits[0, k, cls]
        grad = torch.autograd.grad(contribution, raw_stage, retain_graph=True)[0]
        alpha = _to_nchw(grad, out.feature_map)[0].mean(dim=(1, 2))
        visual_maps.append(torch.einsum("c,chw->hw", alpha, stage))
        if node_h is not None and out.spatial_components is not None:
            score = (visual_c[0, k].detach() * out.spatial_components[0, k]).sum()
            grad_n = torch.autograd.grad(score, node_h, retain_graph=True)[0]
            node_maps.append(node_h.detach() @ grad_n.mean(dim=0))

    visual = torch.stack(visual_maps).float()
    size = images.shape[-2:]
    upsampled = F.interpolate(visual[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
    return ComponentMaps(
        visual=visual.cpu().numpy(),
        visual_upsampled=upsampled.cpu().numpy(),
        nodes=torch.stack(node_maps).float().cpu().numpy() if node_maps else None,
        weights=weights.float().cpu().numpy(),
        probabilities=probs.cpu().numpy(),
        target=cls,
        graph=graph,
    )
