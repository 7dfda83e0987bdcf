"""Kill a training run with SIGKILL at random points, resume it, check it bit for bit.

1. A reference run trains uninterrupted in a subprocess and records a SHA-256 of the
   model's weights at every checkpoint it writes (keyed by global step) and at the end.
2. Each trial starts the same run in a fresh directory (``fit(checkpoint=..., resume=True)``)
   and kills it with SIGKILL: every other trial at a uniformly random moment of its
   training, the others aimed at a save -- a random delay of 0 to 30 ms after the child
   announces the start of its k-th save (k random), so the kill lands while the 13 MB
   checkpoint (weights and Adam state) is serialised or written; a kill during the write
   is seen by the temporary file it leaves. The surviving checkpoint must load and hold
   exactly the reference's weights at its step.
3. The trial then resumes the run to its end: the final weights must equal the
   reference's bit for bit, and no temporary file (``.last.ckpt.<pid>.<hex>.tmp``) may be
   left -- the resumed run's first save removes the killed writer's.

Run::

    python benchmarks/sigkill_resume.py --kills 30
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

CHILD = textwrap.dedent("""
    import hashlib, json, sys, time
    import numpy as np, torch
    import lamina as lm
    from lamina import layers
    import lamina.training.resume as resume

    directory, record = sys.argv[1], sys.argv[2] == "record"

    def digest(state):
        h = hashlib.sha256()
        for key in sorted(state):
            h.update(key.encode()); h.update(state[key].detach().cpu().numpy().tobytes())
        return h.hexdigest()

    seen, save = {}, resume.save_state
    def announced(path, state):   # tell the parent a save begins; the reference records it
        print("SAVE", state["global_step"], flush=True)
        if record:
            seen[state["global_step"]] = digest(state["model"])
        save(path, state)
    resume.save_state = announced

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 64)).astype(np.float32)
    y = (x[:, :8].sum(1) > 0).astype(np.int64)
    model = lm.Sequential([layers.Dense(1024, activation="relu"), layers.Dropout(0.2),
                           layers.Dense(1024, activation="relu"),
                           layers.Dense(2, activation="softmax")], input_shape=(64,))
    model.compile(optimizer=lm.optimizers.Adam(lr=1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    torch.manual_seed(1)
    print("READY", flush=True)
    start = time.perf_counter()
    model.fit(x, y, batch_size=32, epochs=3, verbose=0, validation_split=0.1,
              checkpoint=directory, checkpoint_every=2, resume=True)
    print("DONE", json.dumps({"final": digest(model.state_dict()),
                              "seconds": time.perf_counter() - start,
                              "checkpoints": seen}), flush=True)
""")


def _start(directory: str, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, directory, mode],
                            stdout=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"training run failed with exit code {proc.returncode}")
    line = next(line for line in out.splitlines() if line.startswith("DONE "))
    return json.loads(line[5:])


def _checkpoint_digest(directory: str) -> tuple[int, str] | None:
    """(global step, weights digest) of the checkpoint in ``directory``, if there is one."""
    import hashlib

    from lamina.checkpoint import load_state

    path = os.path.join(directory, "last.ckpt")
    if not os.path.exists(path):
        return None
    state = load_state(path)
    h = hashlib.sha256()
    for key in sorted(state["model"]):
        h.update(key.encode())
        h.update(state["model"][key].numpy().tobytes())
    return state["global_step"], h.hexdigest()


def run(kills: int, seed: int = 0, verbose: bool = True) -> dict:
    """Run ``kills`` trials; return counts (raises AssertionError on any mismatch)."""
    rng = random.Random(seed)
    root = tempfile.mkdtemp(prefix="lamina-sigkill-")
    reference = _finish(_start(os.path.join(root, "reference"), "record"))
    ref_steps = {int(k): v for k, v in reference["checkpoints"].items()}
    stats = {"kills": 0, "mid_save": 0, "before_first_checkpoint": 0, "finished_early": 0,
             "checked_checkpoints": 0, "bit_identical": 0, "temp_files_left": 0,
             "reference_seconds": round(reference["seconds"], 2), "aimed_at_a_save": 0}
    directory = os.path.join(root, "killed")
    plain = _finish(_start(os.path.join(root, "plain"), "run"))["seconds"]
    saves = len(ref_steps)
    while stats["kills"] < kills:
        shutil.rmtree(directory, ignore_errors=True)
        proc = _start(directory, "run")
        assert proc.stdout.readline().strip() == "READY"
        if stats["kills"] % 2:                 # aimed at the start of the k-th save
            k = rng.randrange(1, saves)
            for _ in range(k):
                proc.stdout.readline()
            time.sleep(rng.uniform(0, 0.03))
        else:
            time.sleep(rng.uniform(0, plain))
        if proc.poll() is not None:           # it finished before the kill: try again
            stats["finished_early"] += 1
            _finish(proc)
            continue
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        stats["kills"] += 1
        stats["aimed_at_a_save"] += stats["kills"] % 2 == 0
        temps = glob.glob(os.path.join(directory, ".last.ckpt.*.tmp"))
        stats["mid_save"] += bool(temps)
        found = _checkpoint_digest(directory)
        if found is None:
            stats["before_first_checkpoint"] += 1
        else:
            assert ref_steps.get(found[0]) == found[1], f"checkpoint at step {found[0]} differs"
            stats["checked_checkpoints"] += 1
        final = _finish(_start(directory, "run"))
        same = final["final"] == reference["final"]
        left = len(glob.glob(os.path.join(directory, ".*.tmp")))
        stats["bit_identical"] += same
        stats["temp_files_left"] += left
        if verbose:
            print(f"kill {stats['kills']:2d}: checkpoint at step {found[0] if found else '-':>3}, "
                  f"killed mid-save: {bool(temps)}, resumed bit-identical: {same}, "
                  f"temp files left: {left}", flush=True)
        assert same, "the resumed run's final weights differ from the reference"
        assert left == 0, "temporary files were left behind"
    shutil.rmtree(root, ignore_errors=True)
    return stats


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    stats = run(args.kills, args.seed)
    print(json.dumps({**stats, "wall_seconds": round(time.perf_counter() - start, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
