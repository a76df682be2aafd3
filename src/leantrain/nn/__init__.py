"""Models (found by name through :data:`MODELS`) and their training cost; imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leantrain.lazy import lazy_exports

if TYPE_CHECKING:
    from leantrain.nn.cost import LayerCost, ModelCost, model_cost
    from leantrain.nn.models import (
        BasicBlock,
        CifarResNet,
        DigitsCNN,
        MnistCNN,
        ModelFactory,
        build_model,
    )
    from leantrain.registry import MODELS

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
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "leantrain.registry": ["MODELS"],
        "cost": ["LayerCost", "ModelCost", "model_cost"],
        "models": [
            "BasicBlock",
            "CifarResNet",
            "DigitsCNN",
            "MnistCNN",
            "ModelFactory",
            "build_model",
        ],
    },
)
