"""Channel groups found by tracing: sequential, residual, user-defined and unsupported models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from leantrain.nn import build_model
from leantrain.nn.groups import UnsupportedModelError, channel_groups, keep_count


class UserNet(nn.Module):
    """A user's own sequential CNN with a hidden linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1),
            nn.BatchNorm2d(6),
            nn.ReLU(),
            nn.Conv2d(6, 8, 3, padding=1, bias=True),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(8 * 4 * 4, 12),
            nn.ReLU(),
            nn.Linear(12, 5),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out


class UserResidual(nn.Module):
    """A user's own residual net: one block whose inner conv is droppable."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.inner = nn.Conv2d(4, 6, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(6)
        self.outer = nn.Conv2d(6, 4, 3, padding=1, bias=False)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stream = self.stem(x)
        stream = stream + self.outer(torch.relu(self.bn(self.inner(stream))))
        out: torch.Tensor = self.head(stream.mean(dim=(2, 3)))
        return out


def test_sequential_cnn_has_one_group_per_conv() -> None:
    groups = channel_groups(build_model("mnist-cnn", (1, 28, 28), 10), (1, 28, 28))
    assert groups.names == ("features.0", "features.4")
    assert groups.channels == (16, 32)
    second = {(s.key, s.dim, s.block, s.reads) for s in groups.groups[1].slices}
    # The flatten in front of the classifier gives each channel a 7×7 block of input features.
    assert ("classifier.1.weight", 1, 49, True) in second
    assert ("features.5.running_var", 0, 1, False) in second
    assert ("features.4.weight", 0, 1, False) in second


def test_resnet_drops_only_block_internal_convs() -> None:
    groups = channel_groups(build_model("resnet8", (3, 16, 16), 10), (3, 16, 16))
    assert groups.names == ("layer1.0.conv1", "layer2.0.conv1", "layer3.0.conv1")
    assert all("residual" in why for _, why in groups.skipped)
    assert "stem.0" in {name for name, _ in groups.skipped}
    keys = {s.key for g in groups.groups for s in g.slices}
    assert "layer1.0.conv2.weight" in keys and "fc.weight" not in keys


def test_user_models_sequential_and_residual() -> None:
    sequential = channel_groups(UserNet(), (3, 8, 8))
    assert sequential.names == ("body.0", "body.3")
    assert ("body.3.bias", 0, 1, False) in {
        (s.key, s.dim, s.block, s.reads) for s in sequential.groups[1].slices
    }
    residual = channel_groups(UserResidual(), (1, 6, 6))
    assert residual.names == ("inner",)
    assert residual.skipped[0][0] == "stem"


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (nn.LayerNorm([4, 6, 6]), "LayerNorm"),
        (nn.Conv2d(4, 4, 3, padding=1, groups=2), "grouped or depthwise"),
    ],
)
def test_unsupported_layers_are_named(layer: nn.Module, message: str) -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), layer, nn.Flatten(), nn.Linear(144, 2))
    with pytest.raises(UnsupportedModelError, match=message) as error:
        channel_groups(model, (1, 6, 6))
    assert "'1'" in str(error.value)


def test_keep_count_rounds_and_keeps_one() -> None:
    assert keep_count(16, 0.0) == 16
    assert keep_count(16, 0.5) == 8
    assert keep_count(32, 0.875) == 4
    assert keep_count(3, 0.875) == 1
    groups = channel_groups(build_model("digits-cnn", (1, 8, 8), 10), (1, 8, 8))
    assert groups.keep_counts([0.25, 0.75]) == (12, 8)
    with pytest.raises(ValueError, match="entries"):
        groups.keep_counts([0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        groups.keep_counts([0.5, 1.0])
