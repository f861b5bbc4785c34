"""Every output location of a command checked before any work: one clear line (exit status 2) instead of a traceback
after a long run, a half-written set of outputs, or an input overwritten.

An output file must name a file (not "", not "dir/"), in an existing folder where a file can be created, and must
not be a folder or a special file (device, FIFO, socket). An output folder must be a folder or not exist yet, in
an existing folder. No output may be one of the command's input files or another of its outputs (compared by
resolved path and, when both exist, by device and inode: symbolic and hard links included), nor a file that an
output folder's command writes there.
"""

import contextlib
import errno
import fnmatch
import os
import stat
import tempfile

from .golden import ContractError
from .options import InputFile, OutputDir, OutputFile

__all__ = ["check_paths", "check_output_paths", "paths_of", "output_folder"]


def paths_of(parser, args):
    """[(option name, path)] of the arguments `parser` parsed into `args` that are typed as paths."""
    out = []
    for action in parser._actions:                      # argparse keeps no public list of a parser's arguments
        value = getattr(args, action.dest, None)
        name = action.option_strings[-1] if action.option_strings else (action.metavar or action.dest)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, (InputFile, OutputFile, OutputDir)):
                out.append((name, v))
    return out


def check_output_paths(*paths, inputs=()):
    """Check output files given as plain paths (None skipped) against each other and `inputs`."""
    named = [("output", OutputFile(p)) for p in paths if p is not None]
    named += [("input", InputFile(p)) for p in inputs if p is not None]
    check_paths(named)


def check_paths(named):
    """Refuse (ContractError, one line) any unusable output location of [(option name, path)]."""
    inputs = [(n, p) for n, p in named if isinstance(p, InputFile)]
    files = [(n, p) for n, p in named if isinstance(p, OutputFile)]
    folders = [(n, p) for n, p in named if isinstance(p, OutputDir)]
    for name, path in files:
        _check_file(name, path)
    for name, path in folders:
        _check_folder(name, path)
    outputs = files + folders
    for i, (name, path) in enumerate(outputs):
        for other_name, other in inputs:
            if _same(path, other):
                raise ContractError(f"{name} {path}: the same file as the input {other} ({other_name}); "
                                    "refusing to overwrite an input")
        for other_name, other in outputs[i + 1:]:
            if _same(path, other):
                raise ContractError(f"{name} {path}: the same file as {other_name} {other}; give each output "
                                    "its own path")
    for name, folder in folders:
        for other_name, other in inputs + files:
            clash = _written_in(folder, other)
            if clash:
                what = "the input" if isinstance(other, InputFile) else "the output"
                raise ContractError(f"{name} {folder}: the command writes {clash} there, which is {what} {other} "
                                    f"({other_name})")


def _where(path):
    """The path an output really goes to: through a symbolic link, its target (which atomic writes replace)."""
    return os.path.realpath(path)


def _check_file(name, path):
    if path == "":
        raise ContractError(f"{name}: an empty file name")
    base = os.path.basename(path)
    if path.endswith((os.sep, "/")) or base in (".", ".."):
        raise ContractError(f"{name} {path}: names a folder, not a file")
    real = _where(path)
    if os.path.isdir(real):
        raise ContractError(f"{name} {path}: is a folder, not a file")
    if os.path.exists(real) and not stat.S_ISREG(os.stat(real).st_mode):
        raise ContractError(f"{name} {path}: is not a regular file (a device, FIFO or socket); refusing to write it")
    _check_writable_folder(name, path, os.path.dirname(real))


def _check_folder(name, path):
    if path == "":
        raise ContractError(f"{name}: an empty folder name")
    real = _where(path)
    if os.path.exists(real):
        if not os.path.isdir(real):
            raise ContractError(f"{name} {path}: exists and is not a folder")
        _check_writable_folder(name, path, real)
    else:
        _check_writable_folder(name, path, os.path.dirname(real))


def _check_writable_folder(name, path, folder):
    folder = folder or "."
    if not os.path.exists(folder):
        raise ContractError(f"{name} {path}: folder {folder} does not exist")
    if not os.path.isdir(folder):
        raise ContractError(f"{name} {path}: {folder} is not a folder")
    # Create and remove a file: permission bits alone do not tell (root, read-only mounts, special file systems).
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".mam-probe-")
    except OSError as e:
        why = "is read-only" if e.errno == errno.EROFS else "is not writable"
        raise ContractError(f"{name} {path}: folder {folder} {why} ({os.strerror(e.errno or 0)})") from None
    os.close(fd)
    os.unlink(probe)


def _same(a, b):
    ra, rb = _where(a), _where(b)
    if ra == rb:
        return True
    try:
        return os.path.samefile(ra, rb)
    except OSError:
        return False                                    # one of them does not exist yet


def _written_in(folder, path):
    """The name `path` has in `folder` when the command writing `folder` writes a file of that name, else None."""
    parent, real = os.path.dirname(_where(path)), _where(folder)
    if not (_same(parent, real) if os.path.exists(real) else parent == real):
        return None
    base = os.path.basename(_where(path))
    return base if any(fnmatch.fnmatchcase(base, pattern) for pattern in folder.names) else None


@contextlib.contextmanager
def output_folder(path):
    """The output folder `path` (checked by check_paths), made for the block when missing; when the block fails, a
    folder made here goes again if it is still empty."""
    made = not os.path.isdir(path)
    os.makedirs(path, exist_ok=True)
    try:
        yield path
    except BaseException:
        if made:
            with contextlib.suppress(OSError):
                os.rmdir(path)
        raise
