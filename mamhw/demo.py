"""`mam demo`: a built-in pruned MAM layer, run through the golden model and the RTL, checked bit for bit."""

import json
import os
import time

import numpy as np

from .check import check_against_golden, format_report, report_ok
from .golden import Layer, Network, network_forward, save_array, save_layer
from .golden.atomic import save_text
from .progress import Progress

__all__ = ["cmd_demo", "demo_layer"]


def demo_layer(rng, n_out=64, n_in=256, density=0.02):
    """A MAM layer pruned to `density` by magnitude, with int8 weights and a sensible requantization."""
    w = np.clip(np.rint(rng.normal(0, 40, (n_out, n_in))), -128, 127).astype(np.int64)
    keep = int(round(density * w.size))
    threshold = np.sort(np.abs(w).ravel())[-keep]
    w[np.abs(w) < threshold] = 0
    w[rng.integers(0, n_out, 2)] = 0                            # a couple of empty rows, as pruning leaves
    bias = rng.integers(-500, 500, n_out)
    return Layer.build(kind="mam", weight=w, bias=bias, mult=181, shift=13, relu=True)


def cmd_demo(args):
    t0 = time.monotonic()
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    layer = demo_layer(rng)
    x = rng.integers(-128, 128, (8, layer.n_in))
    network = Network([layer])
    print(f"mam demo: a {layer.n_out}x{layer.n_in} MAM layer pruned to {layer.nnz} of "
          f"{layer.weight.size} interconnections, {x.shape[0]} samples through the RTL (Amaranth simulator)")
    outputs, report = check_against_golden(network, x, backend=args.backend, progress=Progress("simulating samples"))
    save_layer(layer, os.path.join(args.out_dir, "layer.npz"))
    save_array(os.path.join(args.out_dir, "inputs.npy"), x)
    save_array(os.path.join(args.out_dir, "golden.npy"), network_forward(network, x))
    save_array(os.path.join(args.out_dir, "rtl.npy"), outputs)
    save_text(os.path.join(args.out_dir, "report.json"), json.dumps(report, indent=2) + "\n")
    print(format_report(report))
    print(f"files in {args.out_dir}/ (layer.npz, inputs.npy, golden.npy, rtl.npy, report.json); "
          f"{time.monotonic() - t0:.1f} s")
    return 0 if report_ok(report) else 1
