"""The Keras 1 API of the lecture decks' code, on lamina.

Keras 1 code runs with its import lines changed (by hand or with :func:`swap_imports`):
``from keras.models import Sequential`` becomes
``from lamina.compat.keras1 import Sequential``, and so on for every name below, all in
this one namespace. Models are lamina models (channels-first; lamina's weight layouts); see
:mod:`lamina.compat.keras1.layers`, :mod:`~lamina.compat.keras1.models` and
:mod:`~lamina.compat.keras1.optimizers` for what maps to what.

Example:
    >>> import numpy as np
    >>> from lamina.compat.keras1 import Sequential, Dense, Activation, SGD, np_utils
    >>> model = Sequential()
    >>> model.add(Dense(3, init="lecun_uniform", input_dim=4))
    >>> model.add(Activation("softmax"))
    >>> model.compile(loss="categorical_crossentropy", optimizer=SGD(lr=0.1, momentum=0.8))
    >>> y = np_utils.to_categorical([0, 1, 2, 1], 3)
    >>> _ = model.fit(np.eye(4), y, batch_size=2, nb_epoch=1, verbose=0)
    >>> model.predict_classes(np.eye(4), verbose=0).shape
    (4,)
"""

from lamina.compat.keras1 import initializers, np_utils, regularizers
from lamina.compat.keras1.layers import (
    Activation,
    AveragePooling2D,
    Conv2D,
    Convolution2D,
    Dense,
    Dropout,
    Flatten,
    Input,
    MaxPooling2D,
    Reshape,
)
from lamina.compat.keras1.models import Keras1Model, Keras1Sequential, Model, Sequential
from lamina.compat.keras1.optimizers import SGD, Adadelta, Adagrad, Adam, RMSprop
from lamina.compat.keras1.porting import swap_imports
from lamina.compat.keras1.regularizers import l1, l1l2, l2

__all__ = [
    "Sequential", "Model", "Keras1Sequential", "Keras1Model", "Input",
    "Dense", "Convolution2D", "Conv2D", "MaxPooling2D", "AveragePooling2D", "Activation",
    "Dropout", "Flatten", "Reshape",
    "SGD", "Adam", "RMSprop", "Adagrad", "Adadelta",
    "np_utils", "initializers", "regularizers", "l1", "l2", "l1l2", "swap_imports",
]
