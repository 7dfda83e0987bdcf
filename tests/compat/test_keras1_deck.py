"""The decks' Keras 1 example runs on lamina with only its import lines changed.

The example ("Example of convNet code in Keras", decks 000/001 in ``../shared/seeds``) is read
from the deck text at test time; nothing of it is copied here. What the test does to it:

1. It cuts the code from ``model = Sequential()`` to the ``model.evaluate(...)`` line.
2. The slide shows no import lines, so the test writes the Keras 1 imports the code needs
   (``from keras.models import Sequential``, ``from keras.layers.convolutional import
   Convolution2D, MaxPooling2D``, ``from keras.layers.core import Activation, Dropout,
   Flatten, Dense``, ``from keras.optimizers import SGD``) above it and swaps them with
   :func:`lamina.compat.keras1.swap_imports`. That is the only change to the code.
3. The slide also leaves its data and hyper-parameters to earlier cells. The test runs the
   code in a namespace that holds them: ``X_train``/``X_test`` are Fashion-MNIST images
   ``(N, 1, 28, 28)`` (the first :data:`TRAIN_IMAGES` training images, to keep the test
   near 20 s of CPU, and the whole test set), float32 in [0, 1] (the deck's channels-first
   ``input_shape=(depth, height, width)``), ``Y_train``/``Y_test`` their one-hot labels
   (``np_utils.to_categorical``), and the settings in :data:`SETTINGS`. The deck's own
   settings are kept: ``batch_size=32``, ``nb_epoch=2``, ``SGD(momentum=0.8)``,
   ``init='lecun_uniform'``, sigmoid hidden layer, ``validation_split``.

Then the trained model's ``predict_classes`` must reach >= 0.75 accuracy on the test set.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from lamina.compat.keras1 import np_utils, swap_imports
from lamina.datasets import DatasetNotFoundError, fashion_mnist

#: Training images used (of 60,000); the full set reached 0.816 in 2 epochs.
TRAIN_IMAGES = 30_000

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"

#: Keras 1's import lines for the names the example uses (the slide omits them).
KERAS1_IMPORTS = """\
from keras.models import Sequential
from keras.layers.convolutional import Convolution2D, MaxPooling2D
from keras.layers.core import Activation, Dropout, Flatten, Dense
from keras.optimizers import SGD
"""

#: The names the slide uses but defines elsewhere: Fashion-MNIST's shape and classes, and
#: the values of the Keras tutorial the slide comes from (32 3x3 filters, 2x2 pooling,
#: dropout 0.25) with a 128-unit hidden layer, SGD's Keras default rate and 10% held out.
SETTINGS = {"depth": 1, "height": 28, "width": 28, "num_classes": 10, "conv_depth_1": 32,
            "kernel_size": 3, "pooling_size": 2, "drop_prob": 0.25, "hidden_size1": 128,
            "learning_rate": 0.01, "valid_proportion": 0.1}


def deck_examples() -> dict[str, str]:
    """Deck file name -> the example's code, for every deck that shows it."""
    found = {}
    for path in sorted(SEEDS.glob("*.txt")) if SEEDS.is_dir() else []:
        text = path.read_text(encoding="utf-8", errors="replace")
        if "Convolution2D(" not in text or "model = Sequential()" not in text:
            continue
        start = text.index("model = Sequential()")
        last = text.index("model.evaluate(", start)
        found[path.name] = text[start:text.index("\n", last)]
    return found


EXAMPLES = deck_examples()
needs_decks = pytest.mark.skipif(not EXAMPLES, reason=f"the deck texts are not in {SEEDS}")


def ported(code: str) -> str:
    """The example with Keras 1's import lines added, then swapped to lamina's."""
    return swap_imports(KERAS1_IMPORTS + code)


@needs_decks
def test_the_decks_show_one_example_and_only_its_imports_change():
    trees = {name: ast.dump(ast.parse(code)) for name, code in EXAMPLES.items()}
    assert len(set(trees.values())) == 1, "the decks' copies of the example differ"
    code = next(iter(EXAMPLES.values()))
    new = ported(code)
    assert new.endswith(code)  # the example itself is untouched
    header = new[:-len(code)].splitlines()
    assert header and all(line.startswith("from lamina.compat.keras1 import ") for line in header)
    assert "Convolution2D(conv_depth_1, kernel_size, kernel_size" in code
    assert "nb_epoch=" in code and "border_mode='valid'" in code


@pytest.mark.slow
@needs_decks
def test_the_decks_keras1_example_trains_on_fashion_mnist():
    try:
        (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(verbose=False)
    except DatasetNotFoundError as err:  # no local copy and no network
        pytest.skip(f"Fashion-MNIST is not available: {err}")
    namespace = dict(SETTINGS)
    namespace.update(
        X_train=(x_train[:TRAIN_IMAGES, None] / 255.0).astype(np.float32),
        Y_train=np_utils.to_categorical(y_train[:TRAIN_IMAGES], 10),
        X_test=(x_test[:, None] / 255.0).astype(np.float32),
        Y_test=np_utils.to_categorical(y_test, 10))
    code = ported(next(iter(EXAMPLES.values())))
    exec(compile(code, "deck_keras1_example", "exec"), namespace)  # noqa: S102

    model = namespace["model"]
    assert model.history.history["loss"][-1] < model.history.history["loss"][0]
    accuracy = float(np.mean(model.predict_classes(namespace["X_test"], verbose=0) == y_test))
    print(f"deck Keras 1 example, Fashion-MNIST test accuracy: {accuracy:.4f}")
    assert accuracy >= 0.75
