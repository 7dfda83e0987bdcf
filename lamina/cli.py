"""The ``lamina`` command: ``lamina demo``, ``lamina summary MODEL_FILE``, ``lamina --version``."""

from __future__ import annotations

import argparse

import lamina

__all__ = ["main"]


def main(argv=None) -> int:
    """Entry point of the ``lamina`` command.

    Example:
        >>> main(["--version"])  # doctest: +SKIP
        lamina 0.1.0
    """
    parser = argparse.ArgumentParser(prog="lamina", description="lamina command line")
    parser.add_argument("--version", action="version", version=f"lamina {lamina.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="train LeNet-5 on Fashion-MNIST", add_help=False)
    summary = sub.add_parser("summary", help="print the summary of a saved model")
    summary.add_argument("path")
    args, rest = parser.parse_known_args(argv)
    if args.command == "demo":
        from lamina.demo import main as demo_main

        return demo_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    lamina.load_model(args.path).summary()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
