"""`mam export`: synthesizable Verilog and RTLIL of the network engine with the weights baked in, for other flows."""

import json
import os

from .golden import load_model
from .golden.engines import cycle_model
from .limits import check_engine_memory
from .options import add_engine, add_pes, add_relative_indices, input_file, output_dir, relative_indices
from .paths import output_folder
from .plumbing import atomic_write_all

__all__ = ["add_export_arguments", "cmd_export", "protocol_text", "EXPORTED"]

EXPORTED = ("top.v", "top.il", "PORTS.md", "network.json")


def add_export_arguments(p):
    p.add_argument("model", type=input_file, metavar="LAYER_OR_NETWORK.npz", help="layer or network file")
    p.add_argument("-o", "--out-dir", required=True, type=output_dir(*EXPORTED), metavar="DIR",
                   help="folder for top.v, top.il, PORTS.md")
    add_pes(p)
    add_engine(p)
    add_relative_indices(p)


def protocol_text(network, pes, engine, model):
    from amaranth.hdl import Value
    from amaranth.lib import wiring
    ports = []
    for path, member, value in engine.signature.flatten(engine):
        name = "_".join(str(p) for p in path)
        width = Value.cast(value).shape().width
        ports.append(f"| `{name}` | {'in' if member.flow == wiring.In else 'out'} | {width} |")
    layers = "\n".join(
        f"| {k} | {L.kind} | {L.n_out}x{L.n_in} | {L.nnz} | {int(model.entries[k])} | {int(model.per_layer[k])} |"
        for k, L in enumerate(network))
    if hasattr(engine, "plans"):
        total = (f"At most {int(model.total)} cycles from `start` to `done` per input vector, exactly that many with no "
                 f"zero activation: the window engine skips zero activations, and golden/window.py's "
                 f"window_sample_cycles gives the exact count of any input vector")
    else:
        total = (f"Total: {int(model.total)} cycles from `start` to `done` per input vector (exact: golden/cycles.py "
                 f"is the cycle model of this engine)")
    return f"""# Exported mamhw network engine

Top module `top`, one clock domain: `clk` (rising edge), synchronous active-high `rst`.
{len(network)} layer(s) on {pes} processing element(s); weights, biases and requantization are baked in.

| layer | kind | out x in | weights | entries | cycles{' (at most)' if hasattr(engine, 'plans') else ''} |
|---|---|---|---|---|---|
{layers}

{total}.

## Ports

| port | dir | bits |
|---|---|---|
{chr(10).join(ports)}

## Protocol

1. Load the input vector: for i in 0..{network.n_in - 1}, hold `x_we`=1, `x_addr`=i, `x_data`=x[i] (signed,
   {network.in_bits} bits) for one cycle each.
2. Pulse `start` for one cycle (ignored while `busy`). `busy` rises; `done` falls.
3. Wait for `done` (a level: it rises exactly once per run and stays high until the next `start`). `cycles`
   then holds the run's cycle count and `layer_cycles` one 32-bit count per layer (layer k at bits 32k..32k+31).
4. Read the outputs: set `y_addr`=r (0..{network.n_out - 1}); `y_data` (signed, {network[-1].out_bits} bits)
   shows output r {engine.Y_LATENCY} cycles later (the row map is registered, then the buffer read). A new
   row may be set every cycle.

Do not write inputs while `busy`.
"""


def cmd_export(args):
    from amaranth.back import rtlil, verilog
    from .hw.engines import build_engine
    network = load_model(args.model)
    delta_bits = relative_indices(args, network)
    model = cycle_model(network, args.pes, args.engine, args.window, delta_bits)
    check_engine_memory(int(model.entries.sum()), f"exporting {args.model} on {args.pes} PE(s)")
    relative = {"delta_bits": delta_bits} if delta_bits else {}
    engine, _ = build_engine(network, args.pes, engine=args.engine, window=args.window, **relative)
    protocol = protocol_text(network, args.pes, engine, model)
    il = rtlil.convert(engine, name="top")
    engine, _ = build_engine(network, args.pes, engine=args.engine, window=args.window, **relative)  # one each
    v = verilog.convert(engine, name="top")
    info = json.dumps({"model": os.fspath(args.model), "pes": args.pes, "engine": args.engine,
                       **({"window": args.window} if args.engine == "window" else {}), **relative,
                       "cycles": int(model.total),
                       "y_latency": engine.Y_LATENCY, "layer_cycles": [int(c) for c in model.per_layer],
                       "entries": [int(e) for e in model.entries],
                       "pe_load": [[int(v) for v in load] for load in model.load]}, indent=2) + "\n"
    # All four files land together or none does (and a folder made for them goes again).
    with output_folder(args.out_dir):
        atomic_write_all((os.path.join(args.out_dir, name), _bytes(text))
                         for name, text in zip(EXPORTED, (v, il, protocol, info)))
    print(f"exported {len(network)} layer(s) on {args.pes} PE(s) to {args.out_dir}/: top.v, top.il, PORTS.md, "
          f"network.json ({int(model.total)} cycles per input vector)")
    return 0


def _bytes(text):
    data = text.encode()
    return lambda f: f.write(data)
