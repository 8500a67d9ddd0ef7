"""`./wbtrace fstests`: the fstests regression suite in the lab guest (issue 13).

One concern per module:
  sections.py  the sections (mkfs and mount options): the one table, and local.config
  build.py     fstests built once from a tarball or a directory, cached by the source's hash
  guest.py     inside the guest: users, mount points, ./check with a per-test timeout
  results.py   result.xml and the guest's state -> per-test outcomes; stock vs patched; summary
  ledger.py    every run's outcomes and conditions in results/fstests-ledger/ (git): coverage
               of a group across sessions, the tests still to run
  cli.py       the host command: options, builds, boots, reruns, summary, exit status
  ci.py        the CI subset (CI_TESTS) for tests/run-all.sh: cli.py on both variants, judged
"""
