"""The fuzz harness: builds mutated cases from the seeds, runs them in worker processes with a time
and an address-space limit, restarts a worker that hangs or dies, and classifies every case.

Outcome classes (docs/RELIABILITY.md): ``loaded``, ``warning`` (loaded with a warning, or the scan
skipped a file with its reason), ``error`` (a CandorError: a clear message), and the failures:
``unhandled`` (any other exception, BaseException included), ``hang`` (past the time limit),
``crash`` (the worker died of a signal), ``memory`` (MemoryError under the limit), and two oracle
failures: ``read_outside`` (a detached header naming a file outside its folder was loaded) and
``silent`` (damage that must be stated loaded without a word, or an invalid volume).
"""

from __future__ import annotations

import json
import os
import random
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.mutations import Context
from tests.fuzz.mutations_volume import mutate
from tests.fuzz.seeds import Seed, build_seeds

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
FAILURES = ("unhandled", "hang", "crash", "memory", "read_outside", "silent")
CLASSES = ("loaded", "warning", "error") + FAILURES


@dataclass(frozen=True)
class Limits:
    seconds: float = 20.0
    memory_mib: int = 2048
    workers: int = 2


@dataclass
class Report:
    results: list[dict] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(CLASSES, 0)
        for r in self.results:
            out[r["outcome"]] = out.get(r["outcome"], 0) + 1
        return out

    def failures(self) -> list[dict]:
        return [r for r in self.results if r["outcome"] in FAILURES]


def make_case(seeds: list[Seed], master_seed: int, index: int, root: Path) -> Path:
    """Case ``index`` of run ``master_seed``: the same files wherever the seeds are the same."""
    rng = random.Random(f"{master_seed}:{index}")
    seed = rng.choice(seeds)
    target = rng.choice(seed.target)
    case = root / f"{seed.name}-s{master_seed}-c{index}"
    shutil.rmtree(case, ignore_errors=True)
    shutil.copytree(seed.folder, case / "input")
    files = {p.name: p.read_bytes() for p in (case / "input").iterdir()}
    ctx = Context(target, seed.kind, {k: v for k, v in files.items() if k != target})
    with warnings.catch_warnings():  # pydicom's complaints about what the mutations made
        warnings.simplefilter("ignore")
        steps = mutate(files[target], rng, ctx)
    (case / "input" / target).write_bytes(steps[-1].data)
    raws = [v for k, v in files.items() if k.endswith(".raw")]
    if raws:  # what an escaping data file name would reach
        (case / "outside.raw").write_bytes(raws[0])
    # an expectation holds for a lone mutation (a second one may make the file skippable)
    expect = steps[0].expect if len(steps) == 1 else None
    spec = {"seed": seed.name, "seed_about": seed.about, "master_seed": master_seed,
            "case": index, "kind": seed.kind, "target": target,
            "mutations": [s.detail for s in steps], "expect": expect}
    (case / "case.json").write_text(json.dumps(spec, indent=1) + "\n")
    return case


class Worker:
    """One worker process; ``send`` a case folder, ``result`` when its line arrives."""

    def __init__(self, limits: Limits, log) -> None:
        env = dict(os.environ, MALLOC_ARENA_MAX="2", OMP_NUM_THREADS="1",
                   OPENBLAS_NUM_THREADS="1", ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS="1",
                   PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.worker", "--memory-mib", str(limits.memory_mib)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=REPO, env=env,
            text=True, bufsize=1, start_new_session=True)
        self.case: Path | None = None
        self.deadline = 0.0
        self.ready = False
        self.limits = limits

    def send(self, case: Path) -> None:
        self.case = case
        self.deadline = time.monotonic() + self.limits.seconds + (0 if self.ready else 30)
        self.proc.stdin.write(f"{case}\n")
        self.proc.stdin.flush()

    def kill(self) -> int:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self.proc.wait()


def _death(rc: int) -> dict:
    if rc < 0:
        name = signal.Signals(-rc).name
        outcome = "memory" if -rc == signal.SIGKILL else "crash"  # SIGKILL not ours: OOM killer
        return {"outcome": outcome, "message": f"worker killed by {name}"}
    return {"outcome": "crash", "message": f"worker exited with status {rc}"}


def run_cases(cases, limits: Limits, on_result=None, log=subprocess.DEVNULL) -> Report:
    """Run every case folder of the iterable ``cases``; ``on_result(case, result)`` after each."""
    report = Report()
    pending = iter(cases)
    sel = selectors.DefaultSelector()
    workers: list[Worker] = []

    def start() -> Worker:
        w = Worker(limits, log)
        sel.register(w.proc.stdout, selectors.EVENT_READ, w)
        workers.append(w)
        return w

    def finish(w: Worker, result: dict) -> None:
        spec = json.loads((w.case / "case.json").read_text())
        full = {**spec, **{k: v for k, v in result.items() if k != "case"}}
        if w.case in retried:
            full["retried_after_timeout"] = True
        report.results.append(full)
        if on_result:
            on_result(w.case, full)
        w.case = None
        feed(w)

    retried: set[Path] = set()
    again: list[Path] = []

    def finish_dead(w: Worker, rc: int) -> None:
        if rc == "hang" and w.case not in retried:  # once more in a fresh worker: a loaded
            retried.add(w.case)                      # machine must not pass for a hang
            again.append(w.case)
            feed(start())
            return
        result = {"outcome": "hang", "message": f"no result in {limits.seconds:g} s"} \
            if rc == "hang" else _death(rc)
        spec = json.loads((w.case / "case.json").read_text())
        full = {**spec, **result}
        report.results.append(full)
        if on_result:
            on_result(w.case, full)
        feed(start())

    def feed(w: Worker) -> None:
        case = again.pop() if again else next(pending, None)
        if case is not None:
            w.send(case)

    for _ in range(limits.workers):
        feed(start())
    while any(w.case is not None for w in workers):
        for key, _ in sel.select(timeout=0.5):
            w = key.data
            line = w.proc.stdout.readline()
            if not line:  # the worker died
                sel.unregister(w.proc.stdout)
                workers.remove(w)
                rc = w.proc.wait()
                if w.case is not None:
                    finish_dead(w, rc)
                continue
            if line.strip() == "ready":
                w.ready = True
                continue
            finish(w, json.loads(line))
        now = time.monotonic()
        for w in [w for w in workers if w.case is not None and now > w.deadline]:
            sel.unregister(w.proc.stdout)
            workers.remove(w)
            w.kill()
            finish_dead(w, "hang")
    for w in workers:
        w.proc.stdin.close()
        w.kill()
    sel.close()
    return report


def fuzz(n_cases: int, master_seed: int, limits: Limits, *, work: Path | None = None,
         keep_failures: Path | None = None, on_result=None, log=subprocess.DEVNULL,
         only: int | None = None) -> Report:
    """``n_cases`` generated cases (or case ``only``); failing ones copied to ``keep_failures``."""
    tmp = Path(work or tempfile.mkdtemp(prefix="candor-fuzz-"))
    seeds = build_seeds(tmp / "seeds")
    cases_root = tmp / "cases"
    cases_root.mkdir(parents=True, exist_ok=True)

    def generate():
        for i in range(n_cases) if only is None else [only]:
            yield make_case(seeds, master_seed, i, cases_root)

    seen = known_signatures(keep_failures) if keep_failures is not None else set()

    def done(case: Path, result: dict) -> None:
        if keep_failures is not None and result["outcome"] in FAILURES:
            save_case(case, result, keep_failures, seen)
        if work is None or only is None:
            shutil.rmtree(case, ignore_errors=True)
        if on_result:
            on_result(case, result)

    try:
        return run_cases(generate(), limits, done, log)
    finally:
        if work is None:
            shutil.rmtree(tmp, ignore_errors=True)


def signature(result: dict) -> tuple:
    """What makes two failures the same bug: class, exception, place (no line numbers), seed."""
    where = re.sub(r":\d+", "", result.get("where") or "")
    return (result["outcome"], result.get("exception") or "", where, result["seed"])


def known_signatures(corpus: Path) -> set[tuple]:
    out = set()
    for spec_file in corpus.glob("*/case.json"):
        spec = json.loads(spec_file.read_text())
        out.add(signature({**spec, **spec.get("found", {})}))
    return out


def save_case(case: Path, result: dict, corpus: Path,
              seen: set[tuple] | None = None) -> Path | None:
    """Copy a failing case into the corpus: the first of its signature (``seen``, updated), and
    only when its files are small enough to keep in git."""
    if seen is not None:
        if signature(result) in seen:
            return None
        seen.add(signature(result))
    size = sum(p.stat().st_size for p in case.rglob("*") if p.is_file())
    if size > 100_000:
        return None
    dest = corpus / case.name
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(case, dest)
    spec = json.loads((dest / "case.json").read_text())
    spec["found"] = {k: result.get(k) for k in ("outcome", "exception", "message", "where")
                     if result.get(k)}
    (dest / "case.json").write_text(json.dumps(spec, indent=1) + "\n")
    return dest


def describe(r: dict) -> str:
    """One line per case: what was mutated, what happened (for assertion messages and logs)."""
    what = r.get("exception") or r.get("message", "")
    where = f" at {r['where']}" if r.get("where") else ""
    return (f"[{r['outcome']}] seed={r['master_seed']} case={r['case']} file={r['seed']}/"
            f"{r['target']} mutations={r['mutations']}: {what}{where}")
