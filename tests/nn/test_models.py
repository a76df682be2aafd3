"""Tests for the model registry and the models in :mod:`leantrain.nn.models`."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from leantrain.errors import InputError
from leantrain.nn import MODELS, MnistCNN, build_model
from leantrain.nn.models import HeteroFLConv, Scaler

NATURAL_SHAPES: dict[str, list[tuple[int, int, int]]] = {
    "mnist-cnn": [(1, 28, 28)],
    "mnist-cnn-wide": [(1, 28, 28)],
    "digits-cnn": [(1, 8, 8)],
    "heterofl-conv": [(1, 28, 28), (3, 32, 32), (1, 8, 8)],
    "resnet8": [(3, 32, 32), (1, 28, 28)],
    "resnet14": [(3, 32, 32), (1, 28, 28)],
    "resnet20": [(3, 32, 32), (1, 28, 28)],
}


def _param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _resnet_params(blocks: int, channels: int, classes: int) -> int:
    """Parameters of the CIFAR ResNet with bias-free convs and projection shortcuts.

    conv(k×k, a→b) has k²·a·b weights, BN(b) has 2b; per stage of widths (a→w): the first block
    has conv3(a→w) + conv3(w→w) + 2 BN(w) and, when a ≠ w, a projection conv1(a→w) + BN(w); the
    other blocks have 2 conv3(w→w) + 2 BN(w). Stem conv3(C→16) + BN(16); fc 64·K + K.
    """

    def conv(k: int, a: int, b: int) -> int:
        return k * k * a * b

    total = conv(3, channels, 16) + 2 * 16
    for a, w in ((16, 16), (16, 32), (32, 64)):
        total += conv(3, a, w) + conv(3, w, w) + 4 * w
        if a != w:
            total += conv(1, a, w) + 2 * w
        total += (blocks - 1) * (2 * conv(3, w, w) + 4 * w)
    return total + 64 * classes + classes


def test_registry_holds_every_named_model() -> None:
    assert set(MODELS) == set(NATURAL_SHAPES)


@pytest.mark.parametrize(
    ("name", "shape"),
    [(name, shape) for name, shapes in NATURAL_SHAPES.items() for shape in shapes],
)
def test_models_build_and_give_logits(name: str, shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    model = build_model(name, shape, 10)
    out = model(torch.randn(5, *shape))
    assert out.shape == (5, 10)
    assert torch.isfinite(out).all()
    assert model.training


def test_mnist_cnn_parameter_count_and_names() -> None:
    model = build_model("mnist-cnn", (1, 28, 28), 10)
    # conv1 1·16·25 + BN 32; conv2 16·32·25 + BN 64; fc1 32·7·7·64 + 64; fc2 64·10 + 10.
    expected = 400 + 32 + 12_800 + 64 + 100_352 + 64 + 640 + 10
    assert _param_count(model) == expected == 114_362
    keys = set(model.state_dict())
    assert {"features.0.weight", "features.1.running_mean", "features.4.weight"} <= keys
    assert {"classifier.1.weight", "classifier.1.bias", "classifier.3.weight"} <= keys
    assert "features.0.bias" not in keys  # convs feed batch norm: no bias of their own


def test_digits_cnn_parameter_count() -> None:
    model = build_model("digits-cnn", (1, 8, 8), 10)
    # conv1 9·16 + BN 32; conv2 16·32·9 + BN 64; fc 32·4·4·10 + 10.
    assert _param_count(model) == 144 + 32 + 4_608 + 64 + 5_120 + 10 == 9_978


@pytest.mark.parametrize(("name", "blocks"), [("resnet8", 1), ("resnet14", 2), ("resnet20", 3)])
def test_resnet_parameter_counts(name: str, blocks: int) -> None:
    model = build_model(name, (3, 32, 32), 10)
    assert _param_count(model) == _resnet_params(blocks, 3, 10)
    gray = build_model(name, (1, 28, 28), 62)
    assert _param_count(gray) == _resnet_params(blocks, 1, 62)


def test_resnet20_is_the_known_size() -> None:
    model = build_model("resnet20", (3, 32, 32), 10)
    assert _param_count(model) == 272_474  # ≈ 0.27 M, as in He et al. (plus two projections)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 19 + 2  # 6n + 1 3×3 convs and two projection shortcuts
    keys = set(model.state_dict())
    assert {"stem.0.weight", "layer1.0.conv1.weight", "layer2.0.shortcut.0.weight"} <= keys
    assert {"layer3.2.bn2.running_var", "fc.weight", "fc.bias"} <= keys
    assert "layer1.0.shortcut.0.weight" not in keys  # identity shortcut where the shape is kept


@pytest.mark.parametrize("name", sorted(NATURAL_SHAPES))
def test_initialisation_is_deterministic(name: str) -> None:
    shape = NATURAL_SHAPES[name][0]
    torch.manual_seed(123)
    first = build_model(name, shape, 10).state_dict()
    torch.manual_seed(123)
    second = build_model(name, shape, 10).state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_mnist_cnn_adapts_to_other_sizes_and_classes() -> None:
    model = build_model("mnist-cnn", (3, 32, 32), 62)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 62)
    narrow = MnistCNN((1, 28, 28), 10, widths=(8, 20), hidden=32)
    assert narrow(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_unknown_model_is_an_input_error() -> None:
    with pytest.raises(InputError) as caught:
        build_model("vgg", (1, 28, 28), 10)
    assert caught.value.field == "model.name"
    assert "unknown model 'vgg'" in caught.value.message
    assert ", ".join(sorted(MODELS)) in caught.value.message


@pytest.mark.parametrize(
    ("name", "shape", "classes", "field"),
    [
        ("mnist-cnn", (1, 2, 28), 10, "model.input_shape"),
        ("digits-cnn", (1, 1, 1), 10, "model.input_shape"),
        ("resnet8", (0, 32, 32), 10, "model.input_shape"),
        ("resnet8", (3, 32, 32), 0, "model.num_classes"),
    ],
)
def test_bad_shapes_are_input_errors(
    name: str, shape: tuple[int, int, int], classes: int, field: str
) -> None:
    with pytest.raises(InputError) as caught:
        build_model(name, shape, classes)
    assert caught.value.field == field


def test_register_model_adds_and_refuses_duplicates() -> None:
    def tiny(input_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
        channels, height, width = input_shape
        return nn.Sequential(nn.Flatten(), nn.Linear(channels * height * width, num_classes))

    MODELS.register("test-tiny", tiny)
    try:
        assert MODELS["test-tiny"] is tiny
        assert build_model("test-tiny", (1, 4, 4), 3)(torch.zeros(2, 1, 4, 4)).shape == (2, 3)
        with pytest.raises(ValueError, match="already registered"):
            MODELS.register("test-tiny", MnistCNN)
    finally:
        MODELS.unregister("test-tiny")


@pytest.mark.parametrize(
    ("global_rate", "widths", "published"),
    [
        (1.0, (64, 128, 256, 512), 1_556_874),
        (0.25, (16, 32, 64, 128), 98_922),
        (0.0625, (4, 8, 16, 32), 6_594),
    ],
)
def test_heterofl_conv_widths_and_the_published_parameter_counts(
    global_rate: float, widths: tuple[int, ...], published: int
) -> None:
    """Widths ⌈rate·C⌉ of 64..512; the parameter counts of Flower's HeteroFL README (models a, c,
    e on MNIST) less the convolution biases leantrain leaves out (BatchNorm follows each
    convolution and cancels them)."""
    model = build_model("heterofl-conv", (1, 28, 28), 10, global_rate)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert tuple(c.out_channels for c in convs) == widths
    assert all(c.bias is None for c in convs)
    assert _param_count(model) + sum(widths) == published
    # The global model's scaler divides by rate / global rate = 1: an identity.
    assert not any(isinstance(m, Scaler) for m in model.modules())
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_heterofl_conv_scaler_divides_by_the_relative_rate_only_while_training() -> None:
    torch.manual_seed(0)
    model = HeteroFLConv((1, 28, 28), 10, rate=0.0625, global_rate=0.25)
    scalers = [m for m in model.modules() if isinstance(m, Scaler)]
    assert len(scalers) == 4 and all(s.rate == 0.25 for s in scalers)
    x = torch.randn(2, 4, 3, 3)
    assert torch.equal(scalers[0](x), x / 0.25)
    model.eval()
    assert torch.equal(scalers[0](x), x)
    with pytest.raises(InputError):
        HeteroFLConv((1, 28, 28), 10, rate=0.5, global_rate=0.25)


def test_global_rate_belongs_to_heterofl_conv_only() -> None:
    with pytest.raises(InputError) as caught:
        build_model("mnist-cnn", (1, 28, 28), 10, 0.5)
    assert caught.value.field == "model.global_rate"
