"""`mam run`: run a batch on a board over its USB UART, and check it against the golden and cycle models."""

import json
import os

import numpy as np

from .commands import check_output_paths
from .golden import ContractError, load_inputs, load_model, network_forward, save_array
from .plumbing import save_text
from .check import model_cycles_text, spread
from .golden.engines import cycle_model, sample_cycles
from .progress import Progress

__all__ = ["cmd_run", "run_report", "format_run"]

MAX_LISTED_MISMATCHES = 20


def _load_labels(path, batch):
    try:
        y = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ContractError(f"{path}: not a NumPy .npy file ({str(e).splitlines()[0] if str(e) else e!r})") from None
    if not isinstance(y, np.ndarray) or y.shape != (batch,) or y.dtype.kind not in "iu":
        raise ContractError(f"{path}: labels must be integers [{batch}], one per sample")
    return y.astype(np.int64)


def run_report(network, x, result, *, labels=None, engine="row", window=None, delta_bits=0):
    """The report of a board run: outputs and cycles against the golden model and the cycle model of `engine`
    (with relative indices of `delta_bits` bits if > 0)."""
    pes = result.info.pes
    outputs = network_forward(network, x, return_all=True)
    golden = outputs[-1]
    model = cycle_model(network, pes, engine, window, delta_bits)
    expected = sample_cycles(network, x, pes, engine, window, outputs, delta_bits)    # [batch, layers]
    diff = np.argwhere(result.outputs != golden)
    cycles_ok = bool(np.all(result.cycles == expected.sum(axis=1)) and np.all(result.layer_cycles == expected))
    report = {
        "pes": pes,
        "engine": engine,
        **({"window": window} if engine == "window" else {}),
        **({"delta_bits": int(delta_bits)} if delta_bits else {}),
        "design_id": f"0x{result.info.design_id:08x}",
        "weights_loaded": bool(result.info.weight_bits),    # into RAM (SPRAM) over the link before the batch
        "batch": int(x.shape[0]),
        "model_cycles": int(model.total),
        "model_layer_cycles": [int(c) for c in model.per_layer],
        "model_cycles_per_sample": [int(c) for c in expected.sum(axis=1)],
        "cycles_per_sample": [int(c) for c in result.cycles],
        "layer_cycles_per_sample": [[int(c) for c in row] for row in result.layer_cycles],
        "cycles_match_model": cycles_ok,
        "mismatches": int(len(diff)),
        "mismatch_examples": [
            {"sample": int(s), "output": int(o), "board": int(result.outputs[s, o]), "golden": int(golden[s, o])}
            for s, o in diff[:MAX_LISTED_MISMATCHES]
        ],
    }
    if labels is not None:
        report["accuracy"] = float(np.mean(np.argmax(result.outputs, axis=1) == labels))
        report["golden_accuracy"] = float(np.mean(np.argmax(golden, axis=1) == labels))
    return report


def format_run(report):
    cyc = report["cycles_per_sample"]
    lo, hi = min(cyc), max(cyc)
    verdict = "match" if report["cycles_match_model"] else "DIFFER FROM"
    n = report["batch"] * report["n_out"]
    engine = f"window engine (W = {report['window']})" if report.get("engine") == "window" else "row engine"
    lines = [f"board {report['board']} on {report['port']}, {report['pes']} PE{'s' if report['pes'] > 1 else ''}, "
             f"{engine}, {report['batch']} sample{'s' if report['batch'] > 1 else ''}",
             f"cycles per sample: {lo if lo == hi else f'{lo}..{hi}'} ({verdict} the model's "
             f"{model_cycles_text(spread(report['model_cycles_per_sample']), report['model_cycles'])})"]
    if report.get("weights_loaded"):
        lines.insert(1, "weights: loaded into the board's weight RAM (SPRAM) over the link before the batch")
    if report["mismatches"]:
        lines.append(f"MISMATCH: {report['mismatches']} of {n} outputs differ from the golden model")
    else:
        lines.append(f"outputs: all {n} equal the golden model bit for bit")
    if "accuracy" in report:
        lines.append(f"accuracy: {100 * report['accuracy']:.1f}% (golden model {100 * report['golden_accuracy']:.1f}%)")
    return "\n".join(lines)


def cmd_run(args):
    from .fpga.boards import get_board
    from .fpga.host import Device, open_serial
    check_output_paths(args.output, args.report)
    board = get_board(args.board)
    if args.pes is not None and not 1 <= args.pes <= 16:
        raise ContractError(f"--pes must be in 1..16, got {args.pes}")
    if not args.timeout > 0:
        raise ContractError(f"--timeout must be positive, got {args.timeout}")
    network = load_model(args.model)
    x = load_inputs(args.inputs, network.n_in, network.in_bits)
    labels = None if args.labels is None else _load_labels(args.labels, x.shape[0])
    port = open_serial(args.port, board.baud, timeout=args.timeout)
    try:
        device = Device(port, name=args.port)
        result = device.run_batch(network, x, pes=args.pes, where=os.fspath(args.model),
                                  progress=Progress("running samples"), engine=args.engine, window=args.window)
    finally:
        port.close()
    engine, window = device.engine           # the one whose design id the board reported
    report = run_report(network, x, result, labels=labels, engine=engine, window=window,
                        delta_bits=device.delta_bits)
    report.update(board=board.name, port=args.port, model=os.fspath(args.model), inputs=os.fspath(args.inputs),
                  n_out=network.n_out)
    save_array(args.output, result.outputs)
    if args.report:
        save_text(args.report, json.dumps(report, indent=2) + "\n")
    print(format_run(report))
    return 0 if report["mismatches"] == 0 and report["cycles_match_model"] else 1


def add_run_arguments(r):
    from .options import add_board, add_engine, add_pes, input_file, output_file, positive_float
    r.description = ("Load each sample into the network engine on the board (bitstream built for this network), run "
                     "it, read the outputs and the cycle counters, and compare them with the golden model and the "
                     "cycle model. Needs pyserial (pip install -e '.[board]').")
    r.add_argument("model", type=input_file, metavar="NETWORK.npz",
                   help="layer or network file the bitstream was built for")
    r.add_argument("inputs", type=input_file, metavar="INPUTS.npy", help="integers [batch, in] or [in]")
    r.add_argument("-o", "--output", required=True, type=output_file, metavar="OUT.npy",
                   help="where to write the board's outputs")
    add_board(r, help="icebreaker or ulx3s-85f (sets the baud)")
    r.add_argument("--port", required=True, metavar="DEV", help="serial port, e.g. /dev/ttyUSB1, or a pyserial URL")
    add_pes(r, default=None, what="expected processing elements")
    add_engine(r, auto=True)
    r.add_argument("--labels", type=input_file, metavar="Y.npy", help="integer labels [batch]: report the accuracy too")
    r.add_argument("--report", type=output_file, metavar="R.json", help="write a JSON report")
    r.add_argument("--timeout", type=positive_float, default=2.0, metavar="S",
                   help="seconds to wait for each reply (default: %(default)s)")
