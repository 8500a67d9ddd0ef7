"""The gate's proof runs (issue 14, item 7): how often stock against stock is called a
regression (false regressions), and how often the canary (stock plus a known extra cost
per folio, tests/canary/) is (detection), each with an exact 95 % interval.

workloads/gate-proof.sh runs the trials; this module gates, records, archives and tallies
them:

  gate_proof.py trial --kind aa|canary --dir TRIAL_DIR --rc RC [--seconds S]
                      [--workload W] [--reps R] [--icount SPEC] [--canary-sha256 SUMS]
      aa:     TRIAL_DIR/run is one `./wbtrace run W --variant stock --reps 2R`; its odd reps
              are side A, its even reps side B (interleaved in time, one boot, as compare's
              A B B A ... is), gated as BASELINE CANDIDATE;
      canary: TRIAL_DIR/run is one `./wbtrace compare W --baseline stock --candidate canary`.
      Writes TRIAL_DIR/gate.json (wbtrace.gate/1) and TRIAL_DIR/trial.json (with the trial's
      measurement conditions, below); prints one line.  SUMS: `sha256sum` of
      tests/canary/*.patch taken when the trial started.
  gate_proof.py archive SRC_DIR... [--to results/gate-proof]
      Copies the small records of each gated trial of SRC_DIR (trial.json, gate.json,
      conditions.txt; never run/, its traces) to TO/<lane>-<trial>/, lane being SRC_DIR's
      name without "gate-proof-".  A record already there is left alone when it is the same
      and refused (exit 1) when it differs.  Records without conditions (schema /1) get them
      derived (below).  Only the SRC_DIRs named are archived.
  gate_proof.py regate TRIAL_DIR... [--thresholds FILE]
      Gates a lane's trials again, from the run/ each kept, with FILE (default
      analysis/thresholds.json): when the limits change, the runs do not.  Rewrites
      TRIAL_DIR/gate.json and trial.json: the run's conditions with FILE's sha256, and under
      "regated" when, and what the record said before (status, regressions, thresholds).
      A trial whose run/ is gone is refused (exit 1).  The archive keeps the old records:
      move them aside (the tally reads only DIR/*/) before archiving the new ones.
  gate_proof.py tally DIR [--json FILE]
      One line per trial and the two rates with Clopper-Pearson intervals (Markdown), and
      where the trials come from (lanes, dates, commits).  Refuses (exit 2) to pool trials
      of a kind whose conditions differ (POOLED_ON).

Conditions (trial.json "conditions", schema wbtrace.gate-proof-trial/2): the workload, reps
a side, QEMU -icount spec, scratch device kind (meta.json f2fs.device_kind) and vCPUs, as the
reps' meta.json recorded them; the sha256 of each tests/canary/*.patch and of the thresholds
file; the git commit (not a condition: trials of different commits are pooled; the code
measured is stock f2fs and the canary, which the other fields pin).  "sources" says where
each came from; "derived": true when some were reconstructed after the fact rather than
recorded as the trial ran: for the /1 records of session 11 the canary patches and
thresholds are the files of the commit in conditions.txt (`git show COMMIT:path`), which a
tree with uncommitted changes (meta.json git.dirty) may not have run.

A trial whose run failed (a rep failed verification or the workload, the boot failed) has
no verdict: it is listed and counted apart, never as a pass or a regression."""

import argparse
import functools
import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOP)
sys.path.insert(0, os.path.join(TOP, "workloads"))

from analysis import gate, schema  # noqa: E402
from filemodel import sha256 as sha256_bytes, sha256_file  # noqa: E402

TRIAL_FILE = "trial.json"
TRIAL_SCHEMA_V1 = "wbtrace.gate-proof-trial/1"   # session 11: no "conditions"
TRIAL_SCHEMA = "wbtrace.gate-proof-trial/2"
TALLY_SCHEMA = "wbtrace.gate-proof/2"
KINDS = ("aa", "canary")
TRIAL_NAME = re.compile(r"(aa|canary)-[0-9]+")
POOL = os.path.join(TOP, "results", "gate-proof")
LANE_PREFIX = "gate-proof-"
ARCHIVED = (TRIAL_FILE, "gate.json", "conditions.txt")   # never run/ (~27 MB of traces)
CANARY_DIR = "tests/canary"
THRESHOLDS = "analysis/thresholds.json"
# What must agree for trials of a kind to be pooled.  A stock-vs-stock trial does not run
# the canary, so its patches do not matter there.
POOLED_ON = {"aa": ("workload", "reps", "icount", "scratch", "vcpus", "thresholds_sha256")}
POOLED_ON["canary"] = POOLED_ON["aa"] + ("canary_patches",)
# gate-proof.sh's defaults from its first version (b592f2c) to fb23af5, for /1 records with
# nothing better: fio-randwrite, --reps 3, --icount shift=3,align=off.
LEGACY_DEFAULTS = {"workload": "fio-randwrite", "reps": 3, "icount": "shift=3,align=off"}
# The targets: stock vs stock called a regression in at most 5 % of runs; the
# canary in at least 90 %.
FALSE_REGRESSION_TARGET = 0.05
DETECTION_TARGET = 0.90
CONF = 0.95
SHOWN = ("sys.cpu_ms_per_MiB", "fio.bw_MiBps")   # per-trial deltas the tally lists


class ConditionsError(Exception):
    """A trial's conditions cannot be known (no commit, a commit not in this repository,
    reps that disagree)."""


# ----------------------------------------------------------------------------- intervals

def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return math.fsum(math.comb(n, i) * p ** i * (1.0 - p) ** (n - i) for i in range(k + 1))


def _solve(f, lo=0.0, hi=1.0):
    """The p in [lo, hi] where the decreasing function f crosses 0 (bisection)."""
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def clopper_pearson(k: int, n: int, conf: float = CONF):
    """Exact (Clopper-Pearson) two-sided interval for k successes in n trials: the p whose
    binomial tails hold (1 - conf) / 2 each.  Conservative: covers at least `conf`."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k} n={n}")
    a = (1.0 - conf) / 2.0
    lo = 0.0 if k == 0 else _solve(lambda p: a - (1.0 - binom_cdf(k - 1, n, p)))
    hi = 1.0 if k == n else _solve(lambda p: binom_cdf(k, n, p) - a)
    return lo, hi


def wilson(k: int, n: int, conf: float = CONF):
    """Wilson score interval (for reference: narrower, not guaranteed to cover)."""
    if n <= 0:
        raise ValueError("n must be > 0")
    z = _z(conf)
    ph = k / n
    den = 1.0 + z * z / n
    mid = (ph + z * z / (2 * n)) / den
    half = z * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def _z(conf):
    """Two-sided normal quantile (1 + conf) / 2 by bisection on erf."""
    target = (1.0 + conf) / 2.0
    return _solve(lambda z: target - 0.5 * (1.0 + math.erf(z / math.sqrt(2.0))), 0.0, 10.0)


def runs_to_show(target: float, upper: bool, conf: float = CONF) -> int:
    """The fewest trials that could show the target with no miss at all: for a rate that
    must stay under `target` (upper=True), 0 of n with the interval's upper end <= target;
    for one that must reach it, n of n with the lower end >= target."""
    a = (1.0 - conf) / 2.0
    # k = 0: upper end 1 - a^(1/n); k = n: lower end a^(1/n).
    q = (1.0 - target) if upper else target
    return math.ceil(math.log(a) / math.log(q))


# ----------------------------------------------------------------------------- conditions

def canary_patches_now(top: str = TOP) -> dict:
    """{file name: sha256} of the canary's patches in the work tree (what `lab build
    --variant canary` applies and keys its module cache by)."""
    return {os.path.basename(p): sha256_file(p)
            for p in sorted(glob.glob(os.path.join(top, CANARY_DIR, "*.patch")))}


def parse_sums(text: str) -> dict:
    """`sha256sum FILE...` output -> {file name: sha256}."""
    out = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not re.fullmatch(r"[0-9a-f]{64}", parts[0]):
            raise ValueError(f"not a sha256sum line: {line!r}")
        out[os.path.basename(parts[1].strip().lstrip("*"))] = parts[0]
    return dict(sorted(out.items()))


@functools.lru_cache(maxsize=None)
def _git(top: str, *args: str) -> bytes:
    try:
        p = subprocess.run(["git", "-C", top, *args], capture_output=True, check=False)
    except OSError as e:
        raise ConditionsError(f"git: {e}") from None
    if p.returncode != 0:
        raise ConditionsError(f"git {' '.join(args)}: "
                              f"{p.stderr.decode(errors='replace').strip()}")
    return p.stdout


def _commit_known(commit: str, top: str) -> str:
    """The full hash of `commit`, which must be in this repository."""
    try:
        return _git(top, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"
                    ).decode().strip()
    except ConditionsError:
        raise ConditionsError(f"commit {commit} is not in this repository ({top}): "
                              "its canary patches and thresholds cannot be read") from None


def canary_patches_at(commit: str, top: str = TOP) -> dict:
    """{file name: sha256} of tests/canary/*.patch as committed in `commit`."""
    names = _git(top, "ls-tree", "--name-only", commit, "--", CANARY_DIR + "/").decode()
    return {os.path.basename(p): sha256_bytes(_git(top, "cat-file", "blob", f"{commit}:{p}"))
            for p in sorted(names.split("\n")) if p.endswith(".patch")}


def thresholds_at(commit: str, top: str = TOP) -> str:
    return sha256_bytes(_git(top, "cat-file", "blob", f"{commit}:{THRESHOLDS}"))


def read_conditions_txt(trial_dir: str) -> dict:
    """The "key: value" lines gate-proof.sh writes to TRIAL_DIR/conditions.txt (first of
    each key): started, git, finished, ..."""
    out = {}
    try:
        with open(os.path.join(trial_dir, "conditions.txt")) as f:
            for line in f:
                k, sep, v = line.partition(": ")
                if sep:
                    out.setdefault(k.strip(), v.strip())
    except OSError:
        pass
    return out


# Where each measured condition is in a rep's meta.json.
META_FIELDS = {"workload": ("workload",), "icount": ("host", "icount"),
               "scratch": ("f2fs", "device_kind"), "vcpus": ("host", "cpus"),
               "git": ("git", "revision")}


def measured(trial_dir: str):
    """What the reps' meta.json (TRIAL_DIR/run/rep-NN, run/VARIANT/rep-NN) recorded:
    ({field: value}, {field: source}, {variant: f2fs module sha256}, git dirty or None).
    Empty when there is no run/ (a boot that failed, a record archived without it)."""
    run = os.path.join(trial_dir, "run")
    paths = sorted(glob.glob(os.path.join(run, "rep-[0-9][0-9]", "meta.json"))
                   + glob.glob(os.path.join(run, "*", "rep-[0-9][0-9]", "meta.json")))
    got, where, mods, dirty, n = {}, {}, {}, None, 0
    for p in paths:
        try:
            with open(p) as f:
                m = json.load(f)
        except (OSError, ValueError):
            continue   # a rep that failed before writing it
        n += 1
        rel = os.path.relpath(p, trial_dir)
        for field, keys in META_FIELDS.items():
            v = m
            for k in keys:
                v = v.get(k) if isinstance(v, dict) else None
            if field == "icount":
                v = v or "off"   # absent reads as "off" (runner/results.py)
            if v is None:
                continue
            if field in got and got[field] != v:
                raise ConditionsError(f"{trial_dir}: its reps disagree on {field}: "
                                      f"{got[field]!r} ({where[field]}), {v!r} ({rel})")
            got.setdefault(field, v)
            where.setdefault(field, rel)
        g = m.get("git") or {}
        if "dirty" in g:
            dirty = bool(g["dirty"]) or bool(dirty)
        mod = (m.get("kernel") or {}).get("f2fs_module_sha256")
        if mod and m.get("variant"):
            mods.setdefault(m["variant"], mod)
    src = {f: f"meta.json {'.'.join(META_FIELDS[f])} of the {n} reps in run/ ({where[f]}, ...)"
           for f in got}
    return got, src, dict(sorted(mods.items())), dirty


def runner_default(field: str, icount: str):
    """The runner's --scratch and --cpus defaults: ram and 1 vCPU with -icount, else a
    virtio disk and 2 (`./wbtrace run --help`)."""
    on = bool(icount) and icount != "off"
    return {"scratch": "ram" if on else "virtio_blk", "vcpus": 1 if on else 2}[field]


def trial_conditions(trial_dir: str, kind: str, rec: dict, given=None, thresholds=None,
                     legacy=False, top=TOP) -> dict:
    """The conditions of the trial in `trial_dir` (its record `rec`).

    given: what gate-proof.sh passed (workload, reps, icount, canary_patches taken when the
    trial started).  thresholds: the file the trial was just gated with (trial); legacy:
    a /1 record, its canary patches and thresholds read from its commit."""
    given = {k: v for k, v in (given or {}).items() if v is not None}
    meas, msrc, mods, dirty = measured(trial_dir)
    ctxt = read_conditions_txt(trial_dir)
    cond, src = {}, {}
    derived = legacy

    for f in ("workload", "icount"):
        if f in meas:
            cond[f], src[f] = meas[f], msrc[f]
            if f in given and given[f] != meas[f]:
                src[f] += f" (gate-proof.sh asked for {given[f]!r})"
        elif f in given:
            cond[f], src[f] = given[f], f"gate-proof.sh --{f}"
        else:
            cond[f], src[f] = LEGACY_DEFAULTS[f], "gate-proof.sh's default (b592f2c-fb23af5)"
            derived = True

    if "reps" in given:
        cond["reps"], src["reps"] = int(given["reps"]), "gate-proof.sh --reps"
    else:
        derived = True
        cmp_reps = None
        try:
            with open(os.path.join(trial_dir, "run", schema.CMP_FILE)) as f:
                cmp_reps = json.load(f).get("reps")
        except (OSError, ValueError, AttributeError):
            pass
        if rec.get("reps") and len(set(rec["reps"])) == 1:
            cond["reps"], src["reps"] = rec["reps"][0], "the reps a side the gate judged"
        elif cmp_reps:
            cond["reps"], src["reps"] = int(cmp_reps), f"run/{schema.CMP_FILE} reps"
        else:
            cond["reps"] = LEGACY_DEFAULTS["reps"]
            src["reps"] = "gate-proof.sh's default (b592f2c-fb23af5)"

    for f in ("scratch", "vcpus"):
        if f in meas:
            cond[f], src[f] = meas[f], msrc[f]
        else:
            cond[f] = runner_default(f, cond["icount"])
            src[f] = f"the runner's default for -icount {cond['icount']} (no meta.json)"
            derived = True

    git_dirty = dirty
    if "git" in meas:
        commit, src["git"] = meas["git"], msrc["git"]
    elif ctxt.get("git") and ctxt["git"] != "none":
        commit, src["git"] = ctxt["git"], "conditions.txt git:"
    elif not legacy:
        try:
            commit = _git(top, "rev-parse", "HEAD").decode().strip()
        except ConditionsError:
            commit = None
        src["git"] = "git rev-parse HEAD when gated"
        derived = True
    else:
        raise ConditionsError(f"{trial_dir}: no git commit recorded (no meta.json, no "
                              "conditions.txt git: line): its conditions cannot be derived")

    if legacy:
        full = _commit_known(commit, top)
        caveat = (" (the tree had uncommitted changes: what ran may differ)" if dirty
                  else " (whether the tree had uncommitted changes is not recorded)"
                  if dirty is None else "")
        cond["canary_patches"] = canary_patches_at(full, top)
        src["canary_patches"] = f"git show {commit[:12]}:{CANARY_DIR}/*.patch{caveat}"
        cond["thresholds_sha256"] = thresholds_at(full, top)
        src["thresholds_sha256"] = f"git show {commit[:12]}:{THRESHOLDS}{caveat}"
    else:
        if "canary_patches" in given:
            cond["canary_patches"] = dict(sorted(given["canary_patches"].items()))
            src["canary_patches"] = f"{CANARY_DIR}/*.patch when the trial started"
        else:
            cond["canary_patches"] = canary_patches_now(top)
            src["canary_patches"] = (f"{CANARY_DIR}/*.patch when the trial was gated (not "
                                     "recorded when it started)")
            derived = True
        path = thresholds or gate.DEFAULT_THRESHOLDS
        try:
            cond["thresholds_sha256"] = sha256_file(path)
        except OSError:
            cond["thresholds_sha256"] = None
        src["thresholds_sha256"] = _shown_path(path, top) + ", the file the trial was gated with"
    cond["git"] = commit
    cond["git_dirty"] = git_dirty
    if mods:
        cond["f2fs_module_sha256"] = mods
    cond["derived"] = derived
    cond["sources"] = {k: src[k] for k in ("workload", "reps", "icount", "scratch", "vcpus",
                                           "canary_patches", "thresholds_sha256", "git")}
    order = ("workload", "reps", "icount", "scratch", "vcpus", "canary_patches",
             "thresholds_sha256", "git", "git_dirty", "f2fs_module_sha256", "derived",
             "sources")
    return {k: cond[k] for k in order if k in cond}


def _shown_path(path: str, top: str) -> str:
    """path relative to the clone when inside it (as a record names a file)."""
    return os.path.relpath(path, top) if path.startswith(top + "/") else path


def upgrade(rec: dict, trial_dir: str, top: str = TOP) -> dict:
    """A /1 record (no conditions) as a /2 one, its conditions derived (legacy)."""
    new = dict(rec)
    new["schema"] = TRIAL_SCHEMA
    new["upgraded_from"] = TRIAL_SCHEMA_V1
    new["conditions"] = trial_conditions(trial_dir, rec["kind"], rec, legacy=True, top=top)
    return new


# ----------------------------------------------------------------------------- one trial

def split_aa(run_dir: str):
    """The reps of one `run --reps 2R` dir as two interleaved sides: odd reps A, even B."""
    reps = sorted(glob.glob(os.path.join(run_dir, "rep-[0-9][0-9]")))
    runs = [schema.load_run(d) for d in reps]
    if len(runs) < 2:
        raise schema.ResultsError(f"{run_dir}: an A/A trial needs at least 2 rep dirs, "
                                  f"found {len(runs)}")
    a = schema.Group(label="A:stock", runs=[r for r in runs if r.meta["rep"] % 2 == 1],
                     source=f"{run_dir} (odd reps)")
    b = schema.Group(label="B:stock", runs=[r for r in runs if r.meta["rep"] % 2 == 0],
                     source=f"{run_dir} (even reps)")
    return a, b


def gate_trial(kind: str, run_dir: str, thresholds=None) -> dict:
    """The gate document of one trial (a 'cannot judge' document when it cannot load)."""
    try:
        thr = gate.load_thresholds(thresholds)
        if kind == "aa":
            a, b = split_aa(run_dir)
        else:
            a, b = schema.resolve_pair([run_dir])
        return gate.gate(a, b, thr)
    except schema.WbtraceError as e:
        return gate.error_doc(str(e))


def trial_record(kind: str, rc: int, doc, seconds=None, conditions=None) -> dict:
    """What the tally needs from one trial: its verdict (None when the run failed: a failed
    rep is a failed trial, whatever its gate said), the metrics called regressions, the shown
    metrics' deltas and intervals, the conditions."""
    rec = {"schema": TRIAL_SCHEMA, "kind": kind, "run_rc": rc, "seconds": seconds,
           "status": None, "regressions": [], "reps": None, "deltas": {}, "reason": None,
           "conditions": conditions}
    if rc != 0 or doc is None:
        rec["reason"] = (f"the run failed (exit {rc}); its gate said {doc['status']}"
                         if doc is not None else f"the run failed (exit {rc}): no verdict")
        return rec
    rec["status"] = doc["status"]
    if doc.get("baseline"):
        rec["reps"] = [len(doc["baseline"]["runs"]), len(doc["candidate"]["runs"])]
    rec["regressions"] = [c["metric"] for c in doc["checks"] if c["status"] == gate.REGRESSION]
    for c in doc["checks"]:
        if c["metric"] in SHOWN:
            rec["deltas"][c["metric"]] = {"delta_pct": c["delta_pct"], "ci_pct": c["ci_pct"],
                                          "decision": c.get("decision")}
    if doc["status"] == gate.CANNOT_JUDGE:
        rec["reason"] = doc["reasons"][0] if doc["reasons"] else "no reason given"
    return rec


def _write_json(path: str, doc, **kw):
    """Write `path` whole or not at all (an archive may read it meanwhile)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, **kw)
    os.replace(tmp, path)


def cmd_trial(args) -> int:
    run_dir = os.path.join(args.dir, "run")
    # A run that failed (`run` and `compare` exit 0 only when every rep ran and passed
    # verification) is still gated when its dirs are there, for the record, but its
    # verdict does not count: a failed rep is a failed trial.
    doc = gate_trial(args.kind, run_dir, args.thresholds) if os.path.isdir(run_dir) else None
    if doc is not None:
        _write_json(os.path.join(args.dir, "gate.json"), doc, allow_nan=True)
    rec = trial_record(args.kind, args.rc, doc, args.seconds)
    given = {"workload": args.workload, "reps": args.reps, "icount": args.icount,
             "canary_patches": args.canary_sha256}
    try:
        rec["conditions"] = trial_conditions(args.dir, args.kind, rec, given,
                                             args.thresholds)
    except (ConditionsError, OSError, ValueError) as e:
        # The verdict is kept; a tally will not pool a trial with unknown conditions.
        rec["conditions"] = {"error": str(e), "derived": True}
    _write_json(os.path.join(args.dir, TRIAL_FILE), rec)
    print(f"gate-proof: {args.kind} {os.path.basename(os.path.normpath(args.dir))}: "
          f"{rec['status'] or 'no verdict'}"
          + (f" ({', '.join(rec['regressions'])})" if rec["regressions"] else "")
          + (f"; {rec['reason']}" if rec["reason"] else ""))
    return 0


def regate_trial(trial_dir: str, thresholds=None, top: str = TOP) -> dict:
    """Gate one lane trial again from its run/ (regate); its new record, written."""
    run_dir = os.path.join(trial_dir, "run")
    if not os.path.isdir(run_dir):
        raise ValueError(f"{trial_dir}: no run/ (the archive keeps no runs): cannot regate")
    old = _read_record(os.path.join(trial_dir, TRIAL_FILE))
    if old["schema"] == TRIAL_SCHEMA_V1:
        old = upgrade(old, trial_dir, top)
    cond = old.get("conditions")
    if not isinstance(cond, dict) or "error" in cond:
        raise ValueError(f"{trial_dir}/{TRIAL_FILE}: no conditions to keep")
    path = thresholds or gate.DEFAULT_THRESHOLDS
    doc = gate_trial(old["kind"], run_dir, path)
    _write_json(os.path.join(trial_dir, "gate.json"), doc, allow_nan=True)
    rec = trial_record(old["kind"], old["run_rc"], doc, old.get("seconds"))
    cond = dict(cond)
    cond["thresholds_sha256"] = sha256_file(path)
    cond["sources"] = dict(cond.get("sources") or {})
    cond["sources"]["thresholds_sha256"] = (
        _shown_path(path, top) + ", the file the trial was gated again with (regate; the run "
        "is unchanged)")
    rec["conditions"] = cond
    prev = old.get("regated", {}).get("first") or {
        "status": old.get("status"), "regressions": old.get("regressions", []),
        "thresholds_sha256": (old.get("conditions") or {}).get("thresholds_sha256")}
    rec["regated"] = {"at": schema.utc_now(), "first": prev}
    for k in ("upgraded_from", "archived"):
        if k in old:
            rec[k] = old[k]
    _write_json(os.path.join(trial_dir, TRIAL_FILE), rec)
    return rec


def cmd_regate(args) -> int:
    bad = 0
    for d in args.trial_dirs:
        try:
            rec = regate_trial(d, args.thresholds)
        except (OSError, ValueError, ConditionsError) as e:
            print(f"gate_proof.py regate: {d}: refused: {e}", file=sys.stderr)
            bad += 1
            continue
        first = rec["regated"]["first"]
        print(f"gate-proof regate: {d}: {rec['status'] or 'no verdict'}"
              + (f" ({', '.join(rec['regressions'])})" if rec["regressions"] else "")
              + f"; was {first['status'] or 'no verdict'}")
    return 1 if bad else 0


# ----------------------------------------------------------------------------- the archive

def lane_name(src_dir: str) -> str:
    """results/gate-proof-s11 -> s11 (a dir not named gate-proof-* keeps its name)."""
    b = os.path.basename(os.path.normpath(os.path.abspath(src_dir)))
    return b[len(LANE_PREFIX):] if b.startswith(LANE_PREFIX) and b != LANE_PREFIX else b


def _read_record(path: str) -> dict:
    with open(path) as f:
        rec = json.load(f)
    if not isinstance(rec, dict) or rec.get("schema") not in (TRIAL_SCHEMA_V1, TRIAL_SCHEMA) \
            or rec.get("kind") not in KINDS:
        raise ValueError(f"{path}: not a {TRIAL_SCHEMA} (or /1) record")
    return rec


def archived_files(trial_dir: str, lane: str, top: str = TOP):
    """(name in the archive, {file: bytes}) for one trial: its record with conditions (a /1
    one upgraded), its gate.json and conditions.txt as they are."""
    rec = _read_record(os.path.join(trial_dir, TRIAL_FILE))
    if rec["schema"] == TRIAL_SCHEMA_V1:
        rec = upgrade(rec, trial_dir, top)
    elif not isinstance(rec.get("conditions"), dict):
        raise ValueError(f"{trial_dir}/{TRIAL_FILE}: a /2 record without conditions")
    # A record archived before (a pool merged into another) keeps its lane and trial.
    rec.setdefault("archived", {"lane": lane,
                                "trial": os.path.basename(os.path.normpath(trial_dir))})
    name = f"{rec['archived']['lane']}-{rec['archived']['trial']}"
    files = {TRIAL_FILE: (json.dumps(rec, indent=1) + "\n").encode()}
    for f in ARCHIVED[1:]:
        p = os.path.join(trial_dir, f)
        if os.path.isfile(p):
            with open(p, "rb") as fh:
                files[f] = fh.read()
    return name, files


def _differences(dest: str, files: dict):
    """How the record in `dest` differs from `files` ([] when it is the same record):
    trial.json compared as JSON, the others byte for byte."""
    there = {f for f in ARCHIVED if os.path.isfile(os.path.join(dest, f))}
    diffs = [f"{f} {'only in the archive' if f in there else 'missing from the archive'}"
             for f in sorted(there ^ set(files))]
    for f in sorted(there & set(files)):
        with open(os.path.join(dest, f), "rb") as fh:
            old = fh.read()
        if f == TRIAL_FILE:
            try:
                a, b = json.loads(old), json.loads(files[f])
            except ValueError:
                a, b = old, files[f]
            if a != b:
                keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)) \
                    if isinstance(a, dict) else []
                if "conditions" in keys and isinstance(a.get("conditions"), dict):
                    ca, cb = a["conditions"], b.get("conditions") or {}
                    keys[keys.index("conditions")] = "conditions." + "/".join(
                        sorted(k for k in set(ca) | set(cb) if ca.get(k) != cb.get(k)))
                diffs.append(f"{f} ({', '.join(keys) or 'content'})")
        elif old != files[f]:
            diffs.append(f)
    return diffs


def archive_trial(trial_dir: str, lane: str, to: str, top: str = TOP):
    """Archive one trial: ('archived' | 'unchanged', name) or raise ValueError (refused)."""
    name, files = archived_files(trial_dir, lane, top)
    dest = os.path.join(to, name)
    if os.path.exists(dest):
        diffs = _differences(dest, files)
        if diffs:
            raise ValueError(f"{name}: a different record is archived there already "
                             f"({'; '.join(diffs)}): not overwritten")
        return "unchanged", name
    os.makedirs(to, exist_ok=True)
    tmp = os.path.join(to, f".tmp-{name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for f, data in files.items():
        with open(os.path.join(tmp, f), "wb") as fh:
            fh.write(data)
    try:
        os.rename(tmp, dest)   # whole or not at all; fails if dest appeared meanwhile
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.exists(dest) and not _differences(dest, files):
            return "unchanged", name
        raise ValueError(f"{name}: could not be archived: {dest} appeared meanwhile "
                         "and differs") from None
    return "archived", name


def cmd_archive(args) -> int:
    to = os.path.abspath(args.to)
    for src in args.src:
        if not os.path.isdir(src):
            print(f"gate_proof.py archive: error: {src}: no such directory", file=sys.stderr)
            return 2
        if os.path.realpath(src) == os.path.realpath(to):
            print(f"gate_proof.py archive: error: {src} is the archive itself",
                  file=sys.stderr)
            return 2
    counts = {"archived": 0, "unchanged": 0, "refused": 0, "skipped": 0}
    for src in args.src:
        lane = lane_name(src)
        for d in sorted(glob.glob(os.path.join(src, "*"))):
            trial = os.path.basename(d)
            if not os.path.isdir(d) or not TRIAL_NAME.fullmatch(trial):
                continue
            if not os.path.isfile(os.path.join(d, TRIAL_FILE)):
                print(f"gate-proof archive: {lane}-{trial}: skipped: no {TRIAL_FILE} (still "
                      "running, interrupted or never gated)")
                counts["skipped"] += 1
                continue
            try:
                what, name = archive_trial(d, lane, to)
            except (ValueError, OSError, ConditionsError) as e:
                print(f"gate-proof archive: {lane}-{trial}: refused: {e}", file=sys.stderr)
                counts["refused"] += 1
                continue
            counts[what] += 1
            if what == "archived":
                print(f"gate-proof archive: {name}: archived")
    print(f"gate-proof archive: into {to}: {counts['archived']} archived, "
          f"{counts['unchanged']} already there, {counts['refused']} refused, "
          f"{counts['skipped']} skipped")
    return 1 if counts["refused"] else 0


# ----------------------------------------------------------------------------- the tally

def load_trials(top: str, repo: str = TOP):
    """The records of top/*/trial.json with their conditions (derived for /1 records),
    name, lane and start time (conditions.txt)."""
    out = []
    default_lane = lane_name(top)
    for p in sorted(glob.glob(os.path.join(top, "*", TRIAL_FILE))):
        d = os.path.dirname(p)
        rec = _read_record(p)
        if rec["schema"] == TRIAL_SCHEMA_V1:
            try:
                rec = upgrade(rec, d, repo)
            except ConditionsError as e:
                raise ValueError(f"{p}: {e}") from None
        elif not isinstance(rec.get("conditions"), dict):
            raise ValueError(f"{p}: a {TRIAL_SCHEMA} record without conditions")
        rec["name"] = os.path.basename(d)
        rec["lane"] = (rec.get("archived") or {}).get("lane") or default_lane
        rec["started"] = read_conditions_txt(d).get("started")
        out.append(rec)
    return out


def _show(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} {_show(x)}" for k, x in v.items()) or "none"
    if isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v):
        return v[:12]
    return "unknown" if v is None else str(v)


def pooling_conflicts(trials):
    """[(kind, field, {shown value: [trial names]})] for each field of POOLED_ON on which
    the trials of a kind disagree."""
    out = []
    for kind in KINDS:
        ts = [t for t in trials if t["kind"] == kind]
        for field in POOLED_ON[kind]:
            groups = {}
            for t in ts:
                v = json.dumps(t["conditions"].get(field), sort_keys=True)
                groups.setdefault(v, []).append(t["name"])
            if len(groups) > 1:
                out.append((kind, field, {_show(json.loads(v)): names
                                          for v, names in groups.items()}))
    return out


def tally(trials) -> dict:
    """Counts per kind and verdict, and the two rates.  The denominator of a rate is the
    trials with a verdict the gate could reach (pass, regression, inconclusive); runs that
    failed and 'cannot judge' are counted apart (they are neither a pass nor a call)."""
    res = {}
    for kind in KINDS:
        ts = [t for t in trials if t["kind"] == kind]
        counts = {s: sum(t["status"] == s for t in ts)
                  for s in (gate.PASS, gate.REGRESSION, gate.INCONCLUSIVE, gate.CANNOT_JUDGE)}
        counts["failed"] = sum(t["status"] is None for t in ts)
        n = counts[gate.PASS] + counts[gate.REGRESSION] + counts[gate.INCONCLUSIVE]
        k = counts[gate.REGRESSION]
        entry = {"trials": len(ts), "counts": counts, "n": n, "k": k, "rate": None,
                 "clopper_pearson": None, "wilson": None}
        if n:
            entry["rate"] = k / n
            entry["clopper_pearson"] = list(clopper_pearson(k, n))
            entry["wilson"] = list(wilson(k, n))
        upper = kind == "aa"
        target = FALSE_REGRESSION_TARGET if upper else DETECTION_TARGET
        entry["target"] = target
        entry["runs_to_show"] = runs_to_show(target, upper)
        ci = entry["clopper_pearson"]
        entry["shown"] = bool(ci) and (ci[1] <= target if upper else ci[0] >= target)
        res[kind] = entry
    return res


def provenance(trials) -> dict:
    """Where the trials come from: per lane the count and first/last start; per kind the
    pooled conditions, the commits and how many records were derived after the fact."""
    lanes = {}
    for t in trials:
        e = lanes.setdefault(t["lane"], {"trials": 0, "first": None, "last": None})
        e["trials"] += 1
        s = t.get("started")
        if s:
            e["first"] = min(e["first"] or s, s)
            e["last"] = max(e["last"] or s, s)
    kinds = {}
    for kind in KINDS:
        ts = [t for t in trials if t["kind"] == kind]
        if not ts:
            continue
        c = ts[0]["conditions"]
        commits = {}
        for t in ts:
            g = t["conditions"].get("git")
            key = (g or "unknown")[:7] + (" (dirty)" if t["conditions"].get("git_dirty") else "")
            commits[key] = commits.get(key, 0) + 1
        kinds[kind] = {"trials": len(ts),
                       "conditions": {f: c.get(f) for f in POOLED_ON[kind]},
                       "commits": commits,
                       "derived": sum(bool(t["conditions"].get("derived")) for t in ts)}
    return {"lanes": lanes, "kinds": kinds}


def _pct(x):
    return "-" if x is None else f"{100.0 * x:.0f} %"


def _delta(t, metric):
    d = t["deltas"].get(metric)
    if not d or d["delta_pct"] is None:
        return "-"
    ci = d["ci_pct"]
    return f"{d['delta_pct']:+.1f} %" + (f" [{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci else "")


def _when(first, last):
    if not first:
        return "start not recorded"
    a, b = first.replace("T", " ").rstrip("Z"), last.replace("T", " ").rstrip("Z")
    if a[:16] == b[:16]:
        return f"{a[:16]} UTC"
    if a[:10] == b[:10]:
        return f"{a[:16]}–{b[11:16]} UTC"
    return f"{a[:16]} – {b[:16]} UTC"


def provenance_markdown(trials, prov) -> str:
    kinds = ", ".join(f"{prov['kinds'][k]['trials']} {k}" for k in KINDS if k in prov["kinds"])
    lanes = "; ".join(f"{lane} ({e['trials']}, started {_when(e['first'], e['last'])})"
                      for lane, e in sorted(prov["lanes"].items(),
                                            key=lambda x: (x[1]["first"] or "", x[0])))
    lines = [f"{len(trials)} trials ({kinds}) from {len(prov['lanes'])} "
             f"lane{'s' if len(prov['lanes']) != 1 else ''}: {lanes}.", ""]
    for kind, e in prov["kinds"].items():
        c = e["conditions"]
        what = (f"{c['workload']}, {c['reps']} reps a side, -icount {c['icount']}, scratch "
                f"{c['scratch']}, {c['vcpus']} vCPU{'s' if c['vcpus'] != 1 else ''}, "
                f"thresholds sha256 {_show(c['thresholds_sha256'])}")
        if kind == "canary":
            what += f", canary {_show(c['canary_patches'])}"
        commits = ", ".join(f"{g} ×{n}" if n > 1 else g for g, n in e["commits"].items())
        lines.append(f"- {kind} trials: {what}; commits {commits}"
                     + (f"; conditions derived after the fact for {e['derived']} "
                        "(see their trial.json conditions.sources)" if e["derived"] else "")
                     + ".")
    return "\n".join(lines) + "\n\n"


def markdown(trials, res) -> str:
    lines = ["| trial | kind | reps a side | verdict | called regressions | "
             "guest CPU/MiB Δ [95 % CI] | bandwidth Δ [95 % CI] | host s |",
             "|---|---|---|---|---|---|---|---|"]
    for t in trials:
        lines.append(f"| {t['name']} | {t['kind']} | "
                     f"{'/'.join(map(str, t['reps'])) if t['reps'] else '-'} | "
                     f"{t['status'] or 'no verdict: ' + (t['reason'] or '')} | "
                     f"{', '.join(t['regressions']) or '-'} | "
                     f"{_delta(t, 'sys.cpu_ms_per_MiB')} | {_delta(t, 'fio.bw_MiBps')} | "
                     f"{'-' if t['seconds'] is None else round(t['seconds'])} |")
    lines += ["", "| | trials | pass | regression | inconclusive | cannot judge | run failed | "
              "rate (of pass + regression + inconclusive) | 95 % Clopper-Pearson | "
              "target | shown? |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for kind, what in (("aa", "stock vs stock: false regressions"),
                       ("canary", "stock vs canary: detections")):
        e = res[kind]
        c = e["counts"]
        ci = e["clopper_pearson"]
        want = (f"≤ {_pct(e['target'])}" if kind == "aa" else f"≥ {_pct(e['target'])}")
        shown = ("yes" if e["shown"] else
                 f"no (needs ≥ {e['runs_to_show']} trials even with no "
                 f"{'false call' if kind == 'aa' else 'miss'})")
        lines.append(f"| {what} | {e['trials']} | {c[gate.PASS]} | {c[gate.REGRESSION]} | "
                     f"{c[gate.INCONCLUSIVE]} | {c[gate.CANNOT_JUDGE]} | {c['failed']} | "
                     f"{e['k']}/{e['n']} = {_pct(e['rate'])} | "
                     f"{'-' if not ci else _pct(ci[0]) + ' – ' + _pct(ci[1])} | {want} | "
                     f"{shown} |")
    return "\n".join(lines) + "\n"


def cmd_tally(args) -> int:
    try:
        trials = load_trials(args.dir)
    except (OSError, ValueError) as e:
        print(f"gate_proof.py tally: error: {e}", file=sys.stderr)
        return 2
    if not trials:
        print(f"gate_proof.py tally: error: no {TRIAL_FILE} under {args.dir}/*/",
              file=sys.stderr)
        return 2
    conflicts = pooling_conflicts(trials)
    if conflicts:
        print(f"gate_proof.py tally: error: {args.dir}: will not pool trials measured under "
              "different conditions (archive them apart, or tally each lane):",
              file=sys.stderr)
        for kind, field, groups in conflicts:
            print(f"  {kind} trials differ in {field}: "
                  + "; ".join(f"{v} in {', '.join(names)}" for v, names in groups.items()),
                  file=sys.stderr)
        return 2
    res = tally(trials)
    prov = provenance(trials)
    sys.stdout.write(provenance_markdown(trials, prov) + markdown(trials, res))
    if args.json:
        _write_json(args.json, {"schema": TALLY_SCHEMA, "provenance": prov,
                                "trials": trials, "tally": res})
    return 0


def _sums(text):
    if not text.strip():
        return None   # sha256sum failed: the work tree's patches when gated, derived
    try:
        return parse_sums(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="gate_proof.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("trial", help="gate one trial and record it")
    t.add_argument("--kind", choices=KINDS, required=True)
    t.add_argument("--dir", required=True, help="the trial dir (its run in DIR/run)")
    t.add_argument("--rc", type=int, required=True, help="the run's exit status")
    t.add_argument("--seconds", type=float, default=None, help="host wall time of the run")
    t.add_argument("--thresholds", default=None, help="default: analysis/thresholds.json")
    t.add_argument("--workload", default=None, help="the workload gate-proof.sh ran")
    t.add_argument("--reps", type=int, default=None, help="the reps a side it asked for")
    t.add_argument("--icount", default=None, help="the -icount spec it asked for")
    t.add_argument("--canary-sha256", type=_sums, default=None, metavar="SUMS",
                   help="sha256sum of tests/canary/*.patch when the trial started")
    a = sub.add_parser("archive", help="copy the trials' small records into the archive")
    a.add_argument("src", nargs="+", metavar="SRC_DIR")
    a.add_argument("--to", default=POOL, help="default: results/gate-proof")
    g = sub.add_parser("regate", help="gate lane trials again from their kept runs")
    g.add_argument("trial_dirs", nargs="+", metavar="TRIAL_DIR")
    g.add_argument("--thresholds", default=None, help="default: analysis/thresholds.json")
    y = sub.add_parser("tally", help="the rates over DIR/*/trial.json")
    y.add_argument("dir")
    y.add_argument("--json", default=None)
    args = p.parse_args(argv)
    return {"trial": cmd_trial, "archive": cmd_archive, "regate": cmd_regate,
            "tally": cmd_tally}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
