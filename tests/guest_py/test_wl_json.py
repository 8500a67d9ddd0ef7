"""tests/guest/wl_json.py: the runner tests' reads of meta.json and
trace/summary.json, and wl-lib.sh's wl_json calling it."""
import json
import os
import subprocess

import pytest

import wl_json
from conftest import TOP

META = {"target": "host", "variant": "host-other", "drops": 0, "tracer": {"mode": "full"},
        "f2fs": {"device": "/dev/loop0"},
        "verify": {"fio_verify": "pass", "after_drop_caches": "fail", "after_remount": "fail", "fsck": "pass"}}


def test_get_and_items():
    assert wl_json.get(META, ["verify.fio_verify", "verify.after_drop_caches", "verify.fsck"]) == "pass fail pass"
    assert wl_json.get(META, ["target", "drops", "tracer.mode"]) == "host 0 full"
    assert wl_json.get({"a": True, "b": None, "c": 1.5}, ["a", "b", "c"]) == "true null 1.5"
    assert wl_json.items(META, "verify") == \
        "fio_verify=pass after_drop_caches=fail after_remount=fail fsck=pass"
    with pytest.raises(KeyError):
        wl_json.get(META, ["verify.nothing"])
    with pytest.raises(KeyError):
        wl_json.get(META, ["target.deeper"])            # a string has no keys
    with pytest.raises(KeyError):
        wl_json.items(META, "target")                   # not an object
    assert wl_json.get({"counts": {}}, ["counts.clusters_compressed"], "0") == "0"


def run(tmp_path, *args, doc=META):
    f = tmp_path / "meta.json"
    f.write_text(json.dumps(doc))
    script = tmp_path / "t.sh"
    # Through wl-lib.sh's wl_json, as the guest scripts call it; $out is its temporary directory.
    script.write_text(f'. "{TOP}/tests/guest/wl-lib.sh"\nrm -rf "$out"\nwl_json "$@"\n')
    return subprocess.run(["bash", str(script)] + [a.replace("FILE", str(f)) for a in args],
                          capture_output=True, text=True, env={**os.environ, "WBTRACE_SCRATCH": "/dev/null"})


def test_the_command_through_wl_lib(tmp_path):
    p = run(tmp_path, "get", "FILE", "target", "variant", "verify.after_remount")
    assert (p.returncode, p.stdout) == (0, "host host-other fail\n"), p.stderr
    p = run(tmp_path, "items", "FILE", "verify")
    assert p.stdout == "fio_verify=pass after_drop_caches=fail after_remount=fail fsck=pass\n"
    p = run(tmp_path, "get", "--or", "0", "FILE", "counts.clusters_compressed", doc={"counts": {}})
    assert (p.returncode, p.stdout) == (0, "0\n")
    p = run(tmp_path, "get", "FILE", "counts.clusters_compressed", doc={"counts": {}})
    assert p.returncode == 1 and p.stdout == "" and "has no counts.clusters_compressed" in p.stderr
    p = run(tmp_path, "get", str(tmp_path / "none.json"), "target")
    assert p.returncode == 1 and "none.json" in p.stderr
    for bad in (["get", "FILE"], ["items", "FILE"], ["items", "FILE", "a", "b"], ["frob"]):
        p = run(tmp_path, *bad)
        assert p.returncode == 2 and "usage" in p.stderr
