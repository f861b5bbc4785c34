"""Import float dense layers trained elsewhere, then quantize them to the integer layer contract.

Sources:

- a PyTorch state dict (``torch.save(model.state_dict(), path)``) of mamtorch ``FullyConnected`` layers or
  ``torch.nn.Linear`` layers: keys ``weight`` ``[out, in]`` and ``bias`` ``[out]``, possibly prefixed
  (``fc1.weight``, ``net.0.bias``). Needs torch (``pip install mamhw[torch]``); loaded with
  ``weights_only=True``, so no code in the file runs.
- a plain ``.npz`` of float arrays with the same key names (``weight``/``bias``, ``fc1.weight``, or ``fc1/weight``).

A state dict does not say which layers are MAM: ``kinds`` does, one per layer in file order. A mamtorch layer
built with ``beta_zero_gain`` g != 1 scales its MAM output by g; pass ``mam_gain=g`` to fold it into the
weights (exact for g > 0: max and min commute with a positive scale).
"""

import importlib
import os

import numpy as np

from ..plumbing import ContractError
from ..golden.layer import read_npz
from .quantize import quantize_model
from .train import MLP, Dense

__all__ = ["load_float_layers", "layers_from_state_dict", "import_model", "import_and_quantize"]

TORCH_HINT = "pip install mamhw[torch]"


def _to_numpy(value, key, where):
    if hasattr(value, "detach"):                       # a torch tensor
        value = value.detach().cpu().float().numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise ContractError(f"{where}: {key} must hold numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise ContractError(f"{where}: {key} holds NaN or infinity")
    return arr


def _split_key(key):
    """``("fc1.", "weight")`` for ``"fc1.weight"``; None for keys that are not weight/bias of a layer."""
    for leaf in ("weight", "bias"):
        if key == leaf:
            return "", leaf
        if key.endswith(leaf) and key[-len(leaf) - 1] in "./":
            return key[:-len(leaf)], leaf
    return None


def layers_from_state_dict(state, where="state dict"):
    """``[(prefix, weight [out, in], bias [out]), ...]`` in key order from a mapping of arrays or tensors."""
    if not hasattr(state, "items"):
        raise ContractError(f"{where}: not a state dict (a mapping of names to arrays), "
                            f"got {type(state).__name__}")
    groups = {}
    for key, value in state.items():
        key = str(key)
        parts = _split_key(key)
        if parts is None:
            raise ContractError(f"{where}: key {key!r} is neither a weight nor a bias of a dense layer")
        prefix, leaf = parts
        groups.setdefault(prefix, {})[leaf] = _to_numpy(value, key, where)
    if not groups:
        raise ContractError(f"{where}: holds no layers")
    layers = []
    for prefix, g in groups.items():
        if "weight" not in g:
            raise ContractError(f"{where}: {prefix}bias has no {prefix}weight")
        w = g["weight"]
        if w.ndim != 2:
            raise ContractError(f"{where}: {prefix}weight has shape {list(w.shape)}, a dense layer needs "
                                f"[out, in]")
        b = g.get("bias", np.zeros(w.shape[0], dtype=np.float32))
        if b.shape != (w.shape[0],):
            raise ContractError(f"{where}: {prefix}bias has shape {list(b.shape)}, expected [{w.shape[0]}]")
        layers.append((prefix, w, b))
    return layers


def _load_torch(path):
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        raise ContractError(f"{path}: reading a PyTorch file needs torch: {TORCH_HINT}") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:   # torch raises many types (UnpicklingError, RuntimeError, ...) for bad files
        raise ContractError(f"{path}: not a loadable PyTorch state dict ({_first_line(e)})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    return state


def _first_line(e):
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def load_float_layers(path):
    """Float layers ``[(prefix, weight, bias), ...]`` from a ``.npz`` file or a PyTorch state dict file."""
    path = str(path)
    if not os.path.isfile(path):
        raise ContractError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(4)
    is_zip = head == b"PK\x03\x04"
    if path.endswith(".npz"):
        state = read_npz(path)
    elif is_zip or path.endswith((".pt", ".pth", ".bin")):
        # torch.save writes a zip archive too; anything not named .npz goes to torch.
        state = _load_torch(path)
    else:
        raise ContractError(f"{path}: unknown model file type (expected .npz or a PyTorch .pt/.pth file)")
    return layers_from_state_dict(state, path)


def import_model(source, kinds, *, relu=None, mam_gain=1.0):
    """An :class:`model.train.MLP` from a file path or a state-dict mapping.

    ``kinds``: "mam"/"mac" per layer in file order (or one string for all). ``relu``: per-layer flags,
    default ReLU after every layer but the last.
    """
    if isinstance(source, (str, os.PathLike)):
        where, layers = str(source), load_float_layers(source)
    else:
        where, layers = "state dict", layers_from_state_dict(source)
    n = len(layers)
    kinds = [kinds] * n if isinstance(kinds, str) else list(kinds)
    if len(kinds) != n:
        names = ", ".join(p.rstrip("./") or "<root>" for p, _, _ in layers)
        raise ContractError(f"{where}: holds {n} layers ({names}) but {len(kinds)} kinds were given")
    relu = [k < n - 1 for k in range(n)] if relu is None else [bool(r) for r in relu]
    if len(relu) != n:
        raise ContractError(f"{where}: holds {n} layers but {len(relu)} relu flags were given")
    if not (np.isfinite(mam_gain) and mam_gain > 0):
        raise ContractError(f"mam_gain must be positive, got {mam_gain}")
    dense = []
    for (prefix, w, b), kind, r in zip(layers, kinds, relu):
        if kind == "mam" and mam_gain != 1.0:
            w = w * np.float32(mam_gain)
        dense.append(Dense(kind, w, b, relu=r, mask=None if np.all(w) else w != 0))
    try:
        return MLP(dense)
    except ContractError as e:
        raise ContractError(f"{where}: {e}") from None


def import_and_quantize(source, kinds, x_calib, *, relu=None, mam_gain=1.0, **quantize_kwargs):
    """:func:`import_model` then :func:`model.quantize.quantize_model`; returns ``(float_model, quantized)``."""
    model = import_model(source, kinds, relu=relu, mam_gain=mam_gain)
    return model, quantize_model(model, x_calib, **quantize_kwargs)
