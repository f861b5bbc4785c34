"""Bad layer, network and input files: each is refused with one line naming the file and the key, from its
headers where it can be, before any data costs memory; nothing blocks, nothing wraps, nothing is replaced."""

import contextlib
import os
import threading
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

from mamhw.golden import (MAX_ENTRIES, MAX_WIDTH, ContractError, check_inputs, load_inputs, load_layer, load_model,
                          load_network)
from tests.golden.crafted import small_layer_arrays, write_member, write_npy_header_only, write_npz
from tests.golden.refusals import refusal


def refused(load, *args):
    """The one-line message with which `load(*args)` refuses (:func:`refusal`), and the peak traced memory
    meanwhile (bytes)."""
    tracemalloc.start()
    try:
        msg = refusal(load, *args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return msg, peak


def as_layer(k, arrays):
    """A layer's `arrays` under the keys of layer `k` of a network file."""
    return {f"{k}/{key}": v for key, v in arrays.items()}


def network_arrays(**extra):
    return {"n_layers": np.array(1)} | as_layer(0, small_layer_arrays()) | extra


def without_weight():
    """The small layer's arrays but its weight, which the test writes in a form of its own."""
    return {k: v for k, v in small_layer_arrays().items() if k != "weight"}


@contextlib.contextmanager
def small_layer_zip(path, leave_out=()):
    """An archive at `path` holding the small layer's arrays but those in `leave_out`, open to add members to."""
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in small_layer_arrays().items():
            if k not in leave_out:
                write_member(zf, k, v)
        yield zf


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """Files holding 2e8 zero entries (200 MB decompressed, under 1 MB on disk)."""
    d = tmp_path_factory.mktemp("bombs")
    return {
        "weight": write_npz(d / "weight.npz", without_weight(), zeros={"weight": ("|i1", (1, 200_000_000))}),
        "junk": write_npz(d / "junk.npz", small_layer_arrays(), zeros={"junk": ("|i1", (200_000_000,))}),
    }


def test_a_weight_header_claiming_2e8_entries_is_refused_before_decompressing(bombs):
    msg, peak = refused(load_layer, bombs["weight"])
    assert f"weight shape [1, 200000000] is beyond the size limit: out and in are at most {MAX_WIDTH}" in msg
    assert peak < 2 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_an_unknown_key_of_2e8_entries_is_refused_before_decompressing(bombs):
    msg, peak = refused(load_layer, bombs["junk"])
    assert msg.endswith("unknown key(s) junk")
    assert peak < 2 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_a_dense_weight_of_more_than_max_entries_is_refused_from_its_header(tmp_path):
    path = write_npz(tmp_path / "l.npz", without_weight() | {"bias": np.zeros(MAX_WIDTH, int)},
                     header_only={"weight": ("<i8", (MAX_WIDTH, MAX_WIDTH))})
    msg, peak = refused(load_layer, path)
    assert f"weight brings the weights stored to {MAX_WIDTH ** 2}, beyond the size limit of {MAX_ENTRIES}" in msg
    assert peak < 2 * 2**20


def test_a_million_by_million_weight_header_is_refused_not_a_traceback(tmp_path):
    path = write_npz(tmp_path / "l.npz", without_weight(), header_only={"weight": ("<i8", (10**6, 10**6))})
    msg, peak = refused(load_layer, path)
    assert "weight shape [1000000, 1000000] is beyond the size limit" in msg
    assert peak < 2 * 2**20


def test_a_network_whose_layers_together_exceed_max_entries_is_refused_before_reading_weights(tmp_path):
    side = 1 << 14                       # each layer 2**28 dense entries: the first alone is at the limit
    arrays = {"n_layers": np.array(2)}
    for k in (0, 1):
        arrays.update(as_layer(k, without_weight()))
        arrays[f"{k}/bias"] = np.zeros(side, int)
    path = write_npz(tmp_path / "n.npz", arrays,
                     header_only={"0/weight": ("|i1", (side, side)), "1/weight": ("|i1", (side, side))})
    msg, peak = refused(load_network, path)
    assert f"layer 1: weight brings the weights stored to {2 * side * side}, beyond the size limit" in msg
    assert peak < 2 * 2**20


def test_a_member_shorter_than_its_header_is_refused(tmp_path):
    path = write_npz(tmp_path / "l.npz", without_weight(), header_only={"weight": ("<i8", (2, 3))})
    msg, _ = refused(load_layer, path)
    assert "weight: stores 0 data bytes but its header's shape [2, 3] of int64 needs 48" in msg


def test_a_member_that_is_not_an_array_is_refused(tmp_path):
    path = tmp_path / "l.npz"
    with small_layer_zip(path, leave_out={"bias"}) as zf:
        zf.writestr("bias.npy", b"not an array")
    msg, _ = refused(load_layer, path)
    assert "bias: not a .npy array" in msg


def test_a_key_stored_twice_is_refused_not_one_of_them_taken(tmp_path):
    path = tmp_path / "l.npz"
    with small_layer_zip(path) as zf:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
            write_member(zf, "weight", np.array([[100, 100, 100], [1, 1, 1]]))
    msg, _ = refused(load_layer, path)
    assert "key 'weight' appears twice in the archive" in msg


def test_an_archive_with_more_members_than_any_layer_file_is_refused_from_its_directory(tmp_path):
    path = tmp_path / "l.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(2000):
            zf.writestr(f"{i}/x.npy", b"")
    msg, _ = refused(load_model, path)
    assert "holds 2000 arrays, more than any valid file" in msg


def test_object_members_are_refused_from_their_header_never_unpickled(tmp_path):
    arrays = small_layer_arrays() | {"bias": np.array([1, None], dtype=object)}
    path = tmp_path / "l.npz"
    np.savez(path, **arrays)
    msg, _ = refused(load_layer, path)
    assert "bias must hold integers, got dtype object" in msg


# --- special files ----------------------------------------------------------------------------------------------

def _in_thread(fn, timeout=20):
    """fn() in a thread; its exception, or a failure if it did not return within `timeout` seconds."""
    box = {}

    def run():
        try:
            fn()
        except BaseException as e:           # noqa: BLE001 - handed to the test
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "the loader blocked"
    return box.get("error")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("load", ["layer", "model", "inputs"])
def test_a_fifo_given_as_a_file_is_refused_not_waited_on(tmp_path, load):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    calls = {"layer": lambda: load_layer(fifo), "model": lambda: load_model(fifo),
             "inputs": lambda: load_inputs(fifo, 3, 8)}
    error = _in_thread(calls[load])
    assert isinstance(error, ContractError) and str(error) == f"{fifo}: is a FIFO, not a " + \
        (".npy file" if load == "inputs" else ".npz file")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_given_as_a_file_is_refused():
    for call in (lambda: load_inputs("/dev/zero", 3, 8), lambda: load_layer("/dev/zero")):
        error = _in_thread(call)
        assert isinstance(error, ContractError) and "/dev/zero: is a device, not a" in str(error)


def test_folders_and_missing_files_are_one_line(tmp_path):
    assert refused(load_inputs, tmp_path, 3, 8)[0] == f"{tmp_path}: is a directory, not a .npy file"
    assert refused(load_inputs, tmp_path / "none.npy", 3, 8)[0] == f"{tmp_path / 'none.npy'}: no such file"


# --- inputs -----------------------------------------------------------------------------------------------------

def test_an_npy_header_claiming_a_million_by_million_inputs_is_refused_not_a_traceback(tmp_path):
    path = write_npy_header_only(tmp_path / "x.npy", "<i8", (10**6, 10**6))
    msg, peak = refused(load_inputs, path, 3, 8)
    assert msg.endswith("inputs have 1000000 features but the layer takes 3")
    assert peak < 2**20
    msg, peak = refused(load_inputs, path, 10**6, 8)
    assert f"inputs hold {10**12} values, beyond the size limit of {MAX_ENTRIES}" in msg
    assert peak < 2**20


def test_an_npy_shorter_than_its_header_is_refused(tmp_path):
    path = write_npy_header_only(tmp_path / "x.npy", "<i8", (4, 3))
    msg, peak = refused(load_inputs, path, 3, 8)
    assert "stores 0 data bytes but its header's shape [4, 3] of int64 needs 96" in msg


def test_uint64_inputs_of_2_64_minus_1_are_refused_not_wrapped(tmp_path):
    x = np.array([[1, 2**64 - 1, 3]], dtype=np.uint64)
    np.save(tmp_path / "x.npy", x)
    msg, _ = refused(load_inputs, tmp_path / "x.npy", 3, 8)
    assert msg.endswith("inputs value 18446744073709551615 at [0, 1] is outside 8-bit signed (in_bits) range "
                        "[-128, 127]")
    with pytest.raises(ContractError, match="inputs value 18446744073709551615 at \\[0, 1\\]"):
        check_inputs(x, 3, 8)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                                   ">i4", ">u8"])
def test_out_of_range_inputs_are_refused_for_every_integer_dtype(tmp_path, dtype):
    info = np.iinfo(np.dtype(dtype))
    in_bits = 4 if info.bits == 8 else 8 if info.bits == 16 else 16
    lo, hi = -(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1
    ok = np.array([[0, 1, max(lo, info.min)], [hi, 2, 3]], dtype=dtype)
    np.save(tmp_path / "ok.npy", ok)
    assert load_inputs(tmp_path / "ok.npy", 3, in_bits).tolist() == ok.astype(np.int64).tolist()
    for bad in ([info.max], [hi + 1]) + (([info.min], [lo - 1]) if info.min < 0 else ()):
        x = ok.copy()
        x[1, 2] = bad[0]
        np.save(tmp_path / "bad.npy", x)
        msg, _ = refused(load_inputs, tmp_path / "bad.npy", 3, in_bits)
        assert msg.endswith(f"inputs value {bad[0]} at [1, 2] is outside {in_bits}-bit signed (in_bits) range "
                            f"[{lo}, {hi}]"), msg
        with pytest.raises(ContractError, match=f"inputs value {bad[0]} at"):
            check_inputs(x, 3, in_bits)


def test_fortran_ordered_inputs_load_as_their_values(tmp_path):
    x = np.asfortranarray(np.arange(-6, 6).reshape(3, 4))
    np.save(tmp_path / "x.npy", x)
    assert load_inputs(tmp_path / "x.npy", 4, 8).tolist() == x.tolist()
    x[2, 1] = 300
    np.save(tmp_path / "x.npy", x)
    assert refused(load_inputs, tmp_path / "x.npy", 4, 8)[0].endswith("inputs value 300 at [2, 1] is outside "
                                                                       "8-bit signed (in_bits) range [-128, 127]")


@pytest.mark.parametrize("x,dtype", [(np.array([1.0, 2.0, 3.0]), "float64"), (np.array([True, False, True]), "bool"),
                                     (np.array([1, None, 3], dtype=object), "object"),
                                     (np.array([1 + 0j, 2, 3]), "complex128"), (np.array(["1", "2", "3"]), "<U1")])
def test_floats_bools_objects_and_strings_are_not_inputs(tmp_path, x, dtype):
    np.save(tmp_path / "x.npy", x, allow_pickle=x.dtype == object)
    msg, _ = refused(load_inputs, tmp_path / "x.npy", 3, 8)
    assert msg.endswith(f"inputs must hold integers, got dtype {dtype}")
    with pytest.raises(ContractError, match="inputs must hold integers"):
        check_inputs(x, 3, 8)


def test_python_integers_beyond_int64_are_not_inputs():
    with pytest.raises(ContractError, match="inputs must hold integers, got dtype object"):
        check_inputs([1, 2**70, 3], 3, 8)


# --- network keys -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["00/weight", "01/weight", "+0/weight", " 0/weight", "0 /weight", "٠/weight",
                                 "０/weight", "²/weight", "0x0/weight", "1/weight", "/weight", "0", "n_layers/0",
                                 "99999999999999999999999/weight"])
def test_a_network_key_that_is_not_a_canonical_layer_index_is_refused_not_merged(tmp_path, key):
    path = tmp_path / "n.npz"
    np.savez(path, **network_arrays(**{key: np.array([[100, 100, 100], [1, 1, 1]])}))
    for load in (load_network, load_model):
        msg, _ = refused(load, path)
        assert msg.endswith(f"unknown key {key!r} (expected n_layers or k/<layer key> with k in 0..0, "
                            f"plain decimal)"), msg


def test_canonical_keys_load_and_every_one_is_used(tmp_path):
    path = tmp_path / "n.npz"
    arrays = network_arrays()
    for k in range(1, 11):
        arrays.update(as_layer(k, small_layer_arrays()))
        arrays[f"{k}/weight"] = np.full((2, 2), k)
    arrays["n_layers"] = np.array(11)
    np.savez(path, **arrays)
    network = load_network(path)
    assert [int(layer.weight[0, 0]) for layer in network][1:] == list(range(1, 11))
    del arrays["10/relu"]
    np.savez(path, **arrays)
    assert refused(load_network, path)[0].endswith("layer 10: not a layer file: missing key(s) relu")


def test_a_network_layer_with_an_unknown_key_is_refused_before_any_layer_is_read(tmp_path):
    path = write_npz(tmp_path / "n.npz", network_arrays(n_layers=np.array(2)) | as_layer(1, small_layer_arrays()),
                     zeros={"1/junk": ("|i1", (50_000_000,))})
    msg, peak = refused(load_network, path)
    assert msg.endswith("layer 1: unknown key(s) junk")
    assert peak < 2 * 2**20


def _npy_with_header(path, text, data=b""):
    body = text.encode("latin1")
    head = np.lib.format.MAGIC_PREFIX + b"\x01\x00"
    body += b" " * ((64 - (len(head) + 2 + len(body) + 1) % 64) % 64) + b"\n"
    path.write_bytes(head + len(body).to_bytes(2, "little") + body + data)
    return path


@pytest.mark.parametrize("text,words", [
    ("{'descr': '<i8', 'fortran_order': False, 'shape': (3,", "unreadable header"),   # tokenize's own error
    ("{'descr': 'xyz', 'fortran_order': False, 'shape': (3,), }", "descr is not a valid dtype descriptor"),
    ("{'descr': '<i8', 'fortran_order': False, 'shape': (-3,), }", "header has an invalid shape (-3,)"),
    ("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), 'x': lambda: 0}", "malformed node or string"),
])
def test_a_malformed_npy_header_is_one_line_not_a_traceback(tmp_path, text, words):
    path = _npy_with_header(tmp_path / "x.npy", text, bytes(24))
    assert words in refused(load_inputs, path, 3, 8)[0]


def test_a_corrupt_compressed_member_is_one_line(tmp_path):
    path = tmp_path / "l.npz"
    np.savez_compressed(path, **small_layer_arrays() | {"weight": np.arange(600).reshape(2, 300) % 7})
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("weight.npy")
    name_len, extra_len = np.frombuffer(bytes(raw[info.header_offset + 26:info.header_offset + 30]), "<u2")
    start = info.header_offset + 30 + int(name_len) + int(extra_len)       # the local header's own lengths
    raw[start + info.compress_size - 8] ^= 0xFF                # inside the deflate stream, past the header
    path.write_bytes(bytes(raw))
    msg, _ = refused(load_layer, path)
    assert "weight: unreadable data" in msg, msg
