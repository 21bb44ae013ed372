"""FER-VGG is a well-behaved timm model: by name, features_only, intermediates, head reset."""

import pytest
import timm
import torch

import fer_graph.models.fervgg  # noqa: F401  (registers the family with timm)


@pytest.mark.parametrize("name,widths", [("fervgg_small", [32, 64, 128, 256]), ("fervgg_base", [64, 128, 256, 512])])
def test_created_by_name_with_stage_widths(name, widths):
    model = timm.create_model(name, num_classes=7, in_chans=1)
    x = torch.randn(3, 1, 48, 48)
    assert model(x).shape == (3, 7)
    final, stages = model.forward_intermediates(x)
    assert [s.shape[1] for s in stages] == widths
    assert [s.shape[-1] for s in stages] == [24, 12, 6, 3]
    torch.testing.assert_close(final, model.forward_features(x))


def test_features_only_matches_intermediates():
    torch.manual_seed(0)
    model = timm.create_model("fervgg_small", num_classes=0).eval()
    features = timm.create_model("fervgg_small", features_only=True).eval()
    # timm's feature wrapper flattens "stages.0" into "stages_0"; the head is not part of it.
    renamed = {k.replace("stages.", "stages_", 1): v for k, v in model.state_dict().items() if k.startswith("stages.")}
    features.load_state_dict(renamed, strict=True)
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        for a, b in zip(features(x), model.forward_intermediates(x, intermediates_only=True)):
            torch.testing.assert_close(a, b)
    assert features.feature_info.reduction() == [2, 4, 8, 16]


def test_head_reset_and_pre_logits():
    model = timm.create_model("fervgg_small", num_classes=7)
    model.reset_classifier(3)
    x = torch.randn(2, 3, 40, 40)
    assert model(x).shape == (2, 3)
    pooled = model.forward_head(model.forward_features(x), pre_logits=True)
    torch.testing.assert_close(pooled, model.forward_features(x).mean(dim=(2, 3)))


def test_intermediates_reject_channels_last_format():
    model = timm.create_model("fervgg_small")
    with pytest.raises(ValueError, match="NCHW"):
        model.forward_intermediates(torch.randn(1, 3, 48, 48), output_fmt="NHWC")
