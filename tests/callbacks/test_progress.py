"""Progress output: a live bar only on a terminal, one line per epoch otherwise."""

import io

import numpy as np

import lamina as lm
from lamina.callbacks import ProgressBar
from lamina.callbacks.progress import format_logs


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def tiny_model():
    model = lm.Sequential([lm.layers.Dense(2, activation="softmax")], input_shape=(3,))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_non_terminal_output_gets_one_line_per_epoch_not_a_flood():
    """Regression for the peers' progress bars that flood log files (Lightning #8975)."""
    out = io.StringIO()
    x, y = np.random.rand(200, 3), np.random.randint(0, 2, 200)
    tiny_model().fit(x, y, batch_size=4, epochs=3, verbose=0,
                     callbacks=[ProgressBar(verbose=1, file=out)])
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"Epoch {i + 1}/3") for i, line in enumerate(lines))
    assert "loss:" in lines[0] and "accuracy:" in lines[0] and "\r" not in out.getvalue()


def test_terminal_gets_a_live_bar_with_metrics():
    out = FakeTTY()
    x, y = np.random.rand(64, 3), np.random.randint(0, 2, 64)
    tiny_model().fit(x, y, batch_size=8, epochs=2, verbose=0,
                     callbacks=[ProgressBar(verbose=1, file=out, interval=0.0)])
    text = out.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    assert "8/8" in text and "accuracy:" in text


def test_verbose_two_is_one_line_even_on_a_terminal():
    out = FakeTTY()
    x, y = np.random.rand(32, 3), np.random.randint(0, 2, 32)
    tiny_model().fit(x, y, batch_size=8, epochs=2, verbose=0,
                     callbacks=[ProgressBar(verbose=2, file=out)])
    assert len(out.getvalue().splitlines()) == 2


def test_format_logs_hides_bookkeeping_keys():
    assert format_logs({"loss": 1.0, "lr": 0.1, "val_loss": 2.0}) == "loss: 1.0000 - val_loss: 2.0000"
