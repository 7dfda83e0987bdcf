"""Run by ``torchrun`` from test_ddp.py: tiny data-parallel fits whose gradients and final
weights are written to files for the test to compare with one process.

Usage: torchrun --nproc_per_node=2 ddp_worker.py OUT_DIR MODE  (MODE: grads, full, killed,
resumed)
"""

import os
import sys

import numpy as np
from safetensors.torch import save_file

import lamina as lm


def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(9, 5)).astype(np.float32), rng.integers(0, 3, 9)


def model(dropout: bool = False, batch_norm: bool = False):
    lm.set_seed(0)
    layers = [lm.layers.Dense(6, activation="tanh")]
    if dropout:
        layers.append(lm.layers.Dropout(0.3))
    if batch_norm:
        layers.append(lm.layers.BatchNorm())
    net = lm.Sequential(layers + [lm.layers.Dense(3, activation="softmax")], input_shape=(5,))
    net.compile(lm.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy",
                metrics=["accuracy"])
    return net


class Grads(lm.callbacks.Callback):
    """Every step's gradients (read after the update; the next step zeroes them)."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([p.grad.clone() for p in self.model.parameters()])


class Die(lm.callbacks.Callback):
    """Kills the process at its 5th step (epoch 2, after the checkpoint of step 4)."""

    def on_train_batch_end(self, batch, logs=None):
        self.seen = getattr(self, "seen", 0) + 1
        if self.seen == 5:
            os._exit(3)


def grads(batch_norm: bool, strategy):
    """Gradients of 2 epochs (9 samples in batches of 4, or 3 with batch norm, which a
    1-sample batch cannot train) and the epoch losses."""
    net, recorder = model(batch_norm=batch_norm), Grads()
    x, y = data()
    history = net.fit(x, y, batch_size=3 if batch_norm else 4, epochs=2, verbose=0, callbacks=[recorder],
                      strategy=strategy, sync_batchnorm=batch_norm and strategy is not None)
    return recorder.steps, history.history["loss"]


def rbm(strategy_world: int):
    """A DBN (two RBMs) pretrained on 50 binary samples in batches of 8."""
    rng = np.random.default_rng(0)
    x = (rng.random((50, 12)) < 0.3).astype(np.float32)
    dbn = lm.unsupervised.DBN([12, 6, 4], epochs=10, batch_size=8, lr=0.5, random_state=0)
    return dbn.fit(x), x


def main(out: str, mode: str) -> None:
    if mode == "rbm":
        dbn, _ = rbm(2)
        save_file({f"{i}.{k}": v.contiguous() for i, r in enumerate(dbn.rbms)
                   for k, v in (("w", r.weight), ("b", r.visible_bias), ("c", r.hidden_bias))},
                  os.path.join(out, f"rbm_{lm.distributed.rank()}.safetensors"))
        return
    if mode == "grads":
        for name, batch_norm in (("plain", False), ("bn", True)):
            steps, losses = grads(batch_norm, "ddp")
            if lm.distributed.is_main_process():
                save_file({f"{s}.{i}": g for s, step in enumerate(steps)
                           for i, g in enumerate(step)},
                          os.path.join(out, f"{name}.safetensors"))
                np.save(os.path.join(out, f"{name}_loss.npy"), np.array(losses))
        return
    net = model(dropout=True)
    x, y = data()
    net.fit(x, y, batch_size=4, epochs=3, verbose=0, checkpoint=os.path.join(out, "run"),
            checkpoint_every=2, resume=(mode == "resumed"),
            callbacks=[Die()] if mode == "killed" else [], strategy="ddp")
    if lm.distributed.is_main_process():
        save_file({k: v.contiguous() for k, v in net.state_dict().items()},
                  os.path.join(out, f"{mode}.safetensors"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
