"""Where built simulators, netlists and models are kept between runs: $MAMHW_CACHE, else ~/.cache/mamhw (or
$XDG_CACHE_HOME).

An entry is a folder named by a hash of everything that makes it (:func:`design_key`). It counts as present only
when it verifies (:func:`verified`): its CHECKSUMS file, written last by :func:`seal`, lists a SHA-256 for each of
its files and every one of them matches. A damaged entry (a file deleted or truncated, the checksums missing or
empty, a build killed half-way) is removed and built again instead of failing every later run.

Builds happen in work folders named after the building process (:func:`work_dir`); the folders of processes that
are gone (killed, or kept after a failed build for their logs) are removed by the next build.
"""

import contextlib
import hashlib
import os
import shutil
import tempfile

from ..plumbing import removed_after

__all__ = ["cache_dir", "design_key", "seal", "verified", "work_dir", "building", "publish", "remove_entry", "MANIFEST"]

MANIFEST = "CHECKSUMS"
_WORK_PREFIX = "build-"


def cache_dir(kind):
    base = os.environ.get("MAMHW_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mamhw")
    return os.path.join(base, kind)


def design_key(*parts):
    """A short hash naming one build: every input that changes the build output must be a part."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


def _digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def seal(folder, names):
    """Write `folder`/CHECKSUMS for those of `names` that exist there. Call it last, when the entry is complete."""
    lines = [f"{_digest(os.path.join(folder, n))}  {n}\n" for n in names if os.path.isfile(os.path.join(folder, n))]
    tmp = os.path.join(folder, MANIFEST + ".tmp")
    with open(tmp, "w") as f:
        f.write("".join(lines))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(folder, MANIFEST))


def _listed(folder):
    """{name: sha256} of the entry's CHECKSUMS, or None when it is missing, empty or malformed."""
    try:
        with open(os.path.join(folder, MANIFEST)) as f:
            text = f.read()
    except OSError:
        return None
    listed = {}
    for line in text.splitlines():
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or os.sep in name:
            return None
        listed[name] = digest
    return listed or None


def verified(folder, required=()):
    """True when the entry `folder` is complete: its checksums list every name in `required` and every listed file
    matches. An entry that exists but does not verify is removed, so that the caller builds it again."""
    if not os.path.isdir(folder):
        if os.path.lexists(folder):
            remove_entry(folder)
        return False
    listed = _listed(folder)
    ok = listed is not None and all(n in listed for n in required)
    if ok:
        for name, digest in listed.items():
            try:
                ok = _digest(os.path.join(folder, name)) == digest
            except OSError:
                ok = False
            if not ok:
                break
    if not ok:
        remove_entry(folder)
    return ok


def remove_entry(folder):
    """Remove a cache entry: first renamed aside (one step, so no other process sees it half removed)."""
    aside = tempfile.mkdtemp(prefix=f".removed-{os.getpid()}-", dir=os.path.dirname(folder))
    try:
        os.replace(folder, os.path.join(aside, "entry"))
    except OSError:
        pass                                            # already gone, or replaced by another process
    shutil.rmtree(aside, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep(root):
    """Remove the work folders of processes that no longer run (and what removals left behind)."""
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        for prefix in (_WORK_PREFIX, ".removed-"):
            if name.startswith(prefix):
                pid = name[len(prefix):].split("-", 1)[0]
                if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                    shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def work_dir(root):
    """A fresh work folder in `root` for one build, named after this process; old ones of dead processes go."""
    os.makedirs(root, exist_ok=True)
    _sweep(root)
    return tempfile.mkdtemp(prefix=f"{_WORK_PREFIX}{os.getpid()}-", dir=root)


def publish(work, folder, names):
    """Seal the work folder `work` (checksums of `names`) and make it the entry `folder` in one rename. When another
    process published the same entry first, its entry stays and `work` is removed."""
    seal(work, names)
    try:
        os.replace(work, folder)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def building(root):
    """A work folder (:func:`work_dir`) for the block: removed when the block ends, by any exception but a
    ToolError (its message names a log in the folder; a later build removes it) or after a publish."""
    with removed_after(work_dir(root)) as work:
        yield work
