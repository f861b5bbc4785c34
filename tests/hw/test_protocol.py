"""The protocol module: plain Python that the host imports without Amaranth; its frame check (the plain CRC, the
catalog entry the gateware builds, the measured reason for it) and its reference codec for the byte stuffing."""

import json
import subprocess
import sys

import pytest
from amaranth.lib.crc import catalog
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from mamhw.hw.link_types import CHECK_PARAMETERS, SerialCheck
from mamhw.hw.protocol import (CHECK, MAX_RUN, CrcAlgorithm, FrameError, cobs_decode, cobs_encode,
                               reverse_cobs_decode, reverse_cobs_encode)
from tests.bench_scripts import bench_module, run_bench


def test_protocol_and_host_driver_import_without_amaranth():
    # A fresh interpreter: the test session itself has Amaranth loaded long before this runs.
    code = ("import sys; import mamhw.hw.protocol, mamhw.fpga.host; "
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'amaranth'); "
            "print(','.join(loaded)); sys.exit(1 if loaded else 0)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"importing the protocol or the host driver loaded {run.stdout.strip()}"


# The frame check: the plain implementation the host uses, the catalog entry the gateware builds, and the choice.


def _plain(name):
    a = getattr(catalog, name)
    return CrcAlgorithm(name, a.crc_width, a.polynomial, a.initial_crc, a.reflect_input, a.reflect_output,
                        a.xor_output)


def test_the_check_is_its_catalog_entry():
    assert CHECK == _plain(CHECK.name)
    assert CHECK_PARAMETERS.algorithm.__dict__ == getattr(catalog, CHECK.name).__dict__


@settings(max_examples=40)
@given(st.sampled_from(["CRC8_SMBUS", "CRC16_XMODEM", "CRC16_KERMIT", "CRC32_ISO_HDLC", "CRC32_BZIP2",
                        "CRC32_ISCSI", "CRC32_MEF"]), st.binary(max_size=300))
def test_plain_crc_equals_amaranths(name, data):
    assert _plain(name).compute(data) == getattr(catalog, name)(8).compute(data)


def _run_check(bench):
    check = SerialCheck()
    sim = Simulator(check)
    sim.add_clock(1e-6)

    async def run(ctx):
        await bench(ctx, check)
    sim.add_testbench(run)
    sim.run()


async def _fold(ctx, check, byte, start=False):
    """Offer `byte` to the check and wait until it is folded; returns the cycles from the offer until busy falls."""
    ctx.set(check.data, byte)
    ctx.set(check.start, start)
    ctx.set(check.valid, 1)
    await ctx.tick()
    ctx.set(check.valid, 0)
    cycles = 1
    while ctx.get(check.busy):
        await ctx.tick()
        cycles += 1
    return cycles


@settings(max_examples=10, deadline=None)
@given(st.binary(min_size=1, max_size=24), st.integers(0, 8 * 28 - 1), st.integers(0, 3))
def test_gateware_check_accepts_exactly_the_frames_the_host_checks(data, flip, idle):
    """The gateware's frame check (SerialCheck, a bit a cycle) over the content and its check as sent (least
    significant byte first), `idle` cycles between bytes, frames one after the other: the host's CRC of the content
    in its register after the content, 9 cycles a byte, and the residue after the check; any one flipped bit of
    either does not land there."""
    frame = bytearray(data + CHECK.check_bytes(data))
    frames = [bytes(frame)]
    if flip < 8 * len(frame):
        frame[flip // 8] ^= 1 << (flip % 8)
        frames.append(bytes(frame))
    seen = []

    async def bench(ctx, check):
        for f in frames:
            for i, byte in enumerate(f):
                assert await _fold(ctx, check, byte, start=i == 0) == 9
                if idle:
                    await ctx.tick().repeat(idle)
                if i == len(data) - 1:
                    crc = ctx.get(check.crc)
            seen.append((ctx.get(check.match_detected), crc))

    _run_check(bench)
    assert seen[0] == (1, CHECK.compute(data))
    assert [match for match, _ in seen[1:]] == [0] * (len(frames) - 1)


@settings(max_examples=10, deadline=None)
@given(st.binary(max_size=24), st.binary(min_size=1, max_size=8))
def test_the_check_goes_out_of_its_own_register(data, after):
    """Folding the complement of the check's low byte shifts the next byte of the check there: four such folds give
    the check's bytes as the host appends them, and a frame begun with `start` after them starts afresh. The first
    frame may be empty: the register starts at the check's initial value."""
    sent = []

    async def bench(ctx, check):
        for f in (data, after):
            for i, byte in enumerate(f):
                await _fold(ctx, check, byte, start=i == 0)
            for _ in range(4):
                low = ctx.get(check.crc) & 0xFF
                sent.append(low)
                await _fold(ctx, check, low ^ 0xFF)

    _run_check(bench)
    assert bytes(sent) == CHECK.check_bytes(data) + CHECK.check_bytes(after)    # after reset: the empty frame's




def test_no_2_or_3_bit_error_passes_the_check_in_the_largest_frame():
    """The measured reason for the check (bench/link_integrity.py): over every pattern of the largest frame the link
    takes, CRC-32C lets no pair or triple of flipped bits through; CRC-32/ISO-HDLC, the usual CRC-32, does."""
    li = bench_module("link_integrity")
    largest = 2 + 0xFFFF
    s = li.syndromes(CHECK, largest)
    assert li.exact_pairs(s) == (0, None)
    assert li.exact_triples_by_offsets(s) == 0
    assert li.exact_triples_by_offsets(li.syndromes(li.algorithm("CRC32_ISO_HDLC"), largest)) > 0


def test_the_offset_count_of_triples_agrees_with_counting_them_all():
    li = bench_module("link_integrity")
    odd = CrcAlgorithm("odd weight", 16, 0x8BB7, 0xFFFF, True, True, 0)     # lets 3-bit errors through
    s = li.syndromes(odd, 100)
    assert li.exact_triples(s) == li.exact_triples_by_offsets(s) == 743


def test_link_integrity_quick(tmp_path):
    """The benchmark's quick run: the plain CRCs agree with amaranth's, and what it measures is what the
    polynomials' periods say: CRC-8/SMBUS's passing pairs lie 113 line bits apart (x^7 + x^6 + ... 127 in the
    CRC's own order), the CRC-16s with the factor x + 1 let pairs 32,767 bits apart through once the frame is that
    long, and no CRC-32 lets a pair through."""
    out = tmp_path / "q.json"
    run = run_bench("link_integrity.py", "--quick", "--json", out, timeout=300)
    assert run.returncode == 0, run.stderr
    res = {row["name"]: row for row in json.loads(out.read_text())["results"]}
    long = "4100"
    bits = 8 * (4100 + 2)
    for name in ("CRC16_KERMIT", "CRC16_ARC"):
        assert res[name]["lengths"][long]["pairs_passing"] == bits - 32767
        assert res[name]["lengths"][long]["closest_pair"] == 32767
    assert res["CRC8_SMBUS"]["lengths"]["64"]["closest_pair"] == 113
    for name, row in res.items():
        if row["width"] == 32:
            assert all(r["pairs_passing"] == 0 for r in row["lengths"].values()), name
            assert all(r["bytes"][0] == 0 for r in row["lengths"].values()), name
    assert res["CRC8_SMBUS"]["lengths"]["198"]["bytes"][0] > 0
    assert "| CRC32_ISCSI |" in run.stdout


# The reference codec.


def test_cobs_known_vectors():
    assert cobs_encode(b"") == b"\x01"
    assert cobs_encode(b"\x00") == b"\x01\x01"
    assert cobs_encode(b"\x00\x00") == b"\x01\x01\x01"
    assert cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    run = bytes(range(1, MAX_RUN + 1))
    assert cobs_encode(run) == b"\xff" + run + b"\x01"
    assert cobs_decode(b"\xff" + run) == run                # the shorter form decodes the same
    assert reverse_cobs_encode(b"\x11\x22\x00\x33") == b"\x11\x22\x03\x33\x02"
    assert reverse_cobs_encode(run + b"\x00") == run + b"\xff\x01\x01"


@given(st.binary(max_size=700))
def test_stuffing_round_trips_without_zeros(data):
    for encode, decode in ((cobs_encode, cobs_decode), (reverse_cobs_encode, reverse_cobs_decode)):
        stuffed = encode(data)
        assert 0 not in stuffed and decode(stuffed) == data
        assert len(stuffed) <= len(data) + 1 + len(data) // MAX_RUN


@pytest.mark.parametrize("decode, stuffed", [(cobs_decode, b""), (cobs_decode, b"\x05\x01"),
                                             (cobs_decode, b"\x02\x00"), (reverse_cobs_decode, b"\x01\x05"),
                                             (reverse_cobs_decode, b"")])
def test_broken_stuffing_is_refused(decode, stuffed):
    with pytest.raises(FrameError):
        decode(stuffed)
