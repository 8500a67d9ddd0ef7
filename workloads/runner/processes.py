"""Children and undo actions: a child in its own process group is stopped by signal,
escalating; clean-up actions run last-in first-out even after Ctrl-C; run.log keeps
every command of a rep with its exit status."""

import os
import shlex
import signal
import subprocess

from analysis import schema

from .errors import RepError


def tail(text, n=3):
    """The last `n` non-blank lines of a command's output, on one line (for errors)."""
    lines = [x for x in (text or "").strip().splitlines() if x.strip()]
    return " | ".join(lines[-n:])


def stop_proc(p, sig=signal.SIGINT, timeout=60.0, group=True):
    """Signal a child (its process group when it has its own) and wait; escalate."""
    if p is None or p.poll() is not None:
        return p.returncode if p else None
    for s, t in ((sig, timeout), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            if group:
                os.killpg(p.pid, s)
            else:
                p.send_signal(s)
        except ProcessLookupError:
            pass
        try:
            return p.wait(timeout=t)
        except subprocess.TimeoutExpired:
            continue
    return p.poll()


class Cleanup:
    """Undo actions, run last-in first-out; SIGINT is ignored while they run."""

    def __init__(self, log=None):
        self.items = []
        self.log = log

    def push(self, desc, fn):
        self.items.append((desc, fn))
        return len(self.items) - 1

    def pop(self, token):
        """Run one action now (e.g. an umount that is part of the normal flow)."""
        desc, fn = self.items[token]
        self.items[token] = (desc, None)
        if fn:
            fn()

    def run(self):
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        errors = []
        try:
            while self.items:
                desc, fn = self.items.pop()
                if fn is None:
                    continue
                try:
                    fn()
                except Exception as e:          # keep undoing the rest
                    errors.append(f"{desc}: {e}")
                    if self.log:
                        self.log(f"clean-up: {desc} failed: {e}")
        finally:
            signal.signal(signal.SIGINT, old)
        return errors


class RunLog:
    """run.log of a rep: every command, its exit status and the tail of its output."""

    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8")

    def __call__(self, text):
        self.f.write(f"[{schema.utc_now()}] {text}\n")
        self.f.flush()

    def run(self, cmd, check=True, timeout=None, what=None, **kw):
        self(f"$ {' '.join(shlex.quote(str(c)) for c in cmd)}")
        try:
            p = subprocess.run([str(c) for c in cmd], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=timeout,
                               errors="replace", **kw)
        except FileNotFoundError:
            raise RepError(f"{cmd[0]}: not found") from None
        except subprocess.TimeoutExpired:
            raise RepError(f"{what or cmd[0]} timed out after {timeout} s") from None
        out = (p.stdout or "") + (p.stderr or "")
        if out.strip():
            self.f.write("".join("    " + x + "\n" for x in out.rstrip().splitlines()[-60:]))
        self(f"  -> exit {p.returncode}")
        if check and p.returncode != 0:
            raise RepError(f"{what or cmd[0]} failed (exit {p.returncode}): {tail(out)}")
        return p

    def close(self):
        self.f.close()
