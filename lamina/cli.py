"""The ``lamina`` command.

``lamina demo``; ``lamina summary MODEL_FILE``; ``lamina predict MODEL_FILE INPUT.npy [--out
OUT.npy]``; ``lamina experiments list``; ``lamina experiments run NAME [--quick] [--out DIR]``;
``lamina reproduce [--quick] [--out DIR] [--from-docs [DIR]] [NAMES...]``; ``lamina --version``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

import lamina
from lamina._io import atomic_open
from lamina.errors import message
from lamina.experiments import available, load
from lamina.experiments.claims import claims_for
from lamina.experiments.reproduce import estimate, from_reports, reproduce, write_index

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``lamina`` command (every subcommand).

    Example:
        >>> build_parser().parse_args(["experiments", "run", "reber", "--quick"]).quick
        True
    """
    parser = argparse.ArgumentParser(prog="lamina", description="lamina command line")
    parser.add_argument("--version", action="version", version=f"lamina {lamina.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="train LeNet-5 on Fashion-MNIST (lamina demo --help)",
                   add_help=False)
    summary = sub.add_parser("summary", help="print the summary of a saved model")
    summary.add_argument("path", help="a file written by model.save")
    predict = sub.add_parser("predict", help="run a saved model on a .npy array")
    predict.add_argument("model", help="a file written by model.save")
    predict.add_argument("input", help="a .npy file holding a batch of inputs")
    predict.add_argument("--out", default=None,
                         help="write the predictions to this .npy file (default: print them)")
    predict.add_argument("--batch-size", type=int, default=256)
    experiments = sub.add_parser("experiments", help="list or run the decks' experiments")
    exp = experiments.add_subparsers(dest="action", required=True)
    exp.add_parser("list", help="the experiments, their claims and their expected time")
    run = exp.add_parser("run", help="run one experiment, print its numbers")
    run.add_argument("name")
    run.add_argument("--quick", action="store_true", help="tiny version (seconds)")
    run.add_argument("--out", default=None, help="output directory (default runs/NAME)")
    rep = sub.add_parser("reproduce", help="run the experiments, write runs/index.html judging "
                         "every claim of the decks")
    rep.add_argument("names", nargs="*", metavar="NAME", help="experiments (default: all)")
    rep.add_argument("--quick", action="store_true", help="every experiment's tiny version")
    rep.add_argument("--out", default=None,
                     help="output directory (default runs, or $LAMINA_RUNS; with --from-docs, "
                          "the reports' directory)")
    rep.add_argument("--resume", action="store_true",
                     help="keep the experiments an earlier run into the same --out finished, "
                          "run the rest")
    rep.add_argument("--from-docs", nargs="?", const="docs/experiments", default=None,
                     metavar="DIR", help="run nothing: build the index from the reports in DIR "
                                         "(default docs/experiments)")
    return parser


def _predict(args) -> int:
    model = lamina.load_model(args.model)
    try:
        x = np.load(args.input, allow_pickle=False)
    except ValueError as e:
        raise SystemExit(message(f"Cannot read {args.input!r} as an array.",
                                 expected="a .npy file of numbers (np.save(path, array))",
                                 received=str(e),
                                 fix="save the inputs with np.save; object arrays are refused")) from None
    if not isinstance(x, np.ndarray):
        raise SystemExit(message(f"{args.input!r} is not a single array.",
                                 expected="a .npy file (np.save)", received=type(x).__name__,
                                 fix="save one array with np.save, not np.savez"))
    predictions = model.predict(x, batch_size=args.batch_size)
    if args.out is None:
        np.set_printoptions(threshold=1000)
        print(predictions)
        return 0
    with atomic_open(args.out, "wb") as f:
        np.save(f, np.asarray(predictions), allow_pickle=False)
    print(f"wrote {args.out}: predictions of shape {tuple(np.shape(predictions))}")
    return 0


def _experiments(args) -> int:
    if args.action == "list":
        print(f"{'experiment':22s} {'claims':>6s} {'full':>8s} {'quick':>7s}  description")
        for name in available():
            doc = (load(name).__doc__ or "").strip().splitlines()
            full, quick = (estimate(name, q)[0] for q in (False, True))
            print(f"{name:22s} {len(claims_for(name)):6d} {_short(full):>8s} {_short(quick):>7s}"
                  f"  {doc[0] if doc else ''}")
        return 0
    if args.name not in available():
        raise SystemExit(message(f"Unknown experiment {args.name!r}.",
                                 expected=", ".join(available()), received=args.name,
                                 fix="see `lamina experiments list`"))
    results = load(args.name).run(quick=args.quick, out_dir=args.out)
    print(json.dumps(results, indent=2, default=float))
    return 0


def _short(seconds) -> str:
    if seconds is None:
        return "?"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _reproduce(args) -> int:
    if args.from_docs is not None:
        out = args.out or args.from_docs
        outcomes = from_reports(args.from_docs, args.names or None)
        page = write_index(outcomes, out, mode=f"from the reports in {args.from_docs} "
                           "(their latest full runs; nothing was rerun)")
        print(f"wrote {page} and {os.path.join(out, 'index.md')}")
        return 0
    out = args.out or os.environ.get("LAMINA_RUNS", "runs")
    outcomes, page = reproduce(args.names or None, quick=args.quick, out_dir=out,
                               resume=args.resume)
    failed = [o.name for o in outcomes if o.status == "failed"]
    print(f"wrote {page} and {os.path.join(out, 'index.md')}"
          + (f"; failed: {', '.join(failed)} (see {out}/<name>/error.txt)" if failed else ""))
    return 1 if failed else 0


def main(argv=None) -> int:
    """Entry point of the ``lamina`` command; returns the exit status.

    Example:
        >>> main(["--version"])  # doctest: +SKIP
        lamina 0.1.0
    """
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "demo":
        from lamina.demo import main as demo_main

        return demo_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "summary":
        lamina.load_model(args.path).summary()
        return 0
    if args.command == "predict":
        return _predict(args)
    if args.command == "experiments":
        return _experiments(args)
    return _reproduce(args)


if __name__ == "__main__":
    sys.exit(main())
