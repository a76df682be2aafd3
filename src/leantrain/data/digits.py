"""scikit-learn's bundled 8×8 digits: 1797 samples, small enough for fast end-to-end tests."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits

from leantrain.config import DataConfig
from leantrain.data.dataset import ArrayDataset, DataSplit, channel_stats, standardise
from leantrain.data.source import DataSource
from leantrain.seeding import numpy_rng

__all__ = ["DIGITS_TEST_FRACTION", "DigitsSource"]

DIGITS_TEST_FRACTION = 0.2


class DigitsSource(DataSource):
    """1×8×8 digits scaled to [0, 1] by /16, then standardised with the training set's mean and
    standard deviation.

    The train/test split is fixed (a permutation from seed 0, last 20% held out), independent
    of the run's seed, so accuracies from different seeds are measured on the same test set.
    """

    name = "digits"

    def load(self, config: DataConfig) -> DataSplit:
        """Load and split the digits; ``config`` is not consulted beyond selecting the source."""
        bunch = load_digits()
        images = (np.asarray(bunch.data, dtype=np.float32) / np.float32(16.0)).reshape(-1, 1, 8, 8)
        labels = np.asarray(bunch.target, dtype=np.int64)
        order = numpy_rng(0, "digits-split").permutation(len(labels))
        num_test = int(len(labels) * DIGITS_TEST_FRACTION)
        # Sorting keeps sklearn's sample order within each part, independent of the permutation.
        train_index = np.sort(order[: len(labels) - num_test])
        test_index = np.sort(order[len(labels) - num_test :])
        mean, std = channel_stats(images[train_index])
        return DataSplit(
            train=_dataset(standardise(images[train_index], mean, std), labels[train_index]),
            test=_dataset(standardise(images[test_index], mean, std), labels[test_index]),
            name=self.name,
        )


def _dataset(x: torch.Tensor, labels: np.ndarray) -> ArrayDataset:
    return ArrayDataset(x, torch.from_numpy(labels), num_classes=10)
