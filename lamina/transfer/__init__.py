"""Transfer learning (decks 000-002): a net trained on one task, reused for another.

Reuse the learnt representation as features (:func:`feature_extractor`, or cut a model at a
layer: ``lm.Model(inputs=base.input, outputs=base.get_layer("flatten").output)``), freeze it
(``layer.trainable``, ``model.freeze(until=...)``), put a new head on it (a model is a layer:
``lm.Sequential([base, layers.Dense(5, activation="softmax")])``), and fine-tune with
smaller rates for the reused layers (``compile(..., lr_multipliers={"conv*": 0.1})``).

Example:
    >>> import numpy as np, lamina as lm
    >>> base = lm.zoo.LeNet5()
    >>> feats = lm.transfer.feature_extractor(base, [base.layers[-2].name])
    >>> feats.predict(np.zeros((3, 1, 28, 28)))[base.layers[-2].name].shape
    (3, 84)
"""

from lamina.transfer.features import FeatureExtractor, feature_extractor
from lamina.transfer.pretrained import load_pretrained

__all__ = ["FeatureExtractor", "feature_extractor", "load_pretrained"]
