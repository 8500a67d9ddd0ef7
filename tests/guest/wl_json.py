"""What the runner's guest tests (wl-runner.sh, wl-workloads.sh) read from the
runner's JSON files (a run's meta.json, trace/summary.json), as a command that
wl-lib.sh's wl_json calls:

  wl_json.py get [--or DEFAULT] FILE KEY...   the value at each dotted KEY
                                              (verify.fsck), on one line
                                              separated by spaces; DEFAULT for
                                              a key the file lacks, else exit 1
  wl_json.py items FILE KEY                   the object at KEY as NAME=VALUE
                                              pairs on one line

A string prints as it is, any other value as JSON (0, true, null)."""
import json
import sys

MISSING = object()


def lookup(doc, key, default=MISSING):
    """The value at dotted KEY of DOC; DEFAULT (KeyError without one) if a part is missing."""
    v = doc
    for part in key.split("."):
        if not isinstance(v, dict) or part not in v:
            if default is MISSING:
                raise KeyError(key)
            return default
        v = v[part]
    return v


def text(v):
    return v if isinstance(v, str) else json.dumps(v)


def get(doc, keys, default=MISSING):
    return " ".join(text(lookup(doc, k, default)) for k in keys)


def items(doc, key):
    obj = lookup(doc, key)
    if not isinstance(obj, dict):
        raise KeyError(f"{key} (not an object)")
    return " ".join(f"{k}={text(v)}" for k, v in obj.items())


def main(argv):
    a = argv[1:]
    default = MISSING
    if len(a) >= 3 and a[0] == "get" and a[1] == "--or":
        default = a[2]
        a = a[:1] + a[3:]
    if not ((len(a) >= 3 and a[0] == "get") or (len(a) == 3 and a[0] == "items")):
        print("usage: wl_json.py get [--or DEFAULT] FILE KEY... | items FILE KEY", file=sys.stderr)
        return 2
    try:
        with open(a[1]) as f:
            doc = json.load(f)
        print(get(doc, a[2:], default) if a[0] == "get" else items(doc, a[2]))
    except (OSError, ValueError) as e:
        print(f"wl_json.py: {a[1]}: {e}", file=sys.stderr)
        return 1
    except KeyError as e:
        print(f"wl_json.py: {a[1]} has no {e.args[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
