"""Device and precision choice (models/devices.py); paths that need a GPU or downloaded weights
are marked, and skipped where those are absent."""

from __future__ import annotations

import json

import pytest
import torch

from fer_graph.errors import ConfigError
from fer_graph.models import CSGBSBFLoss, create_model
from fer_graph.models.devices import RoundedProducts, autocast, machine_record, resolve_device
from model_helpers import TINY

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


def _cached_weights(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "model.safetensors"), str)


@pytest.mark.gpu
@needs_cuda
def test_full_model_trains_on_cuda_with_the_torch_graph_backend(make_graphs) -> None:
    device = torch.device("cuda")
    model = create_model({**TINY, "graph_backend": "auto"}).to(device)
    graphs = make_graphs([5, 40, 1]).to(device)
    images = torch.randn(3, 3, 48, 48, device=device)
    labels = torch.tensor([0, 1, 2], device=device)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = model(images, graphs)
        total, _ = CSGBSBFLoss()(out, labels)
    total.backward()
    assert torch.isfinite(total)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.gpu
@needs_cuda
def test_cuda_and_cpu_agree_in_float32(make_graphs) -> None:
    torch.manual_seed(0)
    model = create_model({**TINY, "graph_backend": "torch"}).eval()
    graphs = make_graphs([7, 30])
    images = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        cpu = model(images, graphs).logits
        gpu = model.to("cuda")(images.cuda(), graphs.to("cuda")).logits.cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-3, atol=1e-3)


@pytest.mark.pretrained
@pytest.mark.skipif(not _cached_weights("timm/resnet18.a1_in1k"), reason="resnet18 ImageNet weights not cached (offline)")
def test_pretrained_backbone_by_timm_name(make_graphs) -> None:
    model = create_model({**TINY, "backbone": "resnet18", "pretrained": True})
    out = model(torch.randn(2, 3, 48, 48), make_graphs([4, 9]))
    assert out.logits.shape == (2, TINY.get("num_classes", 7))


def test_resolve_device_names_the_key_for_a_missing_gpu_or_a_bad_name() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ConfigError, match=r"^train\.device: 'gpu0' is not a device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match=r"^--device: cuda:1 requested but no CUDA device"):
            resolve_device("cuda:1", key="--device")


def test_autocast_runs_matmuls_in_the_configured_precision() -> None:
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with autocast(torch.device("cpu"), False):
        assert (a @ b).dtype == torch.float32
    with autocast(torch.device("cpu"), "bf16"):
        assert (a @ b).dtype == torch.bfloat16


def test_bf16_support_is_read_from_the_cpu_flags() -> None:
    from fer_graph.models.devices import cpu_has_bf16

    amx = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f amx_bf16 amx_tile\n"
    zen1 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\nprocessor\t: 1\nflags\t\t: fpu sse2 avx2 fma\n"
    assert cpu_has_bf16(amx) is True
    assert cpu_has_bf16(zen1) is False
    assert cpu_has_bf16("model name : unknown\n") is None


def test_machine_record_names_the_cpu_its_instruction_set_and_the_device() -> None:
    zen = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu avx2 fma\n"
    record = machine_record(torch.device("cpu"), zen)
    assert record["cpu"] == "AMD EPYC 7B13" and record["cpu_bf16"] is False
    assert record["cpu_bf16_products"] == "rounded_fp32"
    assert record["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert record["threads"] == torch.get_num_threads() and record["torch"] == torch.__version__
    assert record["device"] == "cpu"
    # the record goes into run.json as it is
    assert json.loads(json.dumps(record)) == record


def _within_one_bf16_step(actual: torch.Tensor, expected: torch.Tensor) -> bool:
    """Every element of ``actual`` is ``expected`` or one bf16 rounding step from it."""
    step = torch.finfo(torch.bfloat16).eps * expected.float().abs().clamp_min(1e-30)
    return bool(((actual.float() - expected.float()).abs() <= step).all())


def test_bf16_without_native_support_rounds_convolution_operands_and_results_as_a_native_one() -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 4, 9, 9)
    weight = torch.randn(6, 2, 3, 3, requires_grad=True)
    bias = torch.randn(6, requires_grad=True)
    upstream = torch.randn(3, 6, 5, 5)
    with autocast(torch.device("cpu"), "bf16", native_bf16=False):
        out = torch.nn.functional.conv2d(x, weight, bias, stride=2, padding=1, groups=2)
    assert out.dtype == torch.bfloat16
    (out.float() * upstream).sum().backward()

    # independent: float64 on the bf16-rounded operands, each result rounded once to bf16
    def rounded(t: torch.Tensor) -> torch.Tensor:
        return t.detach().to(torch.bfloat16).double().requires_grad_()

    x64, w64, b64 = rounded(x), rounded(weight), rounded(bias)
    ref = torch.nn.functional.conv2d(x64, w64, b64, stride=2, padding=1, groups=2)
    (ref * upstream.to(torch.bfloat16).double()).sum().backward()
    assert _within_one_bf16_step(out, ref.to(torch.bfloat16))
    # the weight gradient comes back in float32, rounded to bf16 as autocast's cast does
    assert weight.grad.dtype == torch.float32
    assert torch.equal(weight.grad, weight.grad.to(torch.bfloat16).float())
    assert _within_one_bf16_step(weight.grad, w64.grad.to(torch.bfloat16))
    assert _within_one_bf16_step(bias.grad, b64.grad.to(torch.bfloat16))


PRODUCTS = {
    "linear": (lambda a, b: torch.nn.functional.linear(a, b), (5, 7), (3, 7)),
    "matmul": (lambda a, b: a @ b, (2, 5, 7), (7, 3)),
    "bmm": (torch.bmm, (2, 5, 7), (2, 7, 3)),
    "einsum": (lambda a, b: torch.einsum("bk,bks->bs", a, b), (4, 6), (4, 6, 3)),
}


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_bf16_without_native_support_rounds_matrix_products_as_a_native_one(name: str) -> None:
    product, shape_a, shape_b = PRODUCTS[name]
    torch.manual_seed(1)
    a, b = torch.randn(shape_a, requires_grad=True), torch.randn(shape_b, requires_grad=True)
    with autocast(torch.device("cpu"), "bf16", native_bf16=False):
        out = product(a, b)
    assert out.dtype == torch.bfloat16
    upstream = torch.randn(out.shape)
    (out.float() * upstream).sum().backward()
    a64, b64 = (t.detach().to(torch.bfloat16).double().requires_grad_() for t in (a, b))
    ref = product(a64, b64)
    (ref * upstream.to(torch.bfloat16).double()).sum().backward()
    assert _within_one_bf16_step(out, ref.to(torch.bfloat16))
    for grad, ref_grad in ((a.grad, a64.grad), (b.grad, b64.grad)):
        assert grad.dtype == torch.float32 and _within_one_bf16_step(grad, ref_grad.to(torch.bfloat16))


def test_rounded_products_only_where_bf16_autocast_meets_a_cpu_without_it() -> None:
    conv = torch.nn.Conv2d(2, 3, 3)
    x = torch.randn(1, 2, 6, 6)
    cpu = torch.device("cpu")
    with autocast(cpu, "bf16", native_bf16=False):
        assert conv(x).dtype == torch.bfloat16
        with torch.autocast("cpu", enabled=False):  # a region that asks for float32 keeps it
            assert torch.equal(conv(x), torch.nn.functional.conv2d(x, conv.weight, conv.bias))
    assert isinstance(autocast(cpu, "bf16", native_bf16=True), torch.autocast)
    assert isinstance(autocast(cpu, "fp16", native_bf16=False), torch.autocast)
    with RoundedProducts():  # without autocast it changes nothing
        assert torch.equal(conv(x), torch.nn.functional.conv2d(x, conv.weight, conv.bias))
