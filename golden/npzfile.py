"""Header-first reading of .npz and .npy files, so that a file is judged before its data costs any memory.

Opening an archive reads only its directory; a member's header (shape, dtype, order) is read from the first bytes
of its stream (``numpy.lib.format``), and its data only when asked for, whole or in blocks of a bounded number of
elements. Only regular files are opened (a FIFO or a device is refused, not waited on), and nothing is unpickled.
Every problem is a one-line :class:`ContractError` naming the file and the key.
"""

import os
import stat
import zipfile
import zlib

import numpy as np

from ..plumbing import ContractError

__all__ = ["NpzArchive", "NpyFile", "ArrayMember", "BLOCK_BYTES"]

# Bytes of a member decompressed at a time when it is read in blocks.
BLOCK_BYTES = 1 << 24
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
# Errors that a corrupt archive or member can raise while it is read.
_READ_ERRORS = (ValueError, TypeError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError,
                RuntimeError)


def first_line(e):
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def open_regular(path, what):
    """`path` opened for binary reading if it is a regular file, else a ContractError (no such file, a folder, a
    FIFO or a device). The open itself never blocks: a FIFO is opened non-blocking and refused."""
    path = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ContractError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ContractError(f"{path}: is a directory, not {what}") from None
    except OSError as e:
        raise ContractError(f"{path}: cannot be opened ({e.strerror or first_line(e)})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
        raise ContractError(f"{path}: is {kind}, not {what}")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _read_header(f):
    """(shape, fortran_order, dtype) of the .npy stream `f`, positioned after its header."""
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported")
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    try:
        return read(f)
    except _READ_ERRORS:
        raise
    except Exception as e:          # the header's text is parsed by tokenize and ast, which raise their own types
        raise ValueError(f"unreadable header ({first_line(e)})") from None


class _Member:
    """One array of a file, known by its header: `shape`, `dtype`, `fortran`, `size` (elements). Its data is read
    by :meth:`read` (whole) or :meth:`blocks`; `where` prefixes error messages."""

    def __init__(self, where, shape, fortran, dtype):
        self.where = where
        for n in shape:
            if not isinstance(n, int) or n < 0:
                raise ContractError(f"{where}: header has an invalid shape {shape!r}")
        self.shape = tuple(shape)
        self.fortran = bool(fortran) and len(shape) > 1
        self.dtype = dtype
        self.size = int(np.prod(shape, dtype=object)) if shape else 1
        self.ndim = len(shape)

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    def _data_stream(self):
        """A context-managed binary stream positioned at the first data byte."""
        raise NotImplementedError

    def check_stored(self):
        """A ContractError unless the file stores as many data bytes as the header's shape needs (checked before
        any data is read, after the header has been judged)."""
        stored = self._stored_bytes()
        if stored is not None and stored != self.nbytes:
            raise ContractError(f"{self.where}: stores {stored} data bytes but its header's shape "
                                f"{list(self.shape)} of {self.dtype} needs {self.nbytes}")

    def _stored_bytes(self):
        return None

    def blocks(self, max_elements):
        """The data as flat arrays of at most `max_elements` elements each, in storage order (C order, or the
        transpose's C order for a Fortran-ordered member)."""
        if self.dtype.hasobject:
            raise ContractError(f"{self.where}: holds Python objects (pickled data is never loaded)")
        itemsize = self.dtype.itemsize
        if itemsize == 0 or self.size == 0:
            return
        step = max(1, int(max_elements))
        self.check_stored()
        try:
            with self._data_stream() as f:
                left = self.size
                while left:
                    n = min(left, step)
                    buf = f.read(n * itemsize)
                    if len(buf) != n * itemsize:
                        raise ContractError(f"{self.where}: data is truncated ({self.size - left + len(buf) // itemsize}"
                                            f" of {self.size} elements present)")
                    yield np.frombuffer(buf, dtype=self.dtype)
                    left -= n
                if f.read(1):
                    raise ContractError(f"{self.where}: holds bytes beyond the {self.size} elements of its header")
        except ContractError:
            raise
        except _READ_ERRORS as e:
            raise ContractError(f"{self.where}: unreadable data ({first_line(e)})") from None

    def read(self):
        """The whole array (a writable copy, in the shape of the header)."""
        if self.dtype.hasobject:
            raise ContractError(f"{self.where}: holds Python objects (pickled data is never loaded)")
        if self.dtype.itemsize == 0:
            return np.zeros(self.shape, dtype=self.dtype)
        out = np.empty(self.size, dtype=self.dtype)
        pos = 0
        for block in self.blocks(max(1, BLOCK_BYTES // self.dtype.itemsize)):
            out[pos:pos + block.size] = block
            pos += block.size
        if self.fortran:
            return out.reshape(self.shape[::-1]).T.copy()
        return out.reshape(self.shape)


class ArrayMember(_Member):
    """An array already in memory, with the interface of a file member (so that one validation path serves
    files and in-memory values)."""

    def __init__(self, value, where):
        self.array = value if isinstance(value, np.ndarray) else np.asarray(value)
        super().__init__(where, self.array.shape, False, self.array.dtype)

    def blocks(self, max_elements):
        if self.dtype.hasobject:
            raise ContractError(f"{self.where}: holds Python objects")
        flat = self.array.reshape(-1)
        step = max(1, int(max_elements))
        for s in range(0, flat.size, step):
            yield flat[s:s + step]

    def read(self):
        return self.array


class _ZipMember(_Member):
    def __init__(self, archive, info, key):
        self._archive, self._info = archive, info
        where = f"{archive.path}: {key}"
        try:
            with archive.zip.open(info) as f:
                shape, fortran, dtype = _read_header(f)
                data_offset = f.tell()
        except _READ_ERRORS as e:
            raise ContractError(f"{where}: not a .npy array ({first_line(e)})") from None
        super().__init__(where, shape, fortran, dtype)
        self._data_offset = data_offset

    def _stored_bytes(self):
        return self._info.file_size - self._data_offset

    def _data_stream(self):
        f = self._archive.zip.open(self._info)
        try:
            _read_header(f)
        except BaseException:
            f.close()
            raise
        return f


class NpzArchive:
    """An .npz file opened for header-first reading: `keys` (member names without ``.npy``) from the directory
    alone; :meth:`member` reads one member's header; nothing else is decompressed until a member's data is read.

    Use as a context manager.
    """

    def __init__(self, path, max_members=None):
        self.path = os.fspath(path)
        f = open_regular(self.path, "a .npz file")
        try:
            if f.read(len(NPY_MAGIC)) == NPY_MAGIC:
                raise ContractError(f"{self.path}: not a NumPy .npz file (it holds a single array)")
            f.seek(0)
            try:
                self.zip = zipfile.ZipFile(f)
            except _READ_ERRORS as e:
                raise ContractError(f"{self.path}: not a NumPy .npz file ({first_line(e)})") from None
        except BaseException:
            f.close()
            raise
        self._file = f
        try:
            infos = self.zip.infolist()
            if max_members is not None and len(infos) > max_members:
                raise ContractError(f"{self.path}: holds {len(infos)} arrays, more than any valid file "
                                    f"({max_members})")
            self._infos = {}
            for info in infos:
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                if key in self._infos:
                    raise ContractError(f"{self.path}: key {key!r} appears twice in the archive")
                self._infos[key] = info
        except BaseException:
            self.close()
            raise
        self._members = {}

    @property
    def keys(self):
        return list(self._infos)

    def __contains__(self, key):
        return key in self._infos

    def member(self, key):
        """The member `key`, its header read (cached)."""
        if key not in self._members:
            self._members[key] = _ZipMember(self, self._infos[key], key)
        return self._members[key]

    def close(self):
        self.zip.close()
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class NpyFile(_Member):
    """An .npy file known by its header; its data read like an archive member's."""

    def __init__(self, path):
        self.path = os.fspath(path)
        with open_regular(self.path, "a .npy file") as f:
            head = f.read(len(NPY_MAGIC))
            if head.startswith(ZIP_MAGIC):
                raise ContractError(f"{self.path}: not a NumPy .npy file (it is an .npz archive)")
            f.seek(0)
            try:
                shape, fortran, dtype = _read_header(f)
            except _READ_ERRORS as e:
                raise ContractError(f"{self.path}: not a NumPy .npy file ({first_line(e)})") from None
            data_offset = f.tell()
            file_size = os.fstat(f.fileno()).st_size
        super().__init__(self.path, shape, fortran, dtype)
        self._offset = data_offset
        self._file_size = file_size

    def _stored_bytes(self):
        return self._file_size - self._offset

    def _data_stream(self):
        f = open_regular(self.path, "a .npy file")
        f.seek(self._offset)
        return f
