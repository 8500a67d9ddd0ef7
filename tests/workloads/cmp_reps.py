"""The reps of a comparison dir in the order they ran, each held to the f2fs module it
traced (for run-guest.sh's compare check):

  cmp_reps.py CMP_DIR

prints the variants of the reps by start time ("stock patched patched stock ..."), after
checking that each rep sits under its variant's dir, traced that variant's module (the
build-id in trace/summary.json against the lab's modules, from build.sh --print-paths)
and passed every verification step.  Exit 1 with the reason when one does not."""
import glob
import json
import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VARIANTS = ("stock", "patched")


def lab_build_ids():
    """{variant: build-id} of the lab's two f2fs modules."""
    out = subprocess.run([os.path.join(TOP, "kernel-patch", "lab", "build.sh"), "--print-paths"],
                         capture_output=True, text=True, check=True).stdout
    paths = dict(line.split("=", 1) for line in out.split())
    ids = {}
    for v in VARIANTS:
        note = subprocess.run(["readelf", "-n", paths["MODULE_" + v.upper()]],
                              capture_output=True, text=True, check=True).stdout
        found = re.search(r"Build ID: ([0-9a-f]+)", note)
        if not found:
            raise ValueError(f"the {v} module has no build-id note")
        ids[v] = found.group(1)
    if ids["stock"] == ids["patched"]:
        raise ValueError("both modules have one build-id")
    return ids


def reps_in_order(cmp_dir, build_ids):
    """The variant of every rep of cmp_dir by start time; ValueError for a rep that is
    mislabelled, traced another module or failed a verification step."""
    reps = []
    for path in glob.glob(os.path.join(cmp_dir, "*", "rep-*", "meta.json")):
        rep_dir = os.path.dirname(path)
        where = os.path.relpath(rep_dir, cmp_dir)
        with open(path) as f:
            meta = json.load(f)
        with open(os.path.join(rep_dir, "trace", "summary.json")) as f:
            summary = json.load(f)
        variant = meta["variant"]
        if where.split("/")[0] != variant:
            raise ValueError(f"{where}: meta says {variant}")
        if summary.get("module_build_id") != build_ids.get(variant):
            raise ValueError(f"{where}: labelled {variant} but traced module "
                             f"{summary.get('module_build_id')}")
        if not all(step == "pass" for step in meta["verify"].values()):
            raise ValueError(f"{where}: {meta['verify']}")
        reps.append((meta["started"], variant))
    if not reps:
        raise ValueError(f"{cmp_dir}: no reps (VARIANT/rep-*/meta.json)")
    return [v for _, v in sorted(reps)]


def main(argv):
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(argv) != 2:
        print("usage: cmp_reps.py CMP_DIR", file=sys.stderr)
        return 2
    try:
        print(" ".join(reps_in_order(argv[1], lab_build_ids())))
    except (OSError, ValueError, KeyError, subprocess.CalledProcessError) as e:
        print(f"cmp_reps.py: {e!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
