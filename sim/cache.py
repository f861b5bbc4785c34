"""Where compiled simulators are kept between runs: $MAMHW_CACHE, else ~/.cache/mamhw (or $XDG_CACHE_HOME)."""

import hashlib
import os

__all__ = ["cache_dir", "design_key"]


def cache_dir(kind):
    base = os.environ.get("MAMHW_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mamhw")
    return os.path.join(base, kind)


def design_key(*parts):
    """A short hash naming one build: every input that changes the build output must be a part."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]
