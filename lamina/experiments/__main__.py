"""``python -m lamina.experiments NAME [--quick] [--out DIR]`` or ``--list``."""

from __future__ import annotations

import argparse
import json

from lamina.experiments import available, load


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lamina.experiments",
                                     description="Reproduce a claim of the decks.")
    parser.add_argument("name", nargs="?", help="experiment to run")
    parser.add_argument("--list", action="store_true", help="list the experiments")
    parser.add_argument("--quick", action="store_true", help="tiny version (seconds)")
    parser.add_argument("--out", default=None, help="output directory (default runs/NAME)")
    args = parser.parse_args(argv)
    if args.list or not args.name:
        for name in available():
            doc = (load(name).__doc__ or "").strip().splitlines()
            print(f"{name:24s} {doc[0] if doc else ''}")
        return 0
    results = load(args.name).run(quick=args.quick, out_dir=args.out)
    print(json.dumps(results, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
