"""``lamina reproduce``: run the experiments and write an index judging every claim of the decks.

:func:`reproduce` runs each experiment's ``run(quick, out_dir)`` under ``<out>/<name>/`` (one
that raises becomes a row saying so, and the others still run), judges the claims of
:mod:`lamina.experiments.claims` on the returned dicts and writes ``<out>/index.md`` and
``<out>/index.html``: one row per claim with the deck's number, ours, whether it holds, a
link to the report and the report's figures. :func:`from_reports` builds the same index from
reports already written (``results.json`` + ``report.md`` per folder, as in
``docs/experiments/``) without running anything.

Time estimates (:func:`estimate`), first found: the seconds measured by the last
``reproduce`` into the same ``<out>`` folder (``<out>/durations.json``); for a full run the
"Total time" of ``docs/experiments/<name>/report.md`` under the working directory; the
package's table :data:`DURATIONS` (the same reports' times, and one measured ``--quick``
suite), all on the 2-core development VM.

Example:
    >>> estimate("captioning", quick=True)
    (27.4, 'package table (quick)')
"""

from __future__ import annotations

import html
import json
import os
import re
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from tqdm.auto import tqdm

from lamina._io import atomic_open
from lamina.experiments import available, load
from lamina.experiments._report import QUICK_NOTE, machine_description
from lamina.experiments.claims import Verdict, claims_for, experiments_with_claims, judge

__all__ = ["Outcome", "reproduce", "from_reports", "write_index", "estimate", "order",
           "DURATIONS"]

#: name -> (seconds of the full run, seconds of the quick run) on the 2-core development VM.
#: Full: one ``lamina reproduce --resume --out runs/full`` in sittings on 2026-12-07, 2 threads
#: (docs/experiments/README.md).
#: Quick: one ``nice -n 10 lamina reproduce --quick`` on 2026-12-07 with the VM loaded 15-19
#: (2,906 s of wall time for 5.9 min of CPU): pessimistic, often 5-10x.
DURATIONS: dict[str, tuple[float | None, float | None]] = {
    "adversarial": (135.2, 787.5), "captioning": (183.3, 27.4), "char_lm": (842.6, 76.1),
    "class_weight": (21.9, None), "codes": (196.9, 105.4), "dbn_finetune": (1387.1, 141.7),
    "deep_autoencoder": (353.7, 35.8), "deep_gradients": (46.8, None),
    "optimizers": (138.2, 236.3), "pooling_table": (1520.6, 263.9), "rbm_features": (6.0, 33.1),
    "rbm_vs_sklearn": (83.8, 141.4), "reber": (131.7, 93.8), "segmentation": (2582.8, 398.8),
    "sequential_images": (201.4, 121.3), "small_resnet": (3183.3, 140.8),
    "surface_interpolation": (294.5, 25.7), "transfer": (1007.2, 238.7),
    "vanishing_gradients": (311.6, 37.9), "what_convnets_learn": (44.5, None),
}


_TOTAL = re.compile(r"^Total time: ([0-9.]+) s", re.M)
_FIGURE = re.compile(r"^!\[[^\]]*\]\(([^)]+)\)", re.M)


@dataclass
class Outcome:
    """What became of one experiment: ``status`` is ``"ok"``, ``"failed"`` (its run raised:
    ``error`` says how), ``"absent"`` (no such module in this lamina) or ``"no results"``
    (a report folder without ``results.json``)."""

    name: str
    status: str
    results: dict = field(default_factory=dict)
    seconds: float | None = None
    report_dir: str | None = None
    error: str = ""


def _durations_file(out_dir: str) -> str:
    return os.path.join(out_dir, "durations.json")


def _measured(out_dir: str | None) -> dict:
    if not out_dir or not os.path.exists(_durations_file(out_dir)):
        return {}
    try:
        with open(_durations_file(out_dir), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


#: where the committed full-run reports live (relative to the working directory)
DOCS = "docs/experiments"


def _report_seconds(report: str) -> float | None:
    """The "Total time: X s" of a report, or None."""
    try:
        with open(report, encoding="utf-8") as f:
            found = _TOTAL.search(f.read())
    except OSError:
        return None
    return float(found.group(1)) if found else None


def estimate(name: str, quick: bool, out_dir: str | None = None) -> tuple[float | None, str]:
    """Expected seconds of ``name``'s run and where the figure comes from (``None`` if unknown).

    Example:
        >>> estimate("no_such_experiment", quick=True)
        (None, 'unknown')
    """
    mode = "quick" if quick else "full"
    seconds = _measured(out_dir).get(name, {}).get(mode)
    if isinstance(seconds, (int, float)):
        return float(seconds), f"last run in {out_dir}"
    if not quick:
        seconds = _report_seconds(os.path.join(DOCS, name, "report.md"))
        if seconds is not None:
            return seconds, f"{DOCS}/{name}/report.md"
    full, fast = DURATIONS.get(name, (None, None))
    if quick and fast is not None:
        return fast, "package table (quick)"
    if not quick and full is not None:
        return full, "package table (full)"
    return None, "unknown"


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def order(names: Iterable[str] | None = None) -> list[str]:
    """The experiments to run: ``names`` as given, or every experiment with claims (in the
    claims table's order, present or not) followed by the other available ones.

    Example:
        >>> order(["reber", "optimizers"])
        ['reber', 'optimizers']
    """
    if names:
        return list(dict.fromkeys(names))
    listed = experiments_with_claims()
    return listed + [n for n in available() if n not in listed]


def _record_duration(out_dir: str, name: str, quick: bool, seconds: float) -> None:
    data = _measured(out_dir)
    data.setdefault(name, {})["quick" if quick else "full"] = round(seconds, 1)
    with atomic_open(_durations_file(out_dir), "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)


def _run_one(name: str, quick: bool, out_dir: str) -> Outcome:
    report_dir = os.path.join(out_dir, name)
    if name not in available():
        return Outcome(name, "absent", report_dir=None,
                       error=f"no experiment module lamina.experiments.{name}")
    start = time.perf_counter()
    try:
        results = load(name).run(quick=quick, out_dir=report_dir)
    except Exception as e:  # noqa: BLE001 - one experiment's failure is a row, not a crash
        seconds = time.perf_counter() - start
        os.makedirs(report_dir, exist_ok=True)
        with atomic_open(os.path.join(report_dir, "error.txt"), "w") as f:
            f.write(traceback.format_exc())
        return Outcome(name, "failed", seconds=seconds, report_dir=report_dir,
                       error=f"{type(e).__name__}: {e}")
    seconds = time.perf_counter() - start
    _record_duration(out_dir, name, quick, seconds)
    return Outcome(name, "ok", results if isinstance(results, dict) else {}, seconds, report_dir)


def _finished(name: str, quick: bool, out_dir: str) -> Outcome | None:
    """The outcome of ``name``'s earlier run in ``out_dir`` in this mode, or None: its time is in
    ``durations.json`` (written only after a run that returned) and its report says the same
    mode (a quick run's report carries :data:`QUICK_NOTE`)."""
    seconds = _measured(out_dir).get(name, {}).get("quick" if quick else "full")
    if not isinstance(seconds, (int, float)):
        return None
    outcome = from_reports(out_dir, [name])[0]
    try:
        with open(os.path.join(out_dir, name, "report.md"), encoding="utf-8") as f:
            was_quick = QUICK_NOTE in f.read()
    except OSError:
        return None
    if outcome.status != "ok" or was_quick != quick:
        return None
    outcome.seconds = float(seconds)
    return outcome


def reproduce(names: Iterable[str] | None = None, *, quick: bool = False, out_dir: str = "runs",
              progress: bool = True, resume: bool = False) -> tuple[list[Outcome], str]:
    """Run the experiments and write ``<out_dir>/index.md`` and ``index.html``.

    Args:
        names: experiments to run; all of them by default (see :func:`order`).
        quick: each experiment's tiny version (seconds each; numbers not comparable).
        out_dir: reports go to ``<out_dir>/<name>/``, the index to ``<out_dir>/``.
        progress: show a tqdm bar (on stderr) and the time estimates.
        resume: keep the experiments an earlier ``reproduce`` into ``out_dir`` finished in
            the same mode (their reports and times) and run only the others: a full run
            (hours) survives an interruption. The index then gives the sum of the
            experiments' times instead of one wall time.

    Returns:
        ``(outcomes, path of index.html)``.

    Example:
        >>> import tempfile
        >>> outcomes, page = reproduce(["no_such_one"], out_dir=tempfile.mkdtemp(), progress=False)
        >>> outcomes[0].status, page.endswith("index.html")
        ('absent', True)
    """
    names = order(names)
    os.makedirs(out_dir, exist_ok=True)
    done = {n: o for n in names if resume and (o := _finished(n, quick, out_dir)) is not None}
    if progress and done:
        tqdm.write(f"resuming: {len(done)} experiment(s) already run in {out_dir}: "
                   + ", ".join(done))
    plan = {n: estimate(n, quick, out_dir) for n in names if n not in done}
    if progress:
        known = [s for s, _ in plan.values() if s is not None]
        unknown = len(plan) - len(known)
        tqdm.write(f"{len(plan)} experiments ({'quick' if quick else 'full'}), estimated "
                   f"{_clock(sum(known))} on the 2-core development VM"
                   + (f" plus {unknown} of unknown time" if unknown else "") + ":")
        for n, (s, source) in plan.items():
            tqdm.write(f"  {n:24s} ~{_clock(s):>8s}  ({source})")
    start = time.perf_counter()
    outcomes = {}
    bar = tqdm(list(plan), unit="experiment", disable=not progress)
    for name in bar:
        bar.set_description(f"{name} (~{_clock(plan[name][0])})")
        outcome = _run_one(name, quick, out_dir)
        outcomes[name] = outcome
        if progress:
            took = "" if outcome.seconds is None else f" in {outcome.seconds:.1f} s"
            tqdm.write(f"{name}: {outcome.status}{took}"
                       + (f" ({outcome.error})" if outcome.error else ""))
    mode = ("quick (tiny settings: the numbers are not comparable with the decks')" if quick
            else "full")
    if done:
        mode += (f"; resumed: {len(done)} of {len(names)} experiments were run by an earlier "
                 f"sitting into the same folder")
    outcomes = [done[n] if n in done else outcomes[n] for n in names]
    page = write_index(outcomes, out_dir, mode=mode, machine=machine_description(),
                       wall=None if done else time.perf_counter() - start)
    return outcomes, page


def from_reports(directory: str, names: Iterable[str] | None = None) -> list[Outcome]:
    """Outcomes read from reports already written: ``<directory>/<name>/results.json`` and
    the time in its ``report.md``; nothing runs.

    Example:
        >>> import tempfile
        >>> [o.status for o in from_reports(tempfile.mkdtemp(), ["optimizers"])]
        ['no results']
    """
    outcomes = []
    for name in order(names):
        report_dir = os.path.join(directory, name)
        report = os.path.join(report_dir, "report.md")
        seconds = _report_seconds(report)
        try:
            with open(os.path.join(report_dir, "results.json"), encoding="utf-8") as f:
                results = json.load(f)
        except (OSError, ValueError) as e:
            status = "no results" if name in available() else "absent"
            why = "missing" if isinstance(e, FileNotFoundError) else f"unreadable: {e}"
            outcomes.append(Outcome(name, status, seconds=seconds,
                                    report_dir=report_dir if os.path.exists(report) else None,
                                    error=f"results.json {why} in {report_dir}"))
            continue
        outcomes.append(Outcome(name, "ok", results, seconds, report_dir))
    return outcomes


def _figures(report_dir: str | None) -> list[str]:
    """The report's figures in its own order (its ``![..](..)`` lines), else its PNGs."""
    if not report_dir:
        return []
    report = os.path.join(report_dir, "report.md")
    if os.path.exists(report):
        with open(report, encoding="utf-8") as f:
            names = _FIGURE.findall(f.read())
        return [n for n in names if os.path.exists(os.path.join(report_dir, n))]
    return sorted(n for n in os.listdir(report_dir) if n.endswith(".png")) \
        if os.path.isdir(report_dir) else []


@dataclass
class _Row:
    outcome: Outcome
    claim: str
    deck: str
    verdict: Verdict


def _rows(outcomes: list[Outcome]) -> list[_Row]:
    rows = []
    for o in outcomes:
        claims = claims_for(o.name)
        if o.status != "ok":
            reason = {"failed": f"the run failed: {o.error}",
                      "absent": "experiment not in this lamina",
                      "no results": o.error}[o.status]
            notes = [reason] + ["see above"] * len(claims)
            rows += [_Row(o, c.text, c.deck, Verdict("-", None, note))
                     for c, note in zip(claims, notes)] or [
                _Row(o, "(figures only)", "-", Verdict("-", None, reason))]
            continue
        rows += [_Row(o, c.text, c.deck, judge(c, o.results)) for c in claims] or [
            _Row(o, "(figures only: no numbered claim)", "-", Verdict("-", None, ""))]
    return rows


def _holds_text(v: Verdict) -> str:
    return {True: "yes", False: "no", None: "?"}[v.holds]


def _summary(rows: list[_Row], outcomes: list[Outcome]) -> str:
    judged = [r for r in rows if r.claim and not r.claim.startswith("(figures")]
    held = sum(r.verdict.holds is True for r in judged)
    failed = sum(r.verdict.holds is False for r in judged)
    unknown = len(judged) - held - failed
    bad = [o.name for o in outcomes if o.status == "failed"]
    absent = [o.name for o in outcomes if o.status == "absent"]
    missing = [o.name for o in outcomes if o.status == "no results"]
    text = f"{held} of {len(judged)} claims hold, {failed} do not, {unknown} could not be judged."
    if bad:
        text += f" Failed runs: {', '.join(bad)}."
    if absent:
        text += f" Not in this lamina: {', '.join(absent)}."
    if missing:
        text += f" No results.json (not run yet): {', '.join(missing)}."
    return text


def _rel(path: str, start: str) -> str:
    return os.path.relpath(path, start).replace(os.sep, "/")


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_index(outcomes: list[Outcome], out_dir: str, *, mode: str, machine: str = "",
                wall: float | None = None) -> str:
    """Write ``<out_dir>/index.md`` and ``index.html`` (one row per claim); returns the HTML path.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> page = write_index([Outcome("small_resnet", "ok", {"test_accuracy": 0.94})], d, mode="test")
        >>> "<td>0.9400</td>" in open(page).read()
        True
    """
    os.makedirs(out_dir, exist_ok=True)
    rows = _rows(outcomes)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    runs = [o.seconds for o in outcomes if o.seconds is not None]
    took = (f"; wall time {wall:.1f} s" if wall is not None else
            f"; the reports' times add up to {sum(runs) / 3600:.1f} h" if runs else "")
    head = [f"Mode: {mode}.", f"Written {stamp}{took}."]
    if machine:
        head.append(f"Machine: {machine}.")
    head.append(_summary(rows, outcomes))
    _write_md(rows, out_dir, head)
    return _write_html(rows, out_dir, head)


def _seconds(o: Outcome) -> str:
    return "-" if o.seconds is None else f"{o.seconds:.1f}"


def _write_md(rows: list[_Row], out_dir: str, head: list[str]) -> None:
    lines = ["# The decks' claims, reproduced", "", *[f"{h}  " for h in head], "",
             "| experiment | claim | deck | ours | holds | report (time, s) | figures |",
             "|---|---|---|---|---|---|---|"]
    seen = set()
    for r in rows:
        o, first = r.outcome, r.outcome.name not in seen
        seen.add(o.name)
        report = os.path.join(o.report_dir or "", "report.md")
        link = (f"[report]({_rel(report, out_dir)}) ({_seconds(o)})"
                if o.report_dir and os.path.exists(report) else o.status)
        figures = " ".join(f'<img src="{_rel(os.path.join(o.report_dir, f), out_dir)}" width="160">'
                           for f in _figures(o.report_dir)) if first else ""
        holds = _holds_text(r.verdict) + (f" ({r.verdict.note})" if r.verdict.note else "")
        lines.append("| " + " | ".join(_md_cell(c) for c in (
            o.name if first else "", r.claim, r.deck, r.verdict.ours, holds, link if first else "",
            figures)) + " |")
    with atomic_open(os.path.join(out_dir, "index.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


_CSS = """body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #bbb;padding:4px 6px;
vertical-align:top;font-size:13px}th{background:#eee}.yes{background:#d7f5d7}
.no{background:#f8d4d4}.unknown{background:#eee}td.figs{width:36%}
img{max-width:190px;max-height:190px;margin:2px}small{color:#555}"""


def _write_html(rows: list[_Row], out_dir: str, head: list[str]) -> str:
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>lamina: the decks' claims, reproduced</title>", f"<style>{_CSS}</style>",
           "</head><body>", "<h1>The decks' claims, reproduced</h1>",
           *[f"<p>{esc(h)}</p>" for h in head], "<table>",
           "<tr><th>experiment</th><th>claim</th><th>deck</th><th>ours</th><th>holds</th>"
           "<th>report (time, s)</th><th>figures</th></tr>"]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.outcome.name] = counts.get(r.outcome.name, 0) + 1
    seen = set()
    for r in rows:
        o = r.outcome
        cls = {True: "yes", False: "no", None: "unknown"}[r.verdict.holds]
        holds = esc(_holds_text(r.verdict)) + (f"<br><small>{esc(r.verdict.note)}</small>"
                                               if r.verdict.note else "")
        cells = []
        if o.name not in seen:
            seen.add(o.name)
            span = f' rowspan="{counts[o.name]}"'
            report = os.path.join(o.report_dir or "", "report.md")
            link = (f'<a href="{esc(_rel(report, out_dir))}">report</a> ({_seconds(o)})'
                    if o.report_dir and os.path.exists(report) else esc(o.status))
            figures = "".join(
                f'<a href="{esc(_rel(os.path.join(o.report_dir, f), out_dir))}">'
                f'<img src="{esc(_rel(os.path.join(o.report_dir, f), out_dir))}" alt="{esc(f)}"></a>'
                for f in _figures(o.report_dir))
            cells.append(f"<td{span}>{esc(o.name)}</td>")
            rest = [f"<td{span}>{link}</td>", f'<td{span} class="figs">{figures}</td>']
        else:
            rest = []
        cells += [f"<td>{esc(r.claim)}</td>", f"<td>{esc(r.deck)}</td>",
                  f"<td>{esc(r.verdict.ours)}</td>", f'<td class="{cls}">{holds}</td>', *rest]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out += ["</table>", "</body></html>"]
    path = os.path.join(out_dir, "index.html")
    with atomic_open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return path
