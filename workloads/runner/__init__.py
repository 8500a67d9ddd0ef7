"""The workload runner behind `./wbtrace list|run|compare` (its command line is
workloads/wbrun.py; workloads/README.md says what it does).

  errors        exit statuses (the runner's, vm.sh's, the tracer's) and the exceptions
                that carry them
  paths         where the repo's programs and results are
  probes        the tracer's probe names (loader/probes.def), for --skip-probe
  jobfile       workloads/<name>.fio -> Workload; sizes; mount options
  progress      the one status line, and the pattern the host reads it back with
  processes     children in their own process groups, undo actions, run.log
  devices       block devices (size, in use, bdi) and the kernel's f2fs
  run           `run`: all reps here (host target, or inside the guest), or one guest boot
  compare       `compare WORKLOAD`: two variants (stock and patched by default)
                interleaved in one guest boot
  until_decided `compare --until-decided N`: more interleaved reps while the gate is
                inconclusive (guest side)
  bench         `bench --until-decided N`: the bench's thresholds (alpha split over its
                workloads) and its verdicts, one per workload
  guest         the lab guest: built?, booting it and relaying its output (host side);
                which f2fs module is loaded, and swapping it (guest side)
  rep           one rep: mkfs, mount, flusher knobs, workload, verification, clean-up
  tracing       the workload under the tracer, blktrace and perf; the traced `_phase`
  verification  fio verify, drop_caches, fsck, remount, dmesg
  fingerprints  SHA-256 of a file, the manifest of a file system
  corruption    the hidden --inject-corruption: proof that verification can fail
  results       run dirs: their layout, and what a rep leaves in its own
"""

import sys

from .paths import TOP

if TOP not in sys.path:
    sys.path.insert(0, TOP)         # analysis.schema, the results schema, is the one source
