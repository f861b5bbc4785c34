"""Progress on stderr for long runs: a rewritten line on a terminal, a line every few seconds otherwise."""

import sys
import time


class Progress:
    def __init__(self, what, stream=None, interval=2.0):
        self.what = what
        self.stream = sys.stderr if stream is None else stream
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.interval = 0.2 if self.tty else interval
        self.start = time.monotonic()
        self.last = self.start
        self.shown = False

    def __call__(self, done, total):
        now = time.monotonic()
        if done < total and now - self.last < self.interval:
            return
        if done == total and not self.shown and now - self.start < self.interval:
            return                                    # short runs stay quiet
        self.last = now
        self.shown = True
        rate = done / max(now - self.start, 1e-9)
        text = f"{self.what}: {done}/{total} ({rate:.1f}/s)"
        if self.tty:
            end = "\n" if done == total else ""
            self.stream.write(f"\r{text}{end}")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
