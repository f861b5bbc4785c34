"""Atomic file writes: an output file is either complete or absent, never half written."""

import os
import tempfile

from .errors import ContractError

__all__ = ["atomic_write", "save_text"]


def atomic_write(path, write):
    """Call write(f) on a temporary file in the destination folder, then rename it into place."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ContractError(f"{path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)                   # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def save_text(path, text):
    atomic_write(path, lambda f: f.write(text.encode()))
