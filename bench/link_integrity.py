"""The host link's frame check, measured: which errors CRC-8/SMBUS (protocol version 2) and CRC-16 and CRC-32
candidates of amaranth.lib.crc.catalog let through, on frames of the lengths the link carries.

Run: python bench/link_integrity.py [--seed 1] [--json out.json]
     python bench/link_integrity.py --quick          (shorter frames, fewer trials: what the tests run)

A frame is its covered bytes (the content the check protects) followed by the check, sent as the link sends it:
bytes in order, each least significant bit first (the UART's order), the check little endian for a reflected
algorithm and big endian otherwise (hw/protocol.py CrcAlgorithm). An error pattern is a set of flipped line bits,
anywhere in the frame, the check included; it passes when the damaged frame still checks out. Every CRC is linear,
so a pattern passes exactly when the xor of its bits' syndromes is 0 (a bit's syndrome: what flipping it alone does
to the received check against the recomputed one). From the syndromes of every bit of a frame:

- exact: how many of all 2-, 3- and 4-bit patterns pass (pairs: equal syndromes; triples: a pair's xor equal to a
  third; 4-sets: two disjoint pairs with equal xors), and the closest two flips that pass;
- sampled (fixed seed): random 2- to 8-bit patterns, bursts along the line (first and last bit flipped, the bits
  between random), and 1 to 8 random bytes replaced by other values (what a UART that lost bit sync delivers).

The plain implementation the measurement (and the host driver) uses is checked against amaranth's own
Parameters.compute for every candidate before anything is measured. The last column counts the xor inputs of the
gateware's one-byte step (amaranth.lib.crc.Processor's F and G matrices), a proxy for its size.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from amaranth.lib.crc import catalog  # noqa: E402

from mamhw.hw.protocol import CrcAlgorithm  # noqa: E402

CANDIDATES = ["CRC8_SMBUS", "CRC16_XMODEM", "CRC16_KERMIT", "CRC16_ARC", "CRC16_T10_DIF", "CRC16_DNP",
              "CRC32_ISO_HDLC", "CRC32_BZIP2", "CRC32_ISCSI", "CRC32_MEF", "CRC32_AUTOSAR"]
# Covered bytes: a LOAD_WEIGHTS frame of 3-byte words (code, tag, header, 64 words), the 784-input MNIST frame that
# let CRC-8 errors through, and the largest frame the link takes (code, tag, 65535 payload bytes).
FULL = dict(lengths=[198, 787, 65537], exact3=787, exact4=787, trials=20_000, byte_trials=1_000_000)
QUICK = dict(lengths=[64, 198, 4100], exact3=198, exact4=64, trials=2_000, byte_trials=20_000)
BIT_ERRORS = (2, 3, 4, 6, 8)
BURSTS = ((2, 16), (17, 32))


def algorithm(name):
    """The catalog entry `name` as the plain CrcAlgorithm, checked against amaranth's computation."""
    a = getattr(catalog, name)
    algo = CrcAlgorithm(name, a.crc_width, a.polynomial, a.initial_crc, a.reflect_input, a.reflect_output,
                        a.xor_output)
    rng = np.random.default_rng(0)
    for n in (0, 1, 9, 100):
        data = rng.integers(0, 256, n).astype(np.uint8).tobytes()
        if algo.compute(data) != a(8).compute(data):
            raise AssertionError(f"{name}: the plain CRC differs from amaranth.lib.crc's")
    return algo


def syndromes(algo, length):
    """Syndrome of every line bit of a frame of `length` covered bytes and its check: uint64 [8 * (length + w/8)]."""
    w, mask = algo.width, (1 << algo.width) - 1
    table = np.array(algo.table, dtype=np.uint64)
    bits = np.array([1 << b for b in range(8)])
    if algo.reflect_input:
        bits = np.array([1 << (7 - b) for b in range(8)])
    # The register after a lone bit in the last byte, then shifted back one zero byte per position.
    state = table[bits]
    reg = np.zeros((length, 8), dtype=np.uint64)
    shift, m = np.uint64(w - 8), np.uint64(mask)
    for k in range(length - 1, -1, -1):
        reg[k] = state
        state = ((state << np.uint64(8)) & m) ^ table[(state >> shift) & np.uint64(0xFF)]
    if algo.reflect_output:
        reg = _reflect(reg, w)
    nb = w // 8
    order = range(nb) if algo.reflect_output else range(nb - 1, -1, -1)     # the check's bytes as sent
    check = np.array([[1 << (8 * j + b) for b in range(8)] for j in order], dtype=np.uint64)
    return np.concatenate([reg.reshape(-1), check.reshape(-1)])


def _reflect(values, width):
    out = np.zeros_like(values)
    for i in range(width):
        out |= ((values >> np.uint64(i)) & np.uint64(1)) << np.uint64(width - 1 - i)
    return out


def exact_pairs(s):
    """(2-bit patterns that pass, the closest two flips that pass in bits or None)."""
    order = np.argsort(s, kind="stable")
    v = s[order]
    _, counts = np.unique(v, return_counts=True)
    passing = int(np.sum(counts * (counts - 1) // 2))
    same = v[1:] == v[:-1]
    closest = int(np.min(order[1:][same] - order[:-1][same])) if passing else None
    return passing, closest


def exact_triples(s):
    """3-bit patterns that pass: sum over pairs of the bits whose syndrome is their xor, each triple counted thrice."""
    v = np.sort(s)
    total = 0
    for i in range(len(s) - 1):
        x = s[i] ^ s[i + 1:]
        total += int(np.sum(np.searchsorted(v, x, "right") - np.searchsorted(v, x, "left")))
    return total // 3


def exact_triples_by_offsets(s):
    """3-bit patterns that pass, for a reflected CRC: the line then carries the codeword's coefficients in order, so
    bit n's syndrome is a fixed linear map of x^(N-1-n) mod the polynomial and whether three flips pass depends only
    on their offsets (d1 < d2 from the first), each such pair fitting N - d2 times. Needs distinct syndromes (no
    passing pair). Linear in N, so it reaches the largest frame."""
    t = s[::-1]                                     # t[e]: the bit e places before the frame's end
    order = np.argsort(t)
    v = t[order]
    if np.any(v[1:] == v[:-1]):
        return None
    x = t[0] ^ t[1:]                                # offsets d1 = 1..N-1
    at = np.searchsorted(v, x)
    found = (at < len(v)) & (v[np.minimum(at, len(v) - 1)] == x)
    d1 = np.arange(1, len(t))[found]
    d2 = order[at[found]]
    keep = d2 > d1
    return int(np.sum(len(t) - d2[keep]))


def exact_quads(s, pairs_passing):
    """4-bit patterns that pass: pairs of pairs with equal xors, less those sharing a bit (a passing 2-bit pattern
    and any third bit), each 4-set counted thrice (its three pairings)."""
    n = len(s)
    i, j = np.triu_indices(n, 1)
    x = np.sort((s[i] ^ s[j]).astype(np.uint32 if s.max() < 1 << 32 else np.uint64))
    del i, j
    starts = np.flatnonzero(np.concatenate([[True], x[1:] != x[:-1], [True]]))
    counts = np.diff(starts).astype(np.int64)
    equal = int(np.sum(counts * (counts - 1) // 2))
    return (equal - pairs_passing * (n - 2)) // 3


def sampled_bits(s, k, trials, rng):
    """Of `trials` random k-bit patterns, how many pass."""
    pos = rng.integers(0, len(s), (trials, k))
    pos = pos[np.all(np.diff(np.sort(pos, axis=1), axis=1) != 0, axis=1)]         # k distinct bits
    return int(np.sum(np.bitwise_xor.reduce(s[pos], axis=1) == 0)), len(pos)


def sampled_bursts(s, lo, hi, trials, rng):
    """Of `trials` line bursts of lo..hi bits (first and last flipped, the rest random), how many pass."""
    n = len(s)
    length = rng.integers(lo, hi + 1, trials)
    start = rng.integers(0, n - hi + 1, trials)
    inner = rng.integers(0, 2, (trials, hi)).astype(bool)
    offs = np.arange(hi)
    flip = (offs[None, :] < length[:, None]) & (inner | (offs[None, :] == 0) | (offs[None, :] == length[:, None] - 1))
    syn = np.where(flip, s[start[:, None] + offs[None, :]], np.uint64(0))
    return int(np.sum(np.bitwise_xor.reduce(syn, axis=1) == 0))


def sampled_bytes(s, trials, rng, chunk=100_000):
    """Of `trials` frames with 1..8 bytes (at distinct places) replaced by other values, how many pass."""
    per_byte = s.reshape(-1, 8)
    passed = valid = 0
    for done in range(0, trials, chunk):
        t = min(chunk, trials - done)
        k = rng.integers(1, 9, t)
        unused = np.arange(8)[None, :] >= k[:, None]
        pos = np.where(unused, -1 - np.arange(8)[None, :], rng.integers(0, len(per_byte), (t, 8)))
        distinct = np.all(np.diff(np.sort(pos, axis=1), axis=1) != 0, axis=1)
        delta = np.where(unused, 0, rng.integers(1, 256, (t, 8)))
        bits = ((delta[:, :, None] >> np.arange(8)[None, None, :]) & 1).astype(bool)
        syn = np.where(bits, per_byte[np.maximum(pos, 0)], np.uint64(0))
        passing = np.bitwise_xor.reduce(syn.reshape(t, -1), axis=1) == 0
        passed += int(np.sum(passing & distinct))
        valid += int(np.sum(distinct))
    return passed, valid


def xor_inputs(name):
    f, g = getattr(catalog, name)(8)._matrices()
    return sum(map(sum, f)) + sum(map(sum, g))


def measure(names, cfg, seed, log=lambda msg: None):
    results = []
    for name in names:
        algo = algorithm(name)
        row = dict(name=name, width=algo.width, polynomial=f"0x{algo.polynomial:0{algo.width // 4}x}",
                   reflected=algo.reflect_input, xor_inputs=xor_inputs(name), lengths={})
        for length in cfg["lengths"]:
            t0 = time.perf_counter()
            rng = np.random.default_rng([seed, length])
            s = syndromes(algo, length)
            pairs, closest = exact_pairs(s)
            r = dict(bits=len(s), pairs_total=math.comb(len(s), 2), pairs_passing=pairs, closest_pair=closest)
            if length <= cfg["exact3"]:
                r.update(triples_total=math.comb(len(s), 3), triples_passing=exact_triples(s))
            elif algo.reflect_input and not pairs:
                r.update(triples_total=math.comb(len(s), 3), triples_passing=exact_triples_by_offsets(s))
            if length <= cfg["exact4"]:
                r.update(quads_total=math.comb(len(s), 4), quads_passing=exact_quads(s, pairs))
            r["random_bits"] = {}
            for k in BIT_ERRORS:
                passed, n = sampled_bits(s, k, cfg["trials"], rng)
                r["random_bits"][k] = [passed, n]
            r["bursts"] = {f"{lo}-{hi}": [sampled_bursts(s, lo, hi, cfg["trials"], rng), cfg["trials"]]
                           for lo, hi in BURSTS}
            r["bytes"] = list(sampled_bytes(s, cfg["byte_trials"], rng))
            row["lengths"][length] = r
            log(f"{name} {length} bytes: {time.perf_counter() - t0:.1f} s")
        results.append(row)
    return results


def _cell(pair):
    passed, n = pair
    return f"{passed}/{n}"


def tables(results, cfg):
    out = []
    for length in cfg["lengths"]:
        r0 = results[0]["lengths"][length]
        head = ["check", "poly", "refl", f"2-bit exact (of {r0['pairs_total']:,})", "closest passing pair"]
        if any("triples_passing" in row["lengths"][length] for row in results):
            total = math.comb(r0["bits"], 3)
            head.append(f"3-bit exact (of {total:.2e})")
        if length <= cfg["exact4"]:
            head.append(f"4-bit exact (of {r0['quads_total']:.2e})")
        head += [f"random {k}-bit" for k in BIT_ERRORS] + [f"bursts {b}" for b in r0["bursts"]]
        head += ["1-8 bytes replaced", "xor inputs"]
        out.append(f"\n{length} covered bytes + check:\n")
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for row in results:
            r = row["lengths"][length]
            cells = [row["name"], row["polynomial"], "yes" if row["reflected"] else "no", f"{r['pairs_passing']:,}",
                     "-" if r["closest_pair"] is None else f"{r['closest_pair']} bits"]
            if any("triples_passing" in other["lengths"][length] for other in results):
                cells.append(f"{r['triples_passing']:,}" if "triples_passing" in r else "-")
            if "quads_passing" in r:
                cells.append(f"{r['quads_passing']:,}")
            cells += [_cell(r["random_bits"][k]) for k in BIT_ERRORS] + [_cell(v) for v in r["bursts"].values()]
            cells += [_cell(r["bytes"]), str(row["xor_inputs"])]
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short frames and few trials (the tests' run)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--candidates", nargs="+", default=CANDIDATES, choices=CANDIDATES)
    p.add_argument("--json", help="write every measurement here")
    args = p.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    t0 = time.perf_counter()
    results = measure(args.candidates, cfg, args.seed, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(tables(results, cfg))
    print(f"\n({time.perf_counter() - t0:.0f} s, seed {args.seed}{', --quick' if args.quick else ''})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(config=cfg, seed=args.seed, results=results), f, indent=1)
    return 0


if __name__ == "__main__":
    import measurements

    sys.exit(measurements.run("link_integrity", main, markdown=True))
