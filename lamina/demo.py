"""The main job: train LeNet-5 on Fashion-MNIST on the CPU and report test accuracy.

Run ``python -m lamina.demo`` (or ``make demo`` / ``lamina demo``). It prints
``test accuracy: 0.9xxx`` and writes, under ``--out`` (default ``runs/demo``), the training
curves (``curves.png``), the first-layer filters (``filters.png``) and the trained model
(``lenet5.lamina``).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

import lamina as lm

__all__ = ["main", "run"]


def run(epochs: int = 12, batch_size: int = 128, lr: float = 2e-3, out_dir: str = "runs/demo",
        data_path: str | None = None, seed: int = 0, verbose: int = 1) -> dict:
    """Train LeNet-5 on Fashion-MNIST; return test accuracy, loss, seconds and file paths.

    Example:
        >>> run(epochs=1)  # doctest: +SKIP
        {'test_accuracy': 0.86..., ...}
    """
    torch.manual_seed(seed)
    (x_train, y_train), (x_test, y_test) = lm.datasets.fashion_mnist.load_data(path=data_path)
    x, x_t = x_train[:, None] / 255.0, x_test[:, None] / 255.0
    model = lm.zoo.LeNet5(num_classes=10, input_shape=(1, 28, 28))
    if verbose:
        model.summary()
    model.compile(optimizer=lm.optimizers.Adam(lr=lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], device="cpu")
    start = time.perf_counter()
    decay = lm.callbacks.LearningRateScheduler(lm.schedules.CosineDecay(lr, epochs))
    history = model.fit(x, y_train, batch_size=batch_size, epochs=epochs,
                        validation_split=0.1, verbose=verbose, callbacks=[decay])
    seconds = time.perf_counter() - start
    scores = model.evaluate(x_t, y_test)
    os.makedirs(out_dir, exist_ok=True)
    paths = {"curves": os.path.join(out_dir, "curves.png"),
             "filters": os.path.join(out_dir, "filters.png"),
             "model": os.path.join(out_dir, "lenet5.lamina")}
    history.plot().savefig(paths["curves"], dpi=120)
    lm.viz.plot_filters(model.layers[0].weight, title="LeNet-5 conv1 filters").savefig(
        paths["filters"], dpi=120)
    model.save(paths["model"])
    return {"test_accuracy": scores["accuracy"], "test_loss": scores["loss"],
            "train_seconds": seconds, **paths}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="lamina demo", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--out", default="runs/demo")
    parser.add_argument("--data", default=None, help="directory with the Fashion-MNIST files")
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)
    print(f"lamina {lm.__version__}, torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads")
    result = run(args.epochs, args.batch_size, args.lr, args.out, args.data, verbose=args.verbose)
    print(f"trained in {result['train_seconds']:.0f} s")
    print(f"test accuracy: {result['test_accuracy']:.4f}")
    print(f"wrote {result['curves']}, {result['filters']}, {result['model']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
