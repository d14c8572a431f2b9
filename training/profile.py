"""A trained model's training profile: the reference its drift is measured against (sentinel.core.drift).

Each column the model takes is profiled on the rows it was trained on. Its risk score
is profiled on the held-out test split instead: on its own training rows a model
scores more confidently than on rows it has never seen, and live traffic is rows it
has never seen.
"""

from __future__ import annotations

from sentinel.core.drift import RISK_SCORE, Profile, reference_of
from training.dataset import Dataset
from training.train import Split, TrainedModel, predict


def training_profile(trained: TrainedModel, dataset: Dataset, split: Split) -> Profile:
    """The deciles of every feature on the train split, and of the risk score on the test split."""
    features = dataset.features[split.train]
    columns = {name: reference_of(features[:, index]) for index, name in enumerate(trained.feature_names)}
    columns[RISK_SCORE] = reference_of(predict(trained.booster, dataset.features[split.test]))
    return Profile(columns=columns, rows=len(split.train))
