"""The fstests ledger: every run's outcomes, kept in git, so that a proof that needs
more boots than a session has (issue 13: -g quick and f2fs/ on both variants and
every section is 10-15 h of guest time per variant and section under TCG)
accumulates across sessions and machines.

results/fstests-ledger/STAMP.json, one small file per `./wbtrace fstests` run:
its conditions (the lab kernel and each variant's module, named by the cache keys
build.sh derives from their inputs; the fstests source's sha256; the debug kernel
or not) and, per section and test, each variant's outcome (first round and rerun)
and the run's verdict on a difference.

Coverage pools only records whose conditions are the current ones: an outcome on
an older series is no evidence for this one.  For each (section, test, variant)
the newest record counts.
"""
import glob
import json
import os
import re
from dataclasses import dataclass

from fstests import results

LEDGER_DIR = os.path.join("results", "fstests-ledger")
REASON_MAX = 200    # a failure's or not-run reason, as kept


@dataclass(frozen=True)
class Conditions:
    kernel: str            # the lab kernel's cache key, e.g. kernel-5f2826bc2da4ee11
    modules: tuple         # ((variant, module cache key), ...) sorted
    fstests_sha256: str
    debug_kernel: bool

    def as_dict(self):
        return {"kernel": self.kernel, "modules": dict(self.modules),
                "fstests_sha256": self.fstests_sha256, "debug_kernel": self.debug_kernel}

    @classmethod
    def from_dict(cls, d):
        return cls(d["kernel"], tuple(sorted(d["modules"].items())), d["fstests_sha256"],
                   bool(d["debug_kernel"]))

    def module(self, variant):
        return dict(self.modules).get(variant)

    def covers(self, other, variants):
        """Whether a record made under OTHER counts under these conditions for VARIANTS."""
        return (other.kernel == self.kernel and other.fstests_sha256 == self.fstests_sha256
                and other.debug_kernel == self.debug_kernel
                and all(other.module(v) is not None and other.module(v) == self.module(v)
                        for v in variants))


def conditions_from_paths(paths, fstests_sha256, debug_kernel):
    """Conditions from build.sh --print-paths' KEY=VALUE lines (a dict): the directory
    names of the kernel and of each variant's module are their input-hash cache keys."""
    mods = []
    for key, val in paths.items():
        m = re.fullmatch(r"MODULE_([A-Z]+)", key)
        if m and val:
            mods.append((m.group(1).lower(), os.path.basename(os.path.dirname(val))))
    return Conditions(os.path.basename(paths["KERNEL_DIR"].rstrip("/")), tuple(sorted(mods)),
                      fstests_sha256, debug_kernel)


def record_from_summary(summary, conditions, commit):
    """The ledger record of one run's summary (results.summarize())."""
    secs = {}
    for sec, rec in summary["sections"].items():
        tests = {}
        for name, row in rec["tests"].items():
            entry = {}
            for key, t in row.items():
                if key == "verdict":
                    entry[key] = t
                else:
                    entry[key] = {"status": t["status"], "seconds": t["seconds"],
                                  "reason": t["reason"][:REASON_MAX]}
            tests[name] = entry
        secs[sec] = tests
    return {"stamp": summary["started"], "commit": commit, "variants": summary["variants"],
            "test_args": summary["test_args"], "conditions": conditions.as_dict(),
            "broken": summary["broken"], "interrupted": bool(summary.get("interrupted")),
            "sections": secs}


def write_record(top, record):
    """results/fstests-ledger/STAMP.json; returns its path."""
    d = os.path.join(top, LEDGER_DIR)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"{record['stamp']}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)
    return path


def load_records(top):
    """Every record, oldest first (by stamp, which sorts as time)."""
    out = []
    for path in sorted(glob.glob(os.path.join(top, LEDGER_DIR, "*.json"))):
        with open(path) as f:
            rec = json.load(f)
        rec["_path"] = path
        out.append(rec)
    return out


def latest(records, conditions, variants):
    """{section: {test: {variant: status}}}: the newest outcome of each (section, test,
    variant) among the records made under CONDITIONS (a rerun's status is the newer);
    the number of records that counted for some variant; {variant: records of that
    variant that did not count (made under other conditions, e.g. an older module)};
    and {section: {test}} that some counted record judged a flake (its rerun did not
    repeat a difference)."""
    out, used, other, flaky = {}, 0, {v: 0 for v in variants}, {}
    for rec in sorted(records, key=lambda r: r["stamp"]):
        cond = Conditions.from_dict(rec["conditions"])
        ran = [v for v in variants if v in rec["variants"]]
        mine = [v for v in ran if conditions.covers(cond, [v])]
        for v in ran:
            if v not in mine:
                other[v] += 1
        if not mine:
            continue
        used += 1
        for sec, tests in rec["sections"].items():
            for name, row in tests.items():
                if row.get("verdict") == results.FLAKE:
                    flaky.setdefault(sec, set()).add(name)
                for v in mine:
                    t = row.get(f"{v}_rerun") or row.get(v)
                    if t:
                        out.setdefault(sec, {}).setdefault(name, {})[v] = t["status"]
    return out, used, other, flaky


# The test directories `check -g GROUP` reads for FSTYP=f2fs (check: SRC_GROUPS, then $FSTYP).
F2FS_DIRS = ("generic", "f2fs")


def group_tests(tree, group):
    """The tests of an fstests group as `check -g GROUP` finds them for f2fs, from the
    built tree's tests/DIR/group.list files.  GROUP is 'quick' or 'DIR/quick'."""
    if "/" in group:
        dirs, grp = [group.split("/", 1)[0]], group.split("/", 1)[1]
    else:
        dirs, grp = F2FS_DIRS, group
    out = []
    for d in dirs:
        try:
            with open(os.path.join(tree, "tests", d, "group.list")) as f:
                for line in f:
                    words = line.split()
                    if len(words) >= 2 and not words[0].startswith("#") and grp in words[1:]:
                        out.append(f"{d}/{words[0]}")
        except OSError:
            continue
    return out


def not_done(tests, done, sections, variants):
    """TESTS (in order) that lack an outcome for some section and variant."""
    return [t for t in tests
            if any(v not in done.get(s, {}).get(t, {}) for s in sections for v in variants)]


def coverage(tests, done, sections, variants, flaky=None):
    """Per section: how many of TESTS have outcomes on every variant, and what they say."""
    out = {}
    for sec in sections:
        have = done.get(sec, {})
        flaky_here = sorted(t for t in (flaky or {}).get(sec, ()) if t in tests)
        both = [t for t in tests if all(v in have.get(t, {}) for v in variants)]
        some = [t for t in tests if t not in both and have.get(t)]
        rec = {"tests": len(tests), "complete": len(both), "partial": len(some),
               "missing": len(tests) - len(both) - len(some),
               "counts": {v: {s: sum(1 for t in both if have[t][v] == s)
                              for s in (results.PASS, results.FAIL, results.NOTRUN, results.HUNG)}
                          for v in variants},
               "flaky": flaky_here}
        if len(variants) == 2:
            s_v, p_v = variants
            rec["patched_bad_stock_pass"] = [t for t in both if have[t][p_v] in results.BAD
                                             and have[t][s_v] == results.PASS]
            rec["bad_on_both"] = [t for t in both if have[t][p_v] in results.BAD
                                  and have[t][s_v] in results.BAD]
            rec["stock_bad_patched_pass"] = [t for t in both if have[t][s_v] in results.BAD
                                             and have[t][p_v] == results.PASS]
            rec["other_differences"] = [t for t in both if have[t][s_v] != have[t][p_v]
                                        and t not in rec["patched_bad_stock_pass"]
                                        and t not in rec["stock_bad_patched_pass"]]
            rec["same_outcome"] = sum(1 for t in both if have[t][s_v] == have[t][p_v])
        out[sec] = rec
    return out


def render_coverage(cov, what, conditions, used, other, variants):
    """The coverage report as text."""
    mods = ", ".join(f"{v} {conditions.module(v)}" for v in variants)
    out = [f"fstests ledger ({LEDGER_DIR}/): {used} run(s) under the current conditions "
           f"({conditions.kernel}{' debug' if conditions.debug_kernel else ''}; {mods}; "
           f"fstests {conditions.fstests_sha256[:12]}); not counted, made under other "
           f"conditions: {', '.join(f'{n} run(s) of {v}' for v, n in other.items())}",
           f"tests: {what}"]
    for sec, rec in cov.items():
        out.append(f"== section {sec}: {rec['complete']} of {rec['tests']} on "
                   f"{' and '.join(variants)}, {rec['partial']} on one only, {rec['missing']} not yet ==")
        for v in variants:
            c = rec["counts"][v]
            out.append(f"  {v}: {c[results.PASS]} passed, {c[results.FAIL]} failed, "
                       f"{c[results.HUNG]} hung, {c[results.NOTRUN]} not run")
        if len(variants) == 2:
            out.append(f"  same outcome on both: {rec['same_outcome']} of {rec['complete']}")
            out.append(f"  fail on patched, pass on stock: {' '.join(rec['patched_bad_stock_pass']) or 'none'}")
            out.append(f"  fail on both: {' '.join(rec['bad_on_both']) or 'none'}")
            out.append(f"  fail on stock only: {' '.join(rec['stock_bad_patched_pass']) or 'none'}")
            if rec["other_differences"]:
                out.append(f"  other differences (e.g. not run on one): {' '.join(rec['other_differences'])}")
        if rec["flaky"]:
            out.append(f"  flaky (a rerun did not repeat a difference): {' '.join(rec['flaky'])}")
    return "\n".join(out) + "\n"
