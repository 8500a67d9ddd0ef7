"""The Python of trace-probes.sh: reads the tracer's --check --json summaries.

  trace_probes.py probes SUMMARY          print the probe modes
  trace_probes.py sites SUMMARY           print the probe modes and every probe site, indented
  trace_probes.py holds SUMMARY EXPR      exit 0 if the Python expression EXPR over s (the summary) holds
  trace_probes.py same-sites A B          exit 0 if summaries A and B attached the same probe sites
"""
import json
import sys


def attached(s):
    """The targets of the probe sites of summary S that attached."""
    return {x["target"] for x in s["probe_sites"] if x["status"] == "attached"}


def holds(s, expr):
    return bool(eval(expr, {"s": s}))


def main(argv):
    mode = argv[1]
    docs = []
    for p in argv[2:4] if mode == "same-sites" else argv[2:3]:
        with open(p) as f:
            docs.append(json.load(f))
    if mode == "probes":
        print(docs[0]["probes"])
        return 0
    if mode == "sites":
        print("    probes:", docs[0]["probes"])
        for x in docs[0]["probe_sites"]:
            print("    ", x)
        return 0
    if mode == "holds":
        return 0 if holds(docs[0], argv[3]) else 1
    if mode == "same-sites":
        return 0 if attached(docs[0]) == attached(docs[1]) else 1
    sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
