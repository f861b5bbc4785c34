"""Layer files: load, validate and save exactly as the layer contract says (README, "The layer contract").

A layer's weights are held sparse, as CSR arrays (``indptr``, ``indices``, ``values``), so that a big, heavily
pruned layer costs memory for its kept weights only; ``Layer.weight``, the dense ``[out, in]`` matrix, is built on
first use and only for layers of at most :data:`DENSE_VIEW_MAX` entries.

Files are read header first (:mod:`golden.npzfile`): unknown keys, wrong dtypes, shapes that do not fit together
and sizes beyond :data:`MAX_WIDTH` / :data:`MAX_ENTRIES` are refused before any array's data is decompressed, and
a dense ``weight`` is streamed into CSR form block by block, never held whole.
"""

import functools
from dataclasses import dataclass

import numpy as np

from ..plumbing import atomic_write as _atomic_write
from ..plumbing import ContractError
from .chain import Shaped
from .npzfile import ArrayMember, NpyFile, NpzArchive

__all__ = ["Layer", "load_layer", "save_layer", "load_inputs", "check_inputs", "save_array", "KINDS",
           "MAX_WIDTH", "MAX_ENTRIES", "DENSE_VIEW_MAX"]

KINDS = ("mam", "mac")
REQUIRED_KEYS = ("kind", "weight", "bias", "mult", "shift", "relu")    # "weight": dense, or the SPARSE_KEYS
SPARSE_KEYS = ("shape", "indptr", "indices", "values")
WIDTH_KEYS = ("in_bits", "w_bits", "out_bits")
OPTIONAL_KEYS = WIDTH_KEYS + ("splits", "relu_in")
LAYER_KEYS = REQUIRED_KEYS + SPARSE_KEYS + OPTIONAL_KEYS
DEFAULT_BITS = 8
# Widths the hardware is built and tested for; the golden model stays exact in int64 within them.
IN_W_BITS_RANGE = (2, 16)
OUT_BITS_RANGE = (2, 32)
MULT_RANGE = (1, 65535)
SHIFT_RANGE = (0, 40)
INT32_RANGE = (-2**31, 2**31 - 1)

# The size limit of the contract. A layer has at most MAX_WIDTH inputs and MAX_WIDTH outputs; a file (a layer, or
# all layers of a network) stores at most MAX_ENTRIES weights (out * in for a dense `weight`, the kept weights for
# a sparse one), and an inputs file at most MAX_ENTRIES values. VGG-16's classifier (25088-4096-4096-1000, 123.8M
# weights dense) and a ViT block (768-3072-768) fit, dense or sparse.
MAX_WIDTH = 1 << 16
MAX_ENTRIES = 1 << 28
# Layers of at most this many entries (out * in) have a dense `weight` view (128 MiB as int64).
DENSE_VIEW_MAX = 1 << 24
# Elements decompressed, range-checked and converted at a time while a file is read.
BLOCK_ELEMENTS = 1 << 21
MAX_SCALAR_BYTES = 256


def signed_range(bits):
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


@dataclass(frozen=True, eq=False)
class Layer(Shaped):
    """One validated layer. Construct with :meth:`Layer.build`, which checks every field.

    The weights are CSR arrays, all read-only: row j's kept (nonzero) weights are
    ``values[indptr[j]:indptr[j + 1]]`` at inputs ``indices[indptr[j]:indptr[j + 1]]``, strictly increasing.
    ``values`` is int16 and ``indices`` int32 to keep big layers small: widen them before arithmetic.
    """

    kind: str
    shape: tuple            # (out, in)
    indptr: np.ndarray      # int64 [out + 1]
    indices: np.ndarray     # int32 [nnz]
    values: np.ndarray      # int16 [nnz], never 0
    bias: np.ndarray        # int64 [out]
    mult: int
    shift: int
    relu: bool
    in_bits: int = DEFAULT_BITS
    w_bits: int = DEFAULT_BITS
    out_bits: int = DEFAULT_BITS
    splits: int = 1         # mam: max + min per slice of the inputs, summed over `splits` slices
    relu_in: bool = False   # ReLU applied to the inputs before the products

    @property
    def n_out(self):
        return self.shape[0]

    @property
    def n_in(self):
        return self.shape[1]

    @property
    def size(self):
        """Interconnections, pruned or not: ``out * in``."""
        return self.shape[0] * self.shape[1]

    @property
    def nnz(self):
        return int(self.values.size)

    @property
    def row_nnz(self):
        """Kept weights per row, int64 [out]."""
        return np.diff(self.indptr)

    @property
    def plain(self):
        """True when the layer uses neither ``splits`` nor ``relu_in`` (the hardware builds its slice adder and
        input ReLU only for layers that do, and the area model was fitted without them)."""
        return self.splits == 1 and not self.relu_in

    def entry_rows(self):
        """The row of each kept weight, int64 [nnz] (CSR order)."""
        return np.repeat(np.arange(self.n_out, dtype=np.int64), self.row_nnz)

    @functools.cached_property
    def weight(self):
        """The dense weight matrix, int64 [out, in] (0 = pruned), read-only; built on first use, and only for layers
        of at most DENSE_VIEW_MAX entries (a ContractError beyond)."""
        if self.size > DENSE_VIEW_MAX:
            raise ContractError(f"layer {self.n_out}x{self.n_in} is too large for a dense weight matrix "
                                f"({self.size} entries, {self.size * 8 / 2**20:.0f} MiB as int64; the limit is "
                                f"{DENSE_VIEW_MAX}): use its sparse arrays indptr, indices, values")
        return self.dense_weight(np.int64)

    def dense_weight(self, dtype):
        """A new dense [out, in] matrix of `dtype` (read-only), whatever the layer's size."""
        w = np.zeros(self.shape, dtype=dtype)
        w[self.entry_rows(), self.indices] = self.values
        w.setflags(write=False)
        return w

    @classmethod
    def build(cls, *, kind, bias, mult, shift, relu, weight=None, shape=None, indptr=None, indices=None,
              values=None, in_bits=DEFAULT_BITS, w_bits=DEFAULT_BITS, out_bits=DEFAULT_BITS, splits=1,
              relu_in=False, where="layer"):
        """Validate raw values (NumPy arrays, lists or Python scalars) and return a Layer.

        The weights are either ``weight`` (dense int [out, in], 0 = pruned) or ``shape`` [out, in] with the CSR
        arrays ``indptr``, ``indices``, ``values`` (see the class). ``where`` prefixes error messages (a file name,
        or a layer inside a network).
        """
        given = dict(kind=kind, bias=bias, mult=mult, shift=shift, relu=relu, weight=weight, shape=shape,
                     indptr=indptr, indices=indices, values=values, in_bits=in_bits, w_bits=w_bits,
                     out_bits=out_bits, splits=splits, relu_in=relu_in)
        return layer_from_dict({k: v for k, v in given.items() if v is not None}, where)

    def to_arrays(self, sparse=False):
        """The layer as the dict of arrays of its .npz file: the dense ``weight`` (int64) or, with ``sparse``, the
        ``shape``, ``indptr``, ``indices``, ``values`` keys in the dtypes a file stores them in. ``splits`` and
        ``relu_in`` appear only when they differ from their defaults."""
        return self._arrays(self._sparse_arrays() if sparse else {"weight": self.weight})

    def file_arrays(self, sparse=None):
        """What :func:`save_layer` writes: :meth:`to_arrays` in compact dtypes (a dense ``weight`` in the smallest
        dtype that holds ``w_bits``, built straight from the CSR arrays whatever the size; ``bias`` int32).
        ``sparse=None`` picks the smaller of the two forms."""
        if sparse is None:
            sparse = self.sparse_file_bytes() < self.dense_file_bytes()
        weights = self._sparse_arrays() if sparse else {"weight": self.dense_weight(_weight_file_dtype(self.w_bits))}
        return self._arrays(weights) | {"bias": self.bias.astype(np.int32)}

    def _sparse_arrays(self):
        return {"shape": np.array(self.shape, dtype=np.int64),
                "indptr": self.indptr.astype(np.int32 if self.nnz < 2**31 else np.int64),
                "indices": self.indices.astype(np.uint16 if self.n_in <= 1 << 16 else np.int32),
                "values": self.values.astype(_weight_file_dtype(self.w_bits))}

    def _arrays(self, weights):
        arrays = {"kind": np.array(self.kind), **weights, "bias": self.bias, "mult": np.array(self.mult),
                  "shift": np.array(self.shift), "relu": np.array(self.relu), "in_bits": np.array(self.in_bits),
                  "w_bits": np.array(self.w_bits), "out_bits": np.array(self.out_bits)}
        if self.splits != 1:
            arrays["splits"] = np.array(self.splits)
        if self.relu_in:
            arrays["relu_in"] = np.array(True)
        return arrays

    def dense_file_bytes(self):
        return self.size * np.dtype(_weight_file_dtype(self.w_bits)).itemsize

    def sparse_file_bytes(self):
        # Three more members than the dense form, each with a .npy header and zip entries (~250 bytes).
        index_bytes = 2 if self.n_in <= 1 << 16 else 4
        value_bytes = np.dtype(_weight_file_dtype(self.w_bits)).itemsize
        return 3 * 250 + 16 + 4 * (self.n_out + 1) + self.nnz * (index_bytes + value_bytes)


def _weight_file_dtype(w_bits):
    return np.int8 if w_bits <= 8 else np.int16


# --- validation -------------------------------------------------------------------------------------------------

def _fail(where, key, problem):
    raise ContractError(f"{where}: {key} {problem}")


def _as_array(value):
    return value if isinstance(value, np.ndarray) else np.asarray(value)


def _is_integer_dtype(arr):
    return arr.dtype.kind in "iu"


def _describe_non_integer(arr):
    if arr.dtype.kind == "f" and arr.size and np.isnan(arr).any():
        return "contains NaN"
    return f"must hold integers, got dtype {arr.dtype}"


def _describe_member(m):
    """Why member `m` is not an integer array: NaN is looked for only in arrays already in memory."""
    if isinstance(m, ArrayMember) and not m.dtype.hasobject:
        return _describe_non_integer(m.array)
    return f"must hold integers, got dtype {m.dtype}"


def _position(flat, shape, fortran):
    """The index of the `flat`-th stored element of an array of `shape`: an int for 1-d, a list beyond."""
    if fortran:
        pos = np.unravel_index(flat, shape[::-1])[::-1]
    else:
        pos = np.unravel_index(flat, shape)
    pos = [int(i) for i in pos]
    return pos[0] if len(pos) == 1 else pos


def _check_range(arr, key, where, bounds, what, shape=None, fortran=False, offset=0):
    """Every value of `arr` (any integer dtype, compared exactly) within `bounds`, or a ContractError naming the
    first one outside and its index. `arr` may be a block of a bigger array: then `shape`, `fortran` and `offset`
    (its first element's place in storage order) locate it."""
    lo, hi = bounds
    if arr.dtype.kind in "iu" and np.iinfo(arr.dtype).min >= lo and np.iinfo(arr.dtype).max <= hi:
        return                                   # the dtype itself keeps every value in range
    if arr.size:
        bad = (arr < lo) | (arr > hi)
        if bad.any():
            first = int(np.argmax(bad.reshape(-1)))
            value = int(arr.reshape(-1)[first])
            pos = _position(offset + first, arr.shape if shape is None else shape, fortran)
            _fail(where, key, f"value {value} at {pos} is outside {what} range [{lo}, {hi}]")


def _read_ints(m, key, where, bounds, what, dtype, shape=None):
    """Member `m` (an integer array, header checked) read block by block, each block range-checked in its own
    dtype before it is converted: a flat array of `dtype`."""
    m.check_stored()
    out = np.empty(m.size, dtype=dtype)
    pos = 0
    for block in m.blocks(BLOCK_ELEMENTS):
        _check_range(block, key, where, bounds, what, shape or m.shape, m.fortran, pos)
        out[pos:pos + block.size] = block
        pos += block.size
    return out


def _scalar(value, key, where):
    arr = _as_array(value)
    if arr.ndim != 0:
        _fail(where, key, f"must be a scalar (0-d array), got shape {list(arr.shape)}")
    return arr


def _int_scalar(value, key, where, bounds):
    arr = _scalar(value, key, where)
    if arr.dtype.kind == "b" or not _is_integer_dtype(arr):
        _fail(where, key, _describe_non_integer(arr) if arr.dtype.kind != "b" else "must be an integer, got bool")
    v = int(arr)
    lo, hi = bounds
    if not lo <= v <= hi:
        _fail(where, key, f"= {v} is outside [{lo}, {hi}]")
    return v


def _str_scalar(value, key, where):
    arr = _scalar(value, key, where)
    if arr.dtype.kind != "U":
        _fail(where, key, f"must be a string, got dtype {arr.dtype}")
    return str(arr)


def _bool_scalar(value, key, where):
    arr = _scalar(value, key, where)
    if arr.dtype.kind == "b":
        return bool(arr)
    if _is_integer_dtype(arr) and int(arr) in (0, 1):
        return bool(int(arr))
    _fail(where, key, f"must be a bool, got {arr.dtype} {arr!s}")


def check_layer_keys(keys, where):
    """The key set of one layer: every required key, the weights in exactly one form, nothing unknown."""
    keys = set(keys)
    sparse = [k for k in SPARSE_KEYS if k in keys]
    missing = [k for k in REQUIRED_KEYS if k not in keys and not (k == "weight" and sparse)]
    if missing:
        hint = " (or the sparse shape, indptr, indices, values)" if "weight" in missing else ""
        raise ContractError(f"{where}: not a layer file: missing key(s) {', '.join(missing)}{hint}")
    unknown = sorted(keys - set(LAYER_KEYS))
    if unknown:
        raise ContractError(f"{where}: unknown key(s) {', '.join(unknown)}")
    if sparse and "weight" in keys:
        raise ContractError(f"{where}: holds both weight and the sparse key(s) {', '.join(sparse)}: give one form")
    if sparse and len(sparse) < len(SPARSE_KEYS):
        absent = [k for k in SPARSE_KEYS if k not in keys]
        raise ContractError(f"{where}: sparse weights need shape, indptr, indices and values: missing "
                            f"{', '.join(absent)}")


def _int_header(m, key, where, ndim):
    if m.ndim != ndim:
        _fail(where, key, f"must be a {ndim}-d array, got {m.ndim}-d")
    if m.dtype.kind not in "iu":
        _fail(where, key, _describe_member(m))


class LayerPlan:
    """One layer judged from its keys, its scalars and its arrays' headers (`n_out`, `n_in`, `entries` stored,
    widths): everything but the big arrays' data, which :meth:`build` reads. `get(key)` gives a member (a file's,
    or an array in memory)."""

    def __init__(self, keys, get, where):
        check_layer_keys(keys, where)
        self.where, self._get = where, get

        def scalar(key):
            m = get(key)
            if m.ndim != 0:
                _fail(where, key, f"must be a scalar (0-d array), got shape {list(m.shape)}")
            if m.dtype.hasobject or m.dtype.itemsize > MAX_SCALAR_BYTES:
                _fail(where, key, f"must be a scalar number or string, got dtype {m.dtype}")
            return m.read()

        def optional(key, default):
            return scalar(key) if key in keys else default

        self.in_bits = _int_scalar(optional("in_bits", DEFAULT_BITS), "in_bits", where, IN_W_BITS_RANGE)
        self.w_bits = _int_scalar(optional("w_bits", DEFAULT_BITS), "w_bits", where, IN_W_BITS_RANGE)
        self.out_bits = _int_scalar(optional("out_bits", DEFAULT_BITS), "out_bits", where, OUT_BITS_RANGE)
        self.kind = _str_scalar(scalar("kind"), "kind", where)
        if self.kind not in KINDS:
            raise ContractError(f"{where}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        self.mult = _int_scalar(scalar("mult"), "mult", where, MULT_RANGE)
        self.shift = _int_scalar(scalar("shift"), "shift", where, SHIFT_RANGE)
        self.relu = _bool_scalar(scalar("relu"), "relu", where)
        self.splits = _int_scalar(optional("splits", 1), "splits", where, (1, MAX_WIDTH))
        self.relu_in = _bool_scalar(optional("relu_in", False), "relu_in", where)

        self.sparse = "weight" not in keys
        if self.sparse:
            self._sparse_headers()
        else:
            w = get("weight")
            _int_header(w, "weight", where, 2)
            self.n_out, self.n_in = w.shape
            self._check_widths("weight", w.shape)
            self.entries = w.size
        b = get("bias")
        _int_header(b, "bias", where, 1)
        if b.shape[0] != self.n_out:
            raise ContractError(f"{where}: bias has {b.shape[0]} entries but weight has {self.n_out} rows")
        self._check_splits()
        self._check_int64_headroom()

    def _check_widths(self, key, shape):
        if shape[0] < 1 or shape[1] < 1:
            _fail(self.where, key, f"must be [out, in] with out >= 1 and in >= 1, got shape {list(shape)}")
        if shape[0] > MAX_WIDTH or shape[1] > MAX_WIDTH:
            _fail(self.where, key, f"shape {list(shape)} is beyond the size limit: out and in are at most "
                                   f"{MAX_WIDTH} (MAX_WIDTH)")

    def _sparse_headers(self):
        where, get = self.where, self._get
        s = get("shape")
        _int_header(s, "shape", where, 1)
        if s.shape != (2,):
            _fail(where, "shape", f"must hold the 2 integers [out, in], got {s.shape[0]}")
        shape = [int(v) for v in s.read()]
        self._check_widths("shape", shape)
        self.n_out, self.n_in = shape
        p, i, v = get("indptr"), get("indices"), get("values")
        for m, key in ((p, "indptr"), (i, "indices"), (v, "values")):
            _int_header(m, key, where, 1)
        if p.shape[0] != self.n_out + 1:
            _fail(where, "indptr", f"has {p.shape[0]} entries but shape [{self.n_out}, {self.n_in}] needs "
                                   f"out + 1 = {self.n_out + 1}")
        if i.shape[0] != v.shape[0]:
            _fail(where, "indices", f"has {i.shape[0]} entries but values has {v.shape[0]}")
        if v.shape[0] > self.n_out * self.n_in:
            _fail(where, "values", f"holds {v.shape[0]} weights, more than out * in = {self.n_out * self.n_in}")
        self.entries = v.shape[0]

    def _check_splits(self):
        k, n = self.splits, self.n_in
        if k == 1:
            return
        if self.kind != "mam":
            _fail(self.where, "splits", f"= {k}: only a mam layer takes splits (a {self.kind} layer has 1)")
        c = -(-n // k)
        if (k - 1) * c >= n:
            _fail(self.where, "splits", f"= {k} with {n} inputs leaves the last slice empty (slices of "
                                        f"ceil({n}/{k}) = {c} inputs); every slice must hold an input")

    def _check_int64_headroom(self):
        """The golden model computes in int64; refuse the (far-fetched) layers where that could overflow."""
        p = (1 << (self.in_bits - 1)) * (1 << (self.w_bits - 1))
        a = p * (self.n_in if self.kind == "mac" else 2 * self.splits)
        v = a + (1 << 31)
        if v * self.mult + (1 << 40) >= 1 << 62:
            raise ContractError(f"{self.where}: layer too wide for exact int64 arithmetic (in={self.n_in}, "
                                f"in_bits={self.in_bits}, w_bits={self.w_bits}, mult={self.mult})")

    def refuse_entries(self, total):
        raise ContractError(f"{self.where}: {'values' if self.sparse else 'weight'} brings the weights stored to "
                            f"{total}, beyond the size limit of {MAX_ENTRIES} (MAX_ENTRIES)")

    def build(self):
        """Read the arrays' data (bias, weights) and return the Layer."""
        where = self.where
        bias = _read_ints(self._get("bias"), "bias", where, INT32_RANGE, "int32", np.int64)
        if self.sparse:
            indptr, indices, values = self._read_sparse()
        else:
            indptr, indices, values = _dense_to_csr(self._get("weight"), self.n_out, self.n_in, self.w_bits, where)
        for arr in (indptr, indices, values):
            arr.setflags(write=False)
        return Layer(self.kind, (self.n_out, self.n_in), indptr, indices, values, bias, self.mult, self.shift,
                     self.relu, self.in_bits, self.w_bits, self.out_bits, self.splits, self.relu_in)

    def _read_sparse(self):
        where, get = self.where, self._get
        nnz = self.entries
        indptr = _read_ints(get("indptr"), "indptr", where, (0, nnz), "entry index", np.int64)
        if indptr[0] != 0:
            _fail(where, "indptr", f"must start at 0, got {int(indptr[0])}")
        if indptr[-1] != nnz:
            _fail(where, "indptr", f"ends at {int(indptr[-1])} but indices and values hold {nnz}")
        drops = np.flatnonzero(np.diff(indptr) < 0)
        if drops.size:
            r = int(drops[0])
            _fail(where, "indptr", f"decreases at row {r} ({int(indptr[r])} -> {int(indptr[r + 1])})")
        indices = _read_ints(get("indices"), "indices", where, (0, self.n_in - 1), "input index", np.int32)
        lo, hi = signed_range(self.w_bits)
        values = _read_ints(get("values"), "values", where, (lo, hi), f"{self.w_bits}-bit signed (w_bits)",
                            np.int16)
        zeros = np.flatnonzero(values == 0)
        if zeros.size:
            k = int(zeros[0])
            row = int(np.searchsorted(indptr, k, side="right")) - 1
            _fail(where, "values", f"has a 0 at {k} (row {row}): a sparse file stores kept weights only, a pruned "
                                   f"weight is left out")
        # Strictly increasing inside each row: a step down or a repeat is allowed only where a new row starts.
        row_start = np.zeros(nnz, dtype=bool)
        row_start[indptr[:-1][indptr[:-1] < nnz]] = True
        bad = np.flatnonzero((np.diff(indices) <= 0) & ~row_start[1:]) + 1
        if bad.size:
            k = int(bad[0])
            row = int(np.searchsorted(indptr, k, side="right")) - 1
            _fail(where, "indices", f"are not strictly increasing in row {row}: input {int(indices[k])} at {k} "
                                    f"follows input {int(indices[k - 1])}")
        return indptr, indices, values


def _dense_to_csr(m, n_out, n_in, w_bits, where):
    """A dense weight member streamed into CSR arrays, a block of whole rows (or of whole columns, for a
    Fortran-ordered file) at a time, each block range-checked before it is converted."""
    lo, hi = signed_range(w_bits)
    what = f"{w_bits}-bit signed (w_bits)"
    minor = n_out if m.fortran else n_in
    lines = max(1, BLOCK_ELEMENTS // minor)
    # The position along a line of each element of a block: compressed by the nonzero mask, the column (or, for a
    # Fortran-ordered file, the row) of each kept weight.
    along = np.tile(np.arange(minor, dtype=np.int32), lines)
    counts = np.zeros(n_out, dtype=np.int64)
    minors, lines_of, vals = [], [], []
    pos = 0
    for block in m.blocks(lines * minor):
        _check_range(block, "weight", where, (lo, hi), what, (n_out, n_in), m.fortran, pos)
        keep = block != 0
        vals.append(block[keep].astype(np.int16))
        minors.append(along[:block.size][keep])
        per_line = np.count_nonzero(keep.reshape(-1, minor), axis=1)
        first = pos // minor
        if m.fortran:
            lines_of.append(np.repeat(np.arange(first, first + per_line.size, dtype=np.int32), per_line))
        else:
            counts[first:first + per_line.size] = per_line
        pos += block.size
    del along
    indices = _concat(minors, np.int32)
    values = _concat(vals, np.int16)
    if m.fortran and indices.size:
        # Column by column: `indices` holds rows so far. Order the weights by row, keeping the column order.
        rows, cols = indices, _concat(lines_of, np.int32)
        order = np.argsort(rows, kind="stable")
        counts = np.bincount(rows, minlength=n_out).astype(np.int64)
        indices, values = cols[order], values[order]
    indptr = np.zeros(n_out + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, indices, values


def _concat(parts, dtype):
    """The parts joined, the list emptied on the way (so that parts and the result are not all held twice)."""
    out = np.empty(sum(p.size for p in parts), dtype=dtype)
    pos = 0
    while parts:
        part = parts.pop(0)
        out[pos:pos + part.size] = part
        pos += part.size
    return out


# --- files ------------------------------------------------------------------------------------------------------

MAX_LAYERS = 64
# The most arrays a valid layer or network file can hold: MAX_LAYERS layers' keys and n_layers.
MAX_FILE_MEMBERS = MAX_LAYERS * len(LAYER_KEYS) + 1


def members_of(arrays, where):
    """`get(key)` over a dict of arrays in memory: each value as an ArrayMember (made once)."""
    made = {}

    def get(key):
        if key not in made:
            made[key] = ArrayMember(arrays[key], f"{where}: {key}")
        return made[key]
    return get


def layer_from_dict(arrays, where):
    """A Layer from a dict of a layer file's arrays (already in memory)."""
    plan = LayerPlan(arrays, members_of(arrays, where), where)
    if plan.entries > MAX_ENTRIES:
        plan.refuse_entries(plan.entries)
    return plan.build()


def layer_from_archive(archive, where):
    plan = LayerPlan(archive.keys, archive.member, where)
    if plan.entries > MAX_ENTRIES:
        plan.refuse_entries(plan.entries)
    return plan.build()


def open_archive(path):
    """`path` as an :class:`NpzArchive` (headers only), or a one-line ContractError."""
    return NpzArchive(path, max_members=MAX_FILE_MEMBERS)


def load_layer(path):
    """Load and validate a layer .npz file (dense or sparse weights)."""
    with open_archive(path) as archive:
        return layer_from_archive(archive, str(path))


def read_npz(path, max_entries=None):
    """All arrays of an .npz file as a dict (no object arrays, only regular files), or a ContractError naming what
    is wrong with it. With ``max_entries``, a file whose arrays hold more elements in all is refused from their
    headers, before any is decompressed."""
    with NpzArchive(path) as archive:
        members = [archive.member(k) for k in archive.keys]
        total = sum(m.size for m in members)
        if max_entries is not None and total > max_entries:
            raise ContractError(f"{path}: holds {total} array elements, beyond the limit of {max_entries}")
        for m in members:
            if m.dtype.hasobject:
                raise ContractError(f"{m.where}: holds Python objects (pickled data is never loaded)")
        return {k: m.read() for k, m in zip(archive.keys, members)}


def save_npz(path, arrays):
    _atomic_write(path, lambda f: np.savez(f, **arrays))


def save_layer(layer, path, sparse=None):
    """Write `layer` to `path` atomically: dense ``weight`` (sparse=False), the CSR keys (sparse=True), or
    whichever makes the smaller file (None)."""
    save_npz(path, layer.file_arrays(sparse))


def save_array(path, array):
    """Save an .npy file atomically."""
    _atomic_write(path, lambda f: np.save(f, array))


# --- inputs -----------------------------------------------------------------------------------------------------

def load_inputs(path, n_in, in_bits):
    """Load an input .npy ([batch, in] or [in]) and check it against the layer; returns int64 [batch, in].

    The header is judged first (dtype, shape, size); the data is then read block by block, each block checked
    against ``in_bits`` in its own dtype before it is converted."""
    path = str(path)
    m = NpyFile(path)
    if m.dtype.kind not in "iu":
        raise ContractError(f"{path}: inputs must hold integers, got dtype {m.dtype}")
    shape = _inputs_shape(m.shape, n_in, path)
    if m.size > MAX_ENTRIES:
        raise ContractError(f"{path}: inputs hold {m.size} values, beyond the size limit of {MAX_ENTRIES} "
                            f"(MAX_ENTRIES)")
    flat = _read_ints(m, "inputs", path, signed_range(in_bits), f"{in_bits}-bit signed (in_bits)", np.int64,
                      shape=shape)
    if m.fortran:
        return np.ascontiguousarray(flat.reshape(shape[::-1]).T)
    return flat.reshape(shape)


def _inputs_shape(shape, n_in, where):
    """[batch, in] of inputs of `shape`, or a ContractError."""
    if len(shape) == 1:
        shape = (1,) + tuple(shape)
    if len(shape) != 2:
        raise ContractError(f"{where}: inputs must be [batch, in] or [in], got shape {list(shape)}")
    if shape[1] != n_in:
        raise ContractError(f"{where}: inputs have {shape[1]} features but the layer takes {n_in}")
    if shape[0] < 1:
        raise ContractError(f"{where}: inputs hold no samples")
    return tuple(shape)


def check_inputs(x, n_in, in_bits, where="inputs"):
    """Inputs in memory ([batch, in] or [in], any integer dtype) checked against the layer: int64 [batch, in].
    Values are compared with the ``in_bits`` range in their own dtype, so none wraps on the way to int64."""
    x = _as_array(x)
    if x.dtype.kind not in "iu":
        raise ContractError(f"{where}: inputs {_describe_non_integer(x)}")
    shape = _inputs_shape(x.shape, n_in, where)
    x = x.reshape(shape)
    _check_range(x, "inputs", where, signed_range(in_bits), f"{in_bits}-bit signed (in_bits)")
    return np.asarray(x, dtype=np.int64)
