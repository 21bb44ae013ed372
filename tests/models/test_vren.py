"""VREN: NCHW stage maps for CNN and Swin families, F_b^v size, local checkpoints."""

from __future__ import annotations

import pytest
import torch

from fer_graph.models.vren import VREN, _swin_window


@pytest.mark.parametrize("backbone,img_size,channels", [
    ("resnet18", 48, [64, 64, 128, 256, 512]),
    ("swin_tiny_patch4_window7_224", 48, [96, 192, 384, 768]),
])
def test_stage_maps_are_nchw_and_pooled_feature_has_embed_dim(
    backbone: str, img_size: int, channels: list[int]
) -> None:
    vren = VREN(backbone=backbone, img_size=img_size, embed_dim=40)
    assert vren.stage_channels == channels
    final, maps = vren.forward_features(torch.randn(2, 3, img_size, img_size), stages=[0])
    assert sorted(maps) == [0, len(channels) - 1]
    side = img_size // 4 if backbone.startswith("swin") else img_size // 2
    assert maps[0].shape == (2, channels[0], side, side)
    assert maps[len(channels) - 1].shape[:2] == (2, channels[-1])
    pooled = vren.forward_head(final)
    assert pooled.shape == (2, 40)
    torch.testing.assert_close(vren.proj(vren.backbone.forward_head(final, pre_logits=True)), pooled)


def test_swin_window_tiles_the_first_stage() -> None:
    assert _swin_window("swin_tiny_patch4_window7_224", 224) is None
    assert _swin_window("swin_tiny_patch4_window7_224", 112) is None
    assert _swin_window("swin_tiny_patch4_window7_224", 48) == 6
    vren = VREN(backbone="swin_tiny_patch4_window7_224", img_size=48, embed_dim=None)
    assert vren.backbone.layers[0].blocks[0].window_size == (6, 6)


def test_embed_dim_none_keeps_backbone_width_without_projection() -> None:
    vren = VREN(backbone="resnet18", embed_dim=None, in_chans=1)
    assert isinstance(vren.proj, torch.nn.Identity) and vren.embed_dim == 512
    assert vren(torch.randn(2, 1, 48, 48)).shape == (2, 512)


def test_checkpoint_path_loads_local_weights(tmp_path) -> None:
    source = VREN(backbone="resnet18", embed_dim=None)
    path = tmp_path / "resnet18.pth"
    torch.save(source.backbone.state_dict(), path)
    loaded = VREN(backbone="resnet18", embed_dim=None, checkpoint_path=path)
    for (name, want), got in zip(source.backbone.state_dict().items(), loaded.backbone.state_dict().values()):
        torch.testing.assert_close(got, want, msg=name)
    with pytest.raises(FileNotFoundError):
        VREN(backbone="resnet18", checkpoint_path=tmp_path / "missing.pth")


def test_pretrained_name_must_match_backbone_architecture() -> None:
    with pytest.raises(ValueError, match="another architecture"):
        VREN(backbone="resnet18", pretrained="resnet50.a1_in1k")


def test_unknown_backbone_names_close_timm_and_project_names() -> None:
    import fer_graph.models  # noqa: F401  (registers fervgg_*)
    from fer_graph.models.vren import check_backbone

    check_backbone("resnet18")
    check_backbone("resnet50.a1_in1k")  # a pretrained tag of a known architecture
    check_backbone("fervgg_small")
    with pytest.raises(ValueError, match=r"^backbone 'resnet9000' is not a timm model; close timm names: .*resnet50"):
        check_backbone("resnet9000")
    with pytest.raises(ValueError, match=r"close timm names: fervgg_base"):
        check_backbone("fervgg_bas")
    with pytest.raises(ValueError, match=r"^backbone 'zzzzqqqq' is not a timm model; see timm.list_models\(\)$"):
        check_backbone("zzzzqqqq")
