"""``reproduce(resume=True)``: an interrupted full run keeps what finished and runs the rest."""

from __future__ import annotations

import types

from lamina.experiments import reproduce as rp
from lamina.experiments._report import Report


def _fake_experiments(monkeypatch, calls: list[str], fail: set[str]):
    def make(name):
        def run(quick=False, out_dir=None):
            calls.append(name)
            if name in fail:
                raise RuntimeError("interrupted")
            report = Report(name, name, out_dir=out_dir, quick=quick)
            results = {"value": len(calls)}
            report.write(results)
            return results
        return types.SimpleNamespace(run=run)

    names = ["exp_a", "exp_b", "exp_c"]
    monkeypatch.setattr(rp, "available", lambda: names)
    monkeypatch.setattr(rp, "load", make)
    monkeypatch.setattr(rp, "experiments_with_claims", lambda: [])
    return names


def test_resume_runs_only_what_did_not_finish(monkeypatch, tmp_path):
    calls: list[str] = []
    fail = {"exp_b"}
    _fake_experiments(monkeypatch, calls, fail)
    first, _ = rp.reproduce(out_dir=str(tmp_path), progress=False)
    assert [o.status for o in first] == ["ok", "failed", "ok"]
    fail.clear()
    calls.clear()
    second, page = rp.reproduce(out_dir=str(tmp_path), progress=False, resume=True)
    assert calls == ["exp_b"]                        # only the one that did not finish
    assert [o.status for o in second] == ["ok", "ok", "ok"]
    assert second[0].results == first[0].results     # read back from the first sitting
    text = open(page, encoding="utf-8").read()
    assert "resumed: 2 of 3" in text and "add up to" in text


def test_resume_ignores_runs_of_the_other_mode(monkeypatch, tmp_path):
    calls: list[str] = []
    _fake_experiments(monkeypatch, calls, set())
    rp.reproduce(["exp_a"], quick=True, out_dir=str(tmp_path), progress=False)
    calls.clear()
    rp.reproduce(["exp_a"], quick=False, out_dir=str(tmp_path), progress=False, resume=True)
    assert calls == ["exp_a"]                         # a quick report is no full result
    calls.clear()
    rp.reproduce(["exp_a"], quick=False, out_dir=str(tmp_path), progress=False, resume=True)
    assert calls == []


def test_without_resume_everything_runs_again(monkeypatch, tmp_path):
    calls: list[str] = []
    names = _fake_experiments(monkeypatch, calls, set())
    rp.reproduce(out_dir=str(tmp_path), progress=False)
    rp.reproduce(out_dir=str(tmp_path), progress=False)
    assert calls == names + names
