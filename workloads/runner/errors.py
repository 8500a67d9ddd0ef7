"""Exit statuses and the exceptions that carry them."""

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_SETUP, EXIT_DEVICE, EXIT_INTR = 0, 1, 2, 3, 4, 130
# Tracer exit codes that mean "could not start tracing" (the command never ran).
TRACER_SETUP_EXITS = {2: "bad command line", 3: "not root", 4: "kernel has no BTF",
                      5: "f2fs or its module BTF missing", 6: "a required probe has no site",
                      7: "kernel too old for BPF tracing", 8: "BPF object failed to load"}


class WbError(Exception):
    code = EXIT_FAIL


class UsageError(WbError):
    code = EXIT_USAGE


class SetupError(WbError):
    code = EXIT_SETUP


class DeviceError(WbError):
    code = EXIT_DEVICE


class RepError(Exception):
    """A rep failed (workload or set-up step); the run goes on to clean-up and evidence."""
