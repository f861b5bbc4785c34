"""Import float networks trained elsewhere, then quantize them to the integer layer contract.

Sources:

- a PyTorch checkpoint (``torch.save``): a plain state dict, or one inside the usual wrappers (``{'model': ...}``,
  ``{'state_dict': ...}``, ``{'model_state_dict': ...}``, with the optimizer, epoch and the like beside it, which
  are left out and listed). Always loaded with ``weights_only=True``: no code in the file runs, and a pickled whole
  module is refused with a line saying how to save its state dict instead. Needs torch (``pip install
  mamhw[torch]``).
- a ``.npz`` of float arrays with the same key names (``fc1.weight`` or ``fc1/weight``).

What a state dict holds, and how it is read:

- dense layers: mamtorch ``FullyConnected`` or ``torch.nn.Linear``, ``weight [out, in]`` and ``bias [out]``
  (no bias: 0), any prefix (``fc1.``, ``net.0.``, ``0.`` of ``nn.Sequential``, ``module.`` of DataParallel);
- pruning: ``weight_orig`` and ``weight_mask`` of ``torch.nn.utils.prune`` (the mask is applied), and weights
  that are exactly 0 (mamtorch prunes so): both are pruned interconnections, products 0 that still compete in
  max and min, as the contract says;
- fp16 and bf16 tensors are widened to float32;
- ``BatchNorm1d`` right after a layer (``running_mean``, ``running_var``, optional affine ``weight``/``bias``) is
  folded into that layer: ``w' = s w`` row by row and ``b' = s (b - mean) + beta`` with
  ``s = gamma / sqrt(var + eps)``. Exact for MAC, and for MAM too whatever the sign of ``s``:
  ``s (max p + min p) = max(s p) + min(s p)``. The common factor of the rows ends up in the weight scale and so
  in the requantization. ``eps`` is not in a state dict: BatchNorm1d's default 1e-5 unless given.
  A norm layer without running statistics (LayerNorm, BatchNorm with ``track_running_stats=False``) is not an
  affine map of one sample and is refused, as is a BatchNorm that follows no layer.
- counters that do not change the outputs (``num_batches_tracked``, ``n_averaged``) are left out and listed; any
  other key is refused: leaving it out might change the outputs.

The order of the layers comes from their names, never from the order of the keys alone: the numbers in each name
(``fc1 < fc2 < fc10``; ``layers.0 < layers.1``; ``blocks.0.fc1 < blocks.1.fc1``). Names that do not tell (``fc``
and ``out``) need ``layers``, the order spelled out. A BatchNorm goes after the layer whose numbers are the
greatest not above its own (``fc1, bn1, fc2``; ``0, 1, 3`` of a Sequential).

What a state dict does not carry, per layer (``options``, keyed by the layer's name): ``kind`` ("mam"/"mac"),
``splits`` (mamtorch: the inputs cut into that many contiguous slices, max + min summed over them), ``relu_in``
(ReLU on the layer's inputs), ``vcon_expand`` (mamtorch scales the MAM term by ``in / (2 splits)`` once its
vanishing-contributes beta is 0; folded into the weights, which changes only their scale, exact for a positive
factor), ``relu`` (ReLU after the layer; default: after every layer but the last), ``gain`` (a MAM output scale,
e.g. an old mamtorch ``beta_zero_gain``), ``eps`` (of the BatchNorm after it). Options under ``"*"`` apply to
every layer (``splits``, ``vcon_expand`` and ``gain`` to its MAM layers only); a layer's own options win.
"""

import importlib
import os
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..golden.layer import read_npz
from ..plumbing import ContractError
from .quantize import quantize_model
from .train import KINDS, MLP, Dense, split_bounds

__all__ = ["Imported", "read_checkpoint", "import_checkpoint", "import_model", "import_and_quantize",
           "load_float_layers", "uniform_calibration", "LAYER_OPTIONS", "WRAPPER_KEYS"]

TORCH_HINT = "pip install mamhw[torch]"
# Entries of a checkpoint dict that hold the model's state dict, in the order they are looked for.
WRAPPER_KEYS = ("model_state_dict", "state_dict", "model")
# Keys that never change a forward pass: left out, and listed.
COUNTERS = ("num_batches_tracked", "n_averaged")
PARAM_LEAVES = ("weight", "bias", "weight_orig", "weight_mask", "bias_orig", "bias_mask", "running_mean",
                "running_var")
LAYER_OPTIONS = ("kind", "splits", "relu_in", "vcon_expand", "relu", "gain", "eps")
MAM_ONLY = ("splits", "vcon_expand", "gain")
ALL = "*"       # the options key for every layer
BN_EPS = 1e-5


@dataclass
class Imported:
    """A float MLP and how it was read: each layer's name in the file, what was done to it, what was left out."""

    model: MLP
    names: list
    notes: list                      # per layer: list of strings ("BatchNorm1d bn1 folded", ...)
    ignored: list = field(default_factory=list)
    kinds_given: bool = True         # False: the default kinds (mam hidden layers, mac output layer) were used


def _first_line(e):
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _load_torch(path):
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        raise ContractError(f"{path}: reading a PyTorch file needs torch: {TORCH_HINT}") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights only load failed" in str(e).lower():
            raise ContractError(f"{path}: holds pickled Python objects (a whole module?), not a state dict: where "
                                f"the model's class is defined, save torch.save(model.state_dict(), path) and import "
                                f"that") from None
        raise ContractError(f"{path}: not a loadable PyTorch checkpoint ({_first_line(e)})") from None
    except Exception as e:   # torch raises many types (RuntimeError, EOFError, ...) for bad files
        raise ContractError(f"{path}: not a loadable PyTorch checkpoint ({_first_line(e)})") from None


def _is_tensor(value):
    return hasattr(value, "detach") or isinstance(value, np.ndarray)


def _unwrap(obj, where):
    """The state dict inside a checkpoint, and the names of the entries beside it (left out)."""
    if not isinstance(obj, Mapping):
        raise ContractError(f"{where}: not a state dict (a mapping of names to tensors), got {type(obj).__name__}")
    if obj and all(_is_tensor(v) for v in obj.values()):
        return obj, []
    for key in WRAPPER_KEYS:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and inner and all(_is_tensor(v) for v in inner.values()):
            return inner, [f"{k} (beside {key!r})" for k in obj if k != key]
    if not obj:
        raise ContractError(f"{where}: holds no layers")
    odd = [str(k) for k, v in obj.items() if not _is_tensor(v)][:4]
    raise ContractError(f"{where}: not a state dict: {', '.join(odd)} hold no tensors, and no entry "
                        f"{' / '.join(WRAPPER_KEYS)} holds a state dict")


def _to_numpy(value, key, where):
    if hasattr(value, "detach"):                       # a torch tensor: fp16 and bf16 widen to float32
        value = value.detach().cpu()
        if value.dtype.is_floating_point:
            value = value.float()
        value = value.numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise ContractError(f"{where}: {key} must hold numbers, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float32)
        if not np.isfinite(arr).all():
            raise ContractError(f"{where}: {key} holds NaN or infinity")
    return arr


def read_checkpoint(path):
    """``(state, ignored)``: the state dict of a PyTorch checkpoint or ``.npz`` as NumPy arrays, and the entries
    beside it that were left out."""
    path = str(path)
    if not os.path.isfile(path):
        raise ContractError(f"{path}: no such file" if not os.path.isdir(path) else f"{path}: is a directory")
    if path.endswith(".npz"):
        obj = read_npz(path)
    else:
        # torch.save writes a zip archive (or, in its legacy format, a pickle); anything not named .npz goes to torch.
        obj = _load_torch(path)
    state, ignored = _unwrap(obj, path)
    return {str(k): _to_numpy(v, str(k), path) for k, v in state.items()}, ignored


def _split_key(key):
    """``("fc1", "weight")`` for ``fc1.weight`` or ``fc1/weight``; ``("", "weight")`` for ``weight``."""
    cut = max(key.rfind("."), key.rfind("/"))
    return (key[:cut], key[cut + 1:]) if cut >= 0 else ("", key)


@dataclass
class _Module:
    name: str
    arrays: dict

    @property
    def is_norm(self):
        return "running_mean" in self.arrays or "running_var" in self.arrays

    def label(self):
        return self.name or "<root>"


def _modules(state, where):
    """{name: _Module} of the dense layers and BatchNorms, and the counters left out."""
    groups, ignored = {}, []
    for key, value in state.items():
        name, leaf = _split_key(key)
        if leaf in COUNTERS:
            ignored.append(f"{key} (a counter)")
            continue
        if leaf not in PARAM_LEAVES:
            raise ContractError(f"{where}: key {key!r} is no parameter of a dense layer or BatchNorm1d; it is not "
                                f"left out, as it might change the outputs")
        groups.setdefault(name, {})[leaf] = value
    if not groups:
        raise ContractError(f"{where}: holds no layers")
    mods = {name: _Module(name, arrays) for name, arrays in groups.items()}
    for m in mods.values():
        _check_module(m, where)
    return mods, ignored


def _check_module(m, where):
    a, label = m.arrays, m.label()
    for leaf in ("weight", "bias"):
        if f"{leaf}_orig" in a and f"{leaf}_mask" not in a:
            raise ContractError(f"{where}: {label}.{leaf}_orig has no {label}.{leaf}_mask (torch.nn.utils.prune "
                                f"saves both)")
        if f"{leaf}_mask" in a and f"{leaf}_orig" not in a:
            raise ContractError(f"{where}: {label}.{leaf}_mask has no {label}.{leaf}_orig")
        if f"{leaf}_orig" in a and leaf in a:
            raise ContractError(f"{where}: {label} holds both {leaf} and {leaf}_orig; which one is meant?")
    if m.is_norm:
        if not ("running_mean" in a and "running_var" in a):
            raise ContractError(f"{where}: {label} has only one of running_mean and running_var")
        n = a["running_mean"].shape
        for leaf, v in a.items():
            if v.shape != n or v.ndim != 1:
                raise ContractError(f"{where}: {label}.{leaf} has shape {list(v.shape)}, a BatchNorm1d's "
                                    f"running_mean has {list(n)}")
        return
    w = a.get("weight", a.get("weight_orig"))
    if w is None:
        raise ContractError(f"{where}: {label}.bias has no {label}.weight")
    if w.ndim == 1:
        raise ContractError(f"{where}: {label}.weight has shape {list(w.shape)} and no running statistics: a "
                            f"LayerNorm or a BatchNorm without running statistics, not an affine map of one sample "
                            f"that could be folded")
    if w.ndim != 2:
        raise ContractError(f"{where}: {label}.weight has shape {list(w.shape)}, a dense layer needs [out, in] "
                            f"(convolutions are not imported)")
    for leaf in ("weight_mask", "bias", "bias_orig", "bias_mask"):
        want = w.shape if leaf == "weight_mask" else (w.shape[0],)
        if leaf in a and a[leaf].shape != want:
            raise ContractError(f"{where}: {label}.{leaf} has shape {list(a[leaf].shape)}, expected {list(want)}")


def _numbers(name):
    return tuple(int(t) for t in re.findall(r"\d+", name))


def _order(mods, layers, where):
    """``[(dense name, batchnorm name or None), ...]`` in network order."""
    dense = [n for n, m in mods.items() if not m.is_norm]
    norms = [n for n, m in mods.items() if m.is_norm]
    if layers is not None:
        return _order_given(mods, [str(n) for n in layers], dense, norms, where)
    if len(dense) > 1:
        keys = {n: _numbers(n) for n in dense}
        lengths = {len(k) for k in keys.values()}
        if () in keys.values() or len(lengths) > 1 or len(set(keys.values())) < len(dense):
            names = ", ".join(sorted(n or "<root>" for n in dense))
            raise ContractError(f"{where}: the layer names {names} do not tell their order: give it with --layers "
                                f"(e.g. --layers {','.join(sorted(dense))})")
    dense.sort(key=_numbers)
    after = {n: None for n in dense}
    for b in sorted(norms, key=_numbers):
        kb = _numbers(b)
        before = [n for n in dense if len(_numbers(n)) == len(kb) and _numbers(n) <= kb] if kb else []
        if not before:
            raise ContractError(f"{where}: BatchNorm {b or '<root>'} follows no layer by its name and cannot be "
                                f"folded (a norm before a layer is not exact for MAM); to place it after a layer, "
                                f"list it there in --layers")
        host = before[-1]
        if after[host] is not None:
            raise ContractError(f"{where}: BatchNorms {after[host]} and {b} both follow layer {host}")
        after[host] = b
    return [(n, after[n]) for n in dense]


def _order_given(mods, names, dense, norms, where):
    unknown = [n for n in names if n not in mods]
    if unknown:
        raise ContractError(f"{where}: --layers names {', '.join(unknown)}, which the file does not hold (it holds "
                            f"{', '.join(sorted(mods))})")
    if len(set(names)) != len(names):
        raise ContractError(f"{where}: --layers names a module twice: {','.join(names)}")
    left = [n for n in dense + norms if n not in names]
    if left:
        raise ContractError(f"{where}: {', '.join(left)} not placed by --layers: list every layer and BatchNorm "
                            f"in network order")
    out = []
    for n in names:
        if mods[n].is_norm:
            if not out or out[-1][1] is not None:
                raise ContractError(f"{where}: BatchNorm {n} must come right after a layer in --layers")
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, None))
    return out


def _dense_arrays(m):
    """Weight (masks applied), bias and the torch.nn.utils.prune mask (None without one)."""
    a = m.arrays
    mask = None
    if "weight_orig" in a:
        mask = a["weight_mask"] != 0
        w = a["weight_orig"] * mask
    else:
        w = a["weight"]
    b = a.get("bias")
    if "bias_orig" in a:
        b = a["bias_orig"] * (a["bias_mask"] != 0)
    return w.astype(np.float32), (np.zeros(w.shape[0], np.float32) if b is None else b.astype(np.float32)), mask


def _fold_norm(w, b, norm, eps, layer, where):
    a = norm.arrays
    n = a["running_mean"].shape[0]
    if n != w.shape[0]:
        raise ContractError(f"{where}: BatchNorm {norm.label()} has {n} features but layer {layer} gives "
                            f"{w.shape[0]} outputs")
    var = a["running_var"].astype(np.float64) + eps
    if not (np.all(np.isfinite(var)) and np.all(var > 0)):
        raise ContractError(f"{where}: BatchNorm {norm.label()}: running_var + eps is not positive everywhere")
    gamma = a.get("weight", np.ones(n, np.float32)).astype(np.float64)
    beta = a.get("bias", np.zeros(n, np.float32)).astype(np.float64)
    s = gamma / np.sqrt(var)
    w = (w.astype(np.float64) * s[:, None]).astype(np.float32)
    b = ((b.astype(np.float64) - a["running_mean"]) * s + beta).astype(np.float32)
    return w, b


def _options_for(options, name, where):
    """The layer's own options over those for every layer (``"*"``)."""
    every, own = dict((options or {}).get(ALL, {})), dict((options or {}).get(name, {}))
    for opts in (every, own):
        bad = sorted(set(opts) - set(LAYER_OPTIONS))
        if bad:
            raise ContractError(f"{where}: unknown option(s) {', '.join(bad)} for layer {name or '<root>'}: "
                                f"choose from {', '.join(LAYER_OPTIONS)}")
    return every, own


def _merged(every, own, kind):
    """Options for every layer apply where they make sense: splits, vcon_expand and gain to mam layers only."""
    merged = {k: v for k, v in every.items() if kind == "mam" or k not in MAM_ONLY}
    merged.update(own)
    return merged


def import_checkpoint(source, kinds=None, *, layers=None, options=None, mam_gain=1.0, relu=None):
    """An :class:`Imported` from a file path or a state-dict mapping.

    ``kinds``: "mam"/"mac" per layer in network order, or one string for all; None: each layer's ``kind``
    option, else mam train's default (MAM hidden layers, a MAC output layer). ``layers``: the module names in
    network order (needed when the names do not tell it). ``options``: {layer name: {option: value}} (the module
    docstring lists them). ``relu``: per-layer flags, default after every layer but the last.
    """
    if isinstance(source, (str, os.PathLike)):
        where = str(source)
        state, ignored = read_checkpoint(source)
    else:
        where = "state dict"
        state, ignored = _unwrap(source, where)
        state = {str(k): _to_numpy(v, str(k), where) for k, v in state.items()}
    mods, counters = _modules(state, where)
    order = _order(mods, layers, where)
    known = {n for pair in order for n in pair if n is not None} | {ALL}
    stray = sorted(set(options or {}) - known)
    if stray:
        raise ContractError(f"{where}: options name {', '.join(stray)}, which is no layer of the file "
                            f"({', '.join(n for n, _ in order)})")
    n = len(order)
    parts = [_options_for(options, name, where) for name, _ in order]
    kinds_given = kinds is not None or all("kind" in own or "kind" in every for every, own in parts)
    if kinds is None:
        kinds = [own.get("kind", every.get("kind", "mam" if k < n - 1 else "mac"))
                 for k, (every, own) in enumerate(parts)]
    kinds = [kinds] * n if isinstance(kinds, str) else list(kinds)
    if len(kinds) != n:
        names = ", ".join(name or "<root>" for name, _ in order)
        raise ContractError(f"{where}: holds {n} layers ({names}) but {len(kinds)} kinds were given")
    opts = [_merged(every, own, kind) for (every, own), kind in zip(parts, kinds)]
    relu = [o.get("relu", k < n - 1) for k, o in enumerate(opts)] if relu is None else list(relu)
    if len(relu) != n:
        raise ContractError(f"{where}: holds {n} layers but {len(relu)} relu flags were given")
    dense, notes = [], []
    for k, ((name, norm), kind, o) in enumerate(zip(order, kinds, opts)):
        label = name or "<root>"
        if kind not in KINDS:
            raise ContractError(f"{where}: layer {label}: kind must be mam or mac, got {kind!r}")
        w, b, prune_mask = _dense_arrays(mods[name])
        note = []
        if prune_mask is not None:
            note.append(f"pruning mask applied ({int(prune_mask.sum())} kept)")
        splits = _int_option(o.get("splits", 1), "splits", label, where)
        if splits != 1 and kind != "mam":
            raise ContractError(f"{where}: layer {label}: splits = {splits} needs a mam layer")
        try:
            split_bounds(w.shape[1], splits)
        except ContractError as e:
            raise ContractError(f"{where}: layer {label}: {e}") from None
        gain = _float_option(o.get("gain", mam_gain if kind == "mam" else 1.0), "gain", label, where)
        if _bool_option(o.get("vcon_expand", False), "vcon_expand", label, where):
            if kind != "mam":
                raise ContractError(f"{where}: layer {label}: vcon_expand scales a MAM term; the layer is mac")
            gain *= w.shape[1] / (2 * splits)
            note.append(f"vcon_expand: MAM term x{w.shape[1] / (2 * splits):g} (in / (2 splits)) folded")
        if gain != 1.0:
            w = w * np.float32(gain)
            if "gain" in o or mam_gain != 1.0:
                note.append(f"gain x{gain:g} folded")
        if norm is not None:
            eps = _float_option(o.get("eps", BN_EPS), "eps", label, where)
            w, b = _fold_norm(w, b, mods[norm], eps, label, where)
            note.append(f"BatchNorm1d {norm} folded (eps {eps:g})")
        mask = None if np.all(w) else w != 0
        dense.append(Dense(kind, w, b, relu=_bool_option(relu[k], "relu", label, where), mask=mask, splits=splits,
                           relu_in=_bool_option(o.get("relu_in", False), "relu_in", label, where)))
        notes.append(note)
    try:
        model = MLP(dense)
    except ContractError as e:
        raise ContractError(f"{where}: {e}") from None
    return Imported(model, [name for name, _ in order], notes, ignored + counters, kinds_given)


def _int_option(value, key, label, where):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ContractError(f"{where}: layer {label}: {key} must be a whole number, got {value!r}")
    return int(value)


def _float_option(value, key, label, where):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 0:
        raise ContractError(f"{where}: layer {label}: {key} must be a positive number, got {value!r}")
    return float(value)


def _bool_option(value, key, label, where):
    if not isinstance(value, (bool, np.bool_)):
        raise ContractError(f"{where}: layer {label}: {key} must be true or false, got {value!r}")
    return bool(value)


def import_model(source, kinds=None, **kwargs):
    """The float :class:`model.train.MLP` of :func:`import_checkpoint`."""
    return import_checkpoint(source, kinds, **kwargs).model


def load_float_layers(path, layers=None):
    """``[(name, weight, bias), ...]`` in network order (BatchNorms folded, masks applied)."""
    imp = import_checkpoint(path, "mac", layers=layers)
    return [(name, d.weight, d.bias) for name, d in zip(imp.names, imp.model)]


def uniform_calibration(n_in, low=0.0, high=1.0, samples=1000, seed=0):
    """Calibration inputs when none are given: ``samples`` uniform random vectors in ``[low, high]``."""
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ContractError(f"the input range must be finite with low < high, got [{low}, {high}]")
    return np.random.default_rng(seed).uniform(low, high, size=(samples, n_in)).astype(np.float32)


def import_and_quantize(source, kinds, x_calib, *, layers=None, options=None, mam_gain=1.0, relu=None,
                        **quantize_kwargs):
    """:func:`import_model` then :func:`model.quantize.quantize_model`; returns ``(float_model, quantized)``."""
    model = import_model(source, kinds, layers=layers, options=options, mam_gain=mam_gain, relu=relu)
    return model, quantize_model(model, x_calib, **quantize_kwargs)
