"""Models (a name registry of plain-PyTorch CNNs and ResNets) and their training cost."""

from __future__ import annotations

from leantrain.nn.cost import LayerCost, ModelCost, model_cost
from leantrain.nn.models import (
    MODELS,
    BasicBlock,
    CifarResNet,
    DigitsCNN,
    MnistCNN,
    ModelFactory,
    build_model,
    register_model,
)

__all__ = [
    "MODELS",
    "BasicBlock",
    "CifarResNet",
    "DigitsCNN",
    "LayerCost",
    "MnistCNN",
    "ModelCost",
    "ModelFactory",
    "build_model",
    "model_cost",
    "register_model",
]
