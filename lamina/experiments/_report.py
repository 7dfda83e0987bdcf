"""What every experiment writes: ``runs/<name>/report.md`` with its numbers beside the
published ones, the settings, the machine and the time taken; plus its PNG figures."""

from __future__ import annotations

import json
import os
import platform
import time
from contextlib import contextmanager

import numpy as np
import torch

import lamina
from lamina._io import atomic_open

__all__ = ["Report", "machine_description", "default_out_dir", "QUICK_NOTE"]

#: What the title line of a ``quick=True`` report says (``lamina reproduce --resume`` reads it).
QUICK_NOTE = "(quick version: tiny settings, numbers not comparable)"


def machine_description() -> str:
    """One line naming the CPU/GPU, core count and library versions.

    Example:
        >>> "torch" in machine_description()
        True
    """
    device = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
              else f"CPU {platform.processor() or platform.machine()}")
    return (f"{device}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads; "
            f"Python {platform.python_version()}, torch {torch.__version__}, "
            f"numpy {np.__version__}, lamina {lamina.__version__}")


def default_out_dir(name: str) -> str:
    """``runs/<name>`` (under ``$LAMINA_RUNS`` when set)."""
    return os.path.join(os.environ.get("LAMINA_RUNS", "runs"), name)


class Report:
    """Collects an experiment's title, settings, result rows and figures; writes ``report.md``.

    Args:
        name: the experiment's module name (``pooling_table``).
        title: a one-line title.
        out_dir: where to write; defaults to ``runs/<name>``.
        quick: whether this is the tiny ``quick=True`` version (said in the report).

    Example:
        >>> import tempfile
        >>> r = Report("demo", "A demo", out_dir=tempfile.mkdtemp(), quick=True)
        >>> r.setting("epochs", 1); r.row(["variant", "ours", "published"], ["a", "0.91", "0.90"])
        >>> r.write().endswith("report.md")
        True
    """

    def __init__(self, name: str, title: str, *, out_dir: str | None = None, quick: bool = False):
        self.name, self.title, self.quick = name, title, quick
        self.out_dir = out_dir or default_out_dir(name)
        os.makedirs(self.out_dir, exist_ok=True)
        self.settings: dict[str, object] = {}
        self.tables: list[tuple[list[str], list[list[str]]]] = []
        self.notes: list[str] = []
        self.figures: list[str] = []
        self.start = time.perf_counter()

    def setting(self, key: str, value) -> None:
        """Record a setting (hyper-parameter, data size, seed)."""
        self.settings[key] = value

    def row(self, header: list[str], cells: list) -> None:
        """Add a row to the table with this header (a new table if the header is new).

        Floats below 100 (accuracies, errors) get four decimals; larger ones (seconds,
        counts) one.
        """
        cells = [(f"{c:.4f}" if abs(c) < 100 else f"{c:.1f}") if isinstance(c, float) else str(c)
                 for c in cells]
        for head, rows in self.tables:
            if head == header:
                rows.append(cells)
                return
        self.tables.append((header, [cells]))

    def note(self, text: str) -> None:
        """Add a paragraph (an observation, a caveat)."""
        self.notes.append(text)

    def figure(self, fig, filename: str) -> str:
        """Save a matplotlib figure as a PNG next to the report; returns its path."""
        path = os.path.join(self.out_dir, filename)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        self.figures.append(filename)
        return path

    @contextmanager
    def timed(self, label: str):
        """Context manager recording the seconds spent as setting ``time_<label>``."""
        start = time.perf_counter()
        yield
        self.settings[f"time_{label} (s)"] = round(time.perf_counter() - start, 1)

    def write(self, results: dict | None = None) -> str:
        """Write ``report.md`` (and ``results.json`` with ``results``); returns the report path."""
        lines = [f"# {self.title}", "",
                 f"`python -m lamina.experiments {self.name}`"
                 + (f" {QUICK_NOTE}" if self.quick else ""), ""]
        for header, rows in self.tables:
            lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
            lines += ["| " + " | ".join(r) + " |" for r in rows]
            lines.append("")
        lines += [*self.notes, ""] if self.notes else []
        lines += ["## Settings", ""] + [f"- {k}: {v}" for k, v in self.settings.items()]
        lines += ["", "## Machine", "", machine_description(), "",
                  f"Total time: {time.perf_counter() - self.start:.1f} s", ""]
        lines += [f"![{f}]({f})" for f in self.figures]
        path = os.path.join(self.out_dir, "report.md")
        with atomic_open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        if results is not None:
            with atomic_open(os.path.join(self.out_dir, "results.json"), "w") as f:
                json.dump(results, f, indent=2, default=float)
        return path
