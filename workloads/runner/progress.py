"""The one status line a run prints (phase, rep i/N, elapsed), and the pattern the host
side reads it back with when the line comes from the runner in the guest."""

import re
import sys
import threading
import time

# What Progress.status() prints, as the host side of a guest session matches it.
STATUS_LINE = re.compile(r"^\[wbtrace\] (.*) \(\d+m\d\ds\)$")


def fmt_elapsed(s):
    s = int(s)
    return f"{s // 60}m{s % 60:02d}s"


class Progress:
    """One status line (phase, rep i/N, elapsed), rewritten in place on a terminal."""

    def __init__(self, quiet, prefix=""):
        self.quiet = quiet
        self.tty = sys.stdout.isatty()
        self.t0 = time.monotonic()
        self.prefix = prefix
        self.shown = False
        self.text = ""
        self.lock = threading.Lock()

    def status(self, text):
        self.text = text
        if self.quiet:
            return
        with self.lock:
            line = f"[wbtrace] {self.prefix}{text} ({fmt_elapsed(time.monotonic() - self.t0)})"
            if self.tty:
                sys.stdout.write("\r\033[K" + line)
                self.shown = True
            else:
                sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def tick(self):
        if self.tty and self.shown and not self.quiet:
            self.status(self.text)

    def clear(self):
        with self.lock:
            if self.shown:
                sys.stdout.write("\r\033[K")
                sys.stdout.flush()
                self.shown = False

    def say(self, text, always=False):
        if self.quiet and not always:
            return
        self.clear()
        with self.lock:
            print(text, flush=True)
