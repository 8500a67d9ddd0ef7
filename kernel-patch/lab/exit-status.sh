# shellcheck shell=bash
# The lab guest session's exit statuses besides its command's own: the one table,
# sourced by vm.sh (which prints it in --help), guest-init.sh and the lab tests,
# and read by the runner (workloads/runner/errors.py) to say why a session ended.
# One line a status, EX_NAME=CODE then "# " and its meaning, which --help prints.
# shellcheck disable=SC2034 # used by the scripts that source this file
EX_USAGE=2 # bad usage
EX_SETUP=3 # set-up missing (QEMU, or the lab kernel and modules)
EX_SPLAT=120 # a kernel splat (WARN/BUG/lockdep/KASAN) in the guest log; the command itself passed
EX_TIMEOUT=121 # the guest timed out and was killed (raise --timeout)
EX_NOREPORT=122 # the guest died without reporting (panic or QEMU error)
EX_NOMODULE=125 # the guest could not load the f2fs module
