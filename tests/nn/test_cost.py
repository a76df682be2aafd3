"""Tests for leantrain.nn.cost: closed-form FLOPs against FlopCounterMode, bytes, memory."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from leantrain.nn import MODELS, MnistCNN, build_model, model_cost

NATURAL_SHAPE: dict[str, tuple[int, int, int]] = {
    "mnist-cnn": (1, 28, 28),
    "mnist-cnn-wide": (1, 28, 28),
    "digits-cnn": (1, 8, 8),
    "heterofl-conv": (1, 28, 28),
    "resnet8": (3, 32, 32),
    "resnet14": (3, 32, 32),
    "resnet20": (3, 32, 32),
}
BATCH = 4


def _counted_step_flops(model: nn.Module, shape: tuple[int, int, int], classes: int = 10) -> int:
    """FLOPs ``FlopCounterMode`` counts for one training step (forward + backward) of BATCH."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(BATCH, *shape, generator=generator)
    targets = torch.randint(0, classes, (BATCH,), generator=generator)
    model.train()
    with FlopCounterMode(display=False) as counter:
        loss = nn.functional.cross_entropy(model(inputs), targets)
        torch.autograd.backward(loss)
    return int(counter.get_total_flops())


def _assert_matches_counter(model: nn.Module, shape: tuple[int, int, int]) -> None:
    cost = model_cost(model, shape)
    counted = _counted_step_flops(model, shape)
    assert counted > 0
    assert cost.train_flops_per_sample * BATCH == pytest.approx(counted, rel=1e-9)


def test_every_registered_model_is_covered() -> None:
    assert set(NATURAL_SHAPE) == set(MODELS)


@pytest.mark.parametrize("name", sorted(NATURAL_SHAPE))
def test_closed_form_equals_flop_counter(name: str) -> None:
    torch.manual_seed(0)
    shape = NATURAL_SHAPE[name]
    _assert_matches_counter(build_model(name, shape, 10), shape)


def test_closed_form_equals_flop_counter_for_resnet_on_gray_images() -> None:
    torch.manual_seed(0)
    _assert_matches_counter(build_model("resnet8", (1, 28, 28), 10), (1, 28, 28))


def _sliced_mnist_cnn(full: MnistCNN, keep1: int, keep2: int) -> MnistCNN:
    """A physically narrower copy of ``full``: the first channels of each conv, dense."""
    state = full.state_dict()
    columns = (torch.arange(keep2)[:, None] * 49 + torch.arange(49)).flatten()
    sliced = {key: value.clone() for key, value in state.items()}
    sliced["features.0.weight"] = state["features.0.weight"][:keep1]
    sliced["features.4.weight"] = state["features.4.weight"][:keep2, :keep1]
    for prefix, keep in (("features.1.", keep1), ("features.5.", keep2)):
        for field in ("weight", "bias", "running_mean", "running_var"):
            sliced[prefix + field] = state[prefix + field][:keep]
    sliced["classifier.1.weight"] = state["classifier.1.weight"][:, columns]
    small = MnistCNN((1, 28, 28), 10, widths=(keep1, keep2))
    small.load_state_dict(sliced)
    return small


def test_closed_form_equals_flop_counter_for_sliced_subnetwork() -> None:
    torch.manual_seed(0)
    full = MnistCNN((1, 28, 28), 10)
    small = _sliced_mnist_cnn(full, 8, 20)
    _assert_matches_counter(small, (1, 28, 28))
    full_cost = model_cost(full, (1, 28, 28)).train_flops_per_sample
    small_cost = model_cost(small, (1, 28, 28))
    # conv1 halves, conv2 keeps 8·20 of 16·32 weights, fc1 keeps 20 of 32 input maps.
    by_name = {layer.name: layer for layer in small_cost.layers}
    assert by_name["features.0"].forward_flops == 2 * 8 * 28 * 28 * 1 * 25
    assert by_name["features.4"].forward_flops == 2 * 20 * 14 * 14 * 8 * 25
    assert by_name["classifier.1"].forward_flops == 2 * 20 * 7 * 7 * 64
    assert small_cost.train_flops_per_sample < full_cost


def test_hand_computed_mnist_cnn_flops() -> None:
    cost = model_cost(build_model("mnist-cnn", (1, 28, 28), 10), (1, 28, 28))
    layers = {layer.name: layer for layer in cost.layers}
    assert [layer.name for layer in cost.layers] == [
        "features.0",
        "features.4",
        "classifier.1",
        "classifier.3",
    ]
    assert [layer.kind for layer in cost.layers] == ["conv", "conv", "linear", "linear"]

    conv1 = layers["features.0"]
    assert conv1.forward_flops == 2 * 16 * 28 * 28 * 1 * 5 * 5 == 627_200
    assert conv1.backward_flops == conv1.forward_flops  # grad-weight only: fed by the input
    assert conv1.output_elements == 16 * 28 * 28
    assert conv1.param_bytes == 16 * 25 * 4

    conv2 = layers["features.4"]
    assert conv2.forward_flops == 2 * 32 * 14 * 14 * 16 * 5 * 5 == 5_017_600
    assert conv2.backward_flops == 2 * conv2.forward_flops

    fc1, fc2 = layers["classifier.1"], layers["classifier.3"]
    assert fc1.forward_flops == 2 * (32 * 7 * 7) * 64 == 200_704
    assert fc1.backward_flops == 2 * fc1.forward_flops
    assert fc1.param_bytes == (32 * 7 * 7 * 64 + 64) * 4
    assert fc2.forward_flops == 2 * 64 * 10 == 1_280
    assert fc2.output_elements == 10

    assert cost.forward_flops_per_sample == 627_200 + 5_017_600 + 200_704 + 1_280
    assert cost.train_flops_per_sample == 2 * 627_200 + 3 * (5_017_600 + 200_704 + 1_280)


class _Quirky(nn.Module):
    """Pooling of the input before the first conv, a grouped conv, a transposed conv, a linear
    layer used twice, and a linear layer fed by a view of the input."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.conv = nn.Conv2d(2, 8, 3, padding=1)
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=4, bias=False)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.shared = nn.Linear(4 * 8 * 8, 4 * 8 * 8)
        self.direct = nn.Linear(2 * 8 * 8, 10)
        self.head = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.grouped(torch.relu(self.conv(self.pool(x)))))
        h = nn.functional.avg_pool2d(self.up(h), 2).flatten(1)
        h = self.shared(torch.relu(self.shared(h)))
        out: torch.Tensor = self.head(h) + self.direct(x.flatten(1)[:, : 2 * 8 * 8])
        return out


def test_closed_form_equals_flop_counter_for_unusual_layers() -> None:
    torch.manual_seed(0)
    model = _Quirky()
    _assert_matches_counter(model, (2, 16, 16))
    layers = {layer.name: layer for layer in model_cost(model, (2, 16, 16)).layers}
    assert layers["conv"].backward_flops == layers["conv"].forward_flops  # input pooled, no grad
    assert layers["direct"].backward_flops == layers["direct"].forward_flops
    assert layers["shared"].forward_flops == 2 * 2 * 256 * 256  # two calls
    assert layers["grouped"].forward_flops == 2 * 8 * 8 * 8 * 2 * 9
    assert layers["grouped"].backward_flops == layers["grouped"].forward_flops * (1 + 4)


def test_model_cost_leaves_the_model_alone() -> None:
    torch.manual_seed(0)
    model = build_model("resnet8", (3, 32, 32), 10)
    model(torch.randn(8, 3, 32, 32))  # move the running statistics away from their defaults
    frozen = model.get_submodule("layer1.0.conv1")
    assert isinstance(frozen, nn.Conv2d)
    frozen.weight.requires_grad_(False)
    before = copy.deepcopy(model.state_dict())
    model_cost(model, (3, 32, 32))
    assert model.training
    assert all(module.training for module in model.modules())
    assert not frozen.weight.requires_grad
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)

    model.eval()
    model_cost(model, (3, 32, 32))
    assert not any(module.training for module in model.modules())


def test_model_cost_works_inside_no_grad_and_counts_frozen_layers() -> None:
    model = build_model("mnist-cnn", (1, 28, 28), 10)
    expected = model_cost(model, (1, 28, 28))
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    with torch.no_grad():
        assert model_cost(model, (1, 28, 28)) == expected
    with torch.inference_mode():
        assert model_cost(model, (1, 28, 28)) == expected


@pytest.mark.parametrize("name", sorted(NATURAL_SHAPE))
def test_bytes_match_parameters_and_state_dict(name: str) -> None:
    shape = NATURAL_SHAPE[name]
    model = build_model(name, shape, 10)
    cost = model_cost(model, shape)
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    state = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    assert cost.param_bytes == params
    assert cost.state_bytes == state
    assert cost.state_bytes > cost.param_bytes  # running statistics and counters
    assert sum(layer.param_bytes for layer in cost.layers) <= cost.param_bytes


def test_bytes_follow_the_dtype() -> None:
    model = build_model("digits-cnn", (1, 8, 8), 10)
    single = model_cost(model, (1, 8, 8))
    double = model_cost(model.double(), (1, 8, 8))
    assert double.param_bytes == 2 * single.param_bytes
    assert double.activation_bytes == 2 * single.activation_bytes
    assert double.train_flops_per_sample == single.train_flops_per_sample


def test_activation_bytes_sum_leaf_outputs() -> None:
    cost = model_cost(build_model("digits-cnn", (1, 8, 8), 10), (1, 8, 8))
    # conv/BN/ReLU at 16·8·8 each, conv/BN/ReLU at 32·8·8 each, pool 32·4·4, flatten, linear 10.
    elements = 3 * 16 * 64 + 3 * 32 * 64 + 2 * 32 * 16 + 10
    assert cost.activation_bytes == 4 * elements


def test_training_memory_grows_linearly_with_batch() -> None:
    cost = model_cost(build_model("mnist-cnn", (1, 28, 28), 10), (1, 28, 28))
    buffers = cost.state_bytes - cost.param_bytes
    base = cost.training_memory_bytes(1) - cost.activation_bytes
    assert base == 3 * cost.param_bytes + buffers
    sizes = [cost.training_memory_bytes(batch) for batch in (1, 2, 8, 32)]
    for batch, size in zip((1, 2, 8, 32), sizes, strict=True):
        assert size == base + batch * cost.activation_bytes
    assert cost.training_memory_bytes(8, optimizer_slots=2) - sizes[2] == cost.param_bytes
    assert cost.training_memory_bytes(8, optimizer_slots=0) == sizes[2] - cost.param_bytes
    with pytest.raises(ValueError):
        cost.training_memory_bytes(0)
    with pytest.raises(ValueError):
        cost.training_memory_bytes(4, optimizer_slots=-1)


def test_bad_input_shape_is_rejected() -> None:
    with pytest.raises(ValueError):
        model_cost(build_model("mnist-cnn", (1, 28, 28), 10), (1, 28))  # type: ignore[arg-type]


def test_model_built_in_inference_mode_is_costed() -> None:
    reference = model_cost(build_model("digits-cnn", (1, 8, 8), 10), (1, 8, 8))
    with torch.inference_mode():
        model = build_model("digits-cnn", (1, 8, 8), 10)
    assert model_cost(model, (1, 8, 8)) == reference
