"""perf script -> folded stacks (the producer of stacks.folded in a run dir)."""
import os
import subprocess
import sys

import pytest

from analysis import folded
from analysis.schema import ResultsError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PERF_SCRIPT = """\
fio 1234 [000]  100.000001:   10101010 cpu-clock:
\tffffffff81001234 memcpy+0x14 ([kernel.kallsyms])
\tffffffffc0201000 f2fs_write_single_data_page+0x88 ([f2fs])
\tffffffffc0202000 f2fs_write_cache_folios+0x1f0 ([f2fs])
\t    7f0000001000 __libc_write+0x10 (/usr/lib/x86_64-linux-gnu/libc.so.6)

kworker/u8:2-fl 77/77 [001]  100.000002:   10101010 cpu-clock:
\tffffffffc0201000 f2fs_write_single_data_page+0x88 ([f2fs])
\tffffffffc0202000 f2fs_write_cache_folios+0x1f0 ([f2fs])

fio 1234 [000]  100.000003:   10101010 cpu-clock:
\tffffffff81001234 memcpy+0x20 ([kernel.kallsyms])
\tffffffffc0201000 f2fs_write_single_data_page+0x10 ([f2fs])
\tffffffffc0202000 f2fs_write_cache_folios+0x1f0 ([f2fs])
\t    7f0000001000 __libc_write+0x10 (/usr/lib/x86_64-linux-gnu/libc.so.6)
"""


def test_collapse_root_first_offsets_dropped_counts_added():
    st = folded.collapse_perf_script(PERF_SCRIPT)
    fio = ("fio", "__libc_write", "f2fs_write_cache_folios", "f2fs_write_single_data_page", "memcpy")
    kw = ("kworker/u8:2-fl", "f2fs_write_cache_folios", "f2fs_write_single_data_page")
    assert st == {fio: 2, kw: 1}
    # The folded text parses back to the same profile.
    assert folded.parse_folded(folded.to_text(st)) == st


def test_collapse_rejects_garbage():
    with pytest.raises(ResultsError):
        folded.collapse_perf_script("\tffff memcpy ([kernel])\n")


def test_collapse_cli(tmp_path):
    src = tmp_path / "perf.txt"
    src.write_text(PERF_SCRIPT)
    out = tmp_path / "stacks.folded"
    r = subprocess.run([sys.executable, "-m", "analysis", "collapse-perf", str(src), str(out)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "fio;__libc_write;f2fs_write_cache_folios;f2fs_write_single_data_page;memcpy 2" in \
        out.read_text()
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    r = subprocess.run([sys.executable, "-m", "analysis", "collapse-perf", str(empty), str(out)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "no samples" in r.stderr and "Traceback" not in r.stderr
