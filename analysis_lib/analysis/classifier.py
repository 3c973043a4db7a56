"""Boosted-decision-tree classifiers trained on simulation, cached on disk.

A thin layer over scikit-learn's ``HistGradientBoostingClassifier`` (gradient-boosted trees on
binned features): features are named columns of a table (dict of arrays); signal and background
are weighted (simulation weights) and balanced so that each class carries the same total weight;
events are split in two halves by index parity, one to train and one to evaluate, so that
efficiencies and templates are never computed on the events a classifier was trained on
(:func:`training_half`). A trained classifier is stored with a key made of everything it depends on
(features, settings, the library's version and the training data), and reused while the key
matches.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import timing
from ..core.errors import EmptySelectionError

__all__ = ["Classifier", "merge_tables", "training_half", "train"]

#: Settings of the boosted trees (fixed, so that a classifier is reproducible).
DEFAULT_SETTINGS = {"max_iter": 200, "learning_rate": 0.1, "max_leaf_nodes": 31, "min_samples_leaf": 40,
                    "l2_regularization": 1.0, "early_stopping": False}


def training_half(n: int) -> np.ndarray:
    """True for the events (even indices) used to train; the odd ones evaluate."""
    return np.arange(n) % 2 == 0

def merge_tables(tables: dict, names, *, balance: bool = False, fields=None):
    """One table of the samples ``names`` (those with events) and its weights: the samples' own
    ``weight``, or with ``balance`` each sample scaled to a total weight of 1 (so that every sample
    counts the same in a training). ``fields`` (default: all of the first sample's) are concatenated.
    Returns ({}, None) when no sample has an event."""
    keep = [n for n in names if len(tables[n]["weight"])]
    if not keep:
        return {}, None
    merged = {k: np.concatenate([tables[n][k] for n in keep]) for k in (fields or tables[keep[0]])}
    weights = [tables[n]["weight"] / (tables[n]["weight"].sum() if balance else 1.0) for n in keep]
    return merged, np.concatenate(weights)



@dataclass(frozen=True)
class Classifier:
    """A trained classifier: its feature names, the model, its cache key and its separation
    (ROC area on the evaluation half)."""

    features: tuple
    model: object
    key: str
    roc_auc: float

    def matrix(self, table) -> np.ndarray:
        """The feature matrix (n, features) of a table."""
        missing = [f for f in self.features if f not in table]
        if missing:
            raise KeyError(f"the table lacks the classifier features {missing}")
        return np.column_stack([np.asarray(table[f], dtype=float) for f in self.features])

    def score(self, table) -> np.ndarray:
        """Signal probability of every row of ``table`` (0 to 1)."""
        x = self.matrix(table)
        if not len(x):
            return np.zeros(0)
        return self.model.predict_proba(x)[:, 1]


def _key(features, settings, x, y, w):
    import sklearn

    digest = hashlib.sha256()
    digest.update(json.dumps([list(features), settings, sklearn.__version__], sort_keys=True).encode())
    for array in (x, y, w):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:20]


def train(signal, background, *, features, signal_weights=None, background_weights=None, signal_train=None,
          background_train=None, cache: Path | None = None, seed: int = 0, settings: dict | None = None) -> Classifier:
    """Train signal against background on their training halves (:func:`training_half` of each
    table, or the given masks).

    Parameters
    ----------
    signal, background : dict of arrays
        Tables with at least the ``features`` columns.
    features : sequence of str
    signal_weights, background_weights : array, optional
        Simulation weights (1 when None); each class is rescaled to the same total.
    signal_train, background_train : boolean array, optional
        The events to train on; None: :func:`training_half` of the table. A table merged from
        several samples passes the concatenation of each sample's own halves, so that every sample
        knows which of its events the classifier saw.
    cache : Path, optional
        File to store the trained classifier in and reuse it from while its key matches.
    seed : int
        Random state of the trees.
    settings : dict, optional
        Overrides of :data:`DEFAULT_SETTINGS`.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    settings = {**DEFAULT_SETTINGS, **(settings or {})}
    features = tuple(features)
    parts = []
    for label, table, weights, mask in ((1, signal, signal_weights, signal_train),
                                        (0, background, background_weights, background_train)):
        x = np.column_stack([np.asarray(table[f], dtype=float) for f in features]) if len(features) else None
        n = len(x)
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
        half = training_half(n) if mask is None else np.asarray(mask, dtype=bool)
        if half.shape != (n,):
            raise ValueError(f"training mask has shape {half.shape}, but ({n},) is required")
        parts.append((x[half], np.full(half.sum(), label), w[half], x[~half], np.full((~half).sum(), label), w[~half]))
    for (x_train, *_), name in zip(parts, ("signal", "background")):
        if len(x_train) < 10:
            raise EmptySelectionError(
                f"only {len(x_train)} {name} events to train a classifier on; simulate more events "
                "(n_signal_events, max_mc_events)"
            )
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    # each class normalised, then rounded to single precision: the key and the training are the same
    # for weights that differ only in rounding (one sample read at two luminosities)
    w = np.concatenate([p[2] / p[2].sum() for p in parts]).astype(np.float32).astype(float)
    key = _key(features, {**settings, "seed": seed}, x, y, w)
    if cache is not None and Path(cache).exists():
        try:
            with open(cache, "rb") as f:
                stored = pickle.load(f)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError):
            stored = None  # written by another version of the code, or truncated: trained again
        if isinstance(stored, Classifier) and stored.key == key:
            return stored
    model = HistGradientBoostingClassifier(random_state=seed, **settings)
    with timing.stage("classifier"):
        model.fit(x, y, sample_weight=w * len(w))
    x_eval = np.concatenate([p[3] for p in parts])
    y_eval = np.concatenate([p[4] for p in parts])
    w_eval = np.concatenate([p[5] / max(p[5].sum(), 1e-300) for p in parts])
    auc = float(roc_auc_score(y_eval, model.predict_proba(x_eval)[:, 1], sample_weight=w_eval))
    trained = Classifier(features=features, model=model, key=key, roc_auc=auc)
    if cache is not None:
        cache = Path(cache)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(trained, f)
        os.replace(tmp, cache)
    return trained
