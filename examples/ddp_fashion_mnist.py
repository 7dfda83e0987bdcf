"""LeNet-5 on Fashion-MNIST, the same script on one process or several (issue 24).

One process::

    python examples/ddp_fashion_mnist.py

Two processes on this machine (gloo on CPUs, NCCL on GPUs), the script unchanged::

    torchrun --nproc_per_node=2 examples/ddp_fashion_mnist.py

``fit``'s default ``strategy="auto"`` trains data-parallel whenever the script was launched
as several processes; ``batch_size`` is the global batch (each of N processes computes
``batch_size / N`` samples of every step), so both runs take the same steps on the same
batches. Rank 0 prints the progress and the result line.
"""

import argparse
import platform
import time

import numpy as np
import torch

import lamina as lm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128, help="the global batch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    (x, y), (x_test, y_test) = lm.datasets.fashion_mnist.load_data()
    x = (x.astype(np.float32) / 255.0)[:, None]
    x_test = (x_test.astype(np.float32) / 255.0)[:, None]

    lm.set_seed(args.seed)
    model = lm.zoo.LeNet5()
    model.compile(lm.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=2)
    seconds = time.perf_counter() - start
    test = model.evaluate(x_test, y_test)  # each process evaluates its part, then summed
    if lm.distributed.is_main_process():
        print(f"processes={lm.distributed.world_size()} global_batch={args.batch_size} "
              f"epochs={args.epochs} test_accuracy={test['accuracy']:.4f} "
              f"fit_seconds={seconds:.1f} torch={torch.__version__} "
              f"python={platform.python_version()} threads={torch.get_num_threads()}")


if __name__ == "__main__":
    main()
