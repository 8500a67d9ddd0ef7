"""tests/guest/wb_cached_bio_race.py on the host file system: its threads run,
and the model it keeps of the file equals the file afterwards."""
import hashlib
import subprocess
import sys

import wb_cached_bio_race

DRIVER = wb_cached_bio_race.__file__


def test_short_race_keeps_the_model_in_step(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    ready = tmp_path / "ready"
    (tmp_path / "ready.go").write_text("")           # no trace to set up: go at once
    p = subprocess.run([sys.executable, DRIVER, str(mnt), "1", "60", str(ready)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    counts = dict(kv.split("=") for kv in p.stdout.split("COUNTS ")[1].split())
    for k in ("pwrites", "mmap_stores", "bg_ranges", "other_passes"):
        assert int(counts[k]) > 0, counts
    assert int(ready.read_text()) == (mnt / "shared").stat().st_ino
    want = (tmp_path / "expected.sha256").read_text()
    assert hashlib.sha256((mnt / "shared").read_bytes()).hexdigest() == want
