"""MAM networks in PyTorch: a source of the state dicts `mam import` reads, trained the way model.train trains.

A :class:`MamDense` layer computes ``(1 - beta) * MAM(x) + beta * MAC(x) + b`` with
``MAM(x)_j = max_i(w_ji x_i) + min_i(w_ji x_i)``: vanishing contributes, beta falling linearly from 1 to 0 over the
first epochs (model.train.vanish_beta, updated every step), then pure MAM. As in model.train, the MAM gradient
reaches only the argmax and argmin interconnections: the selections are found without autograd and only the two
selected products are differentiated. Its state dict holds ``weight [out, in]`` and ``bias [out]``, the keys of
mamtorch's FullyConnected and of ``torch.nn.Linear``; beta is not saved (a trained layer has beta 0).

Pruning uses ``torch.nn.utils.prune`` (global magnitude): the state dict then holds ``weight_orig`` and
``weight_mask``, which `mam import` applies. Needs torch: ``pip install mamhw[torch]``.
"""

import importlib

import numpy as np

from ..plumbing import ContractError
from .train import KINDS, vanish_beta

__all__ = ["torch", "MamDense", "TorchMLP", "torch_mlp", "train_torch", "prune_torch", "torch_accuracy"]

try:
    torch = importlib.import_module("torch")
except ImportError:                     # the module can be imported; building a layer says what is missing
    torch = None

TORCH_HINT = "pip install mamhw[torch]"


def _need_torch():
    if torch is None:
        raise ContractError(f"training in PyTorch needs torch: {TORCH_HINT}")


def _module_base():
    return torch.nn.Module if torch is not None else object


class MamDense(_module_base()):
    """A dense MAM or MAC layer; ``beta`` is the MAC share of a MAM layer (vanishing contributes)."""

    def __init__(self, n_in, n_out, kind="mam", generator=None):
        _need_torch()
        super().__init__()
        if kind not in KINDS:
            raise ContractError(f"layer kind must be one of {', '.join(KINDS)}, got {kind!r}")
        bound = 1.0 / np.sqrt(n_in)         # torch.nn.Linear's default initialization, as model.train.mlp
        self.weight = torch.nn.Parameter(torch.empty(n_out, n_in).uniform_(-bound, bound, generator=generator))
        self.bias = torch.nn.Parameter(torch.empty(n_out).uniform_(-bound, bound, generator=generator))
        self.kind = kind
        self.beta = 0.0

    def forward(self, x):
        w = self.weight
        if self.kind == "mac" or self.beta >= 1.0:
            return torch.nn.functional.linear(x, w, self.bias)
        with torch.no_grad():
            p = x[:, None, :] * w[None, :, :]
            imax, imin = p.argmax(dim=2), p.argmin(dim=2)
        rows = torch.arange(w.shape[0])[None, :]
        mam = w[rows, imax] * torch.gather(x, 1, imax) + w[rows, imin] * torch.gather(x, 1, imin)
        out = (1.0 - self.beta) * mam + self.bias
        if self.beta > 0.0:
            out = out + self.beta * torch.nn.functional.linear(x, w)
        return out


class TorchMLP(_module_base()):
    """``layers.0``, ``layers.1``, ...: MamDense layers with a ReLU between them (none after the last)."""

    def __init__(self, layers):
        _need_torch()
        super().__init__()
        self.layers = torch.nn.ModuleList(layers)

    def forward(self, x):
        for k, layer in enumerate(self.layers):
            x = layer(x)
            if k < len(self.layers) - 1:
                x = torch.relu(x)
        return x

    def set_beta(self, beta):
        for layer in self.layers:
            layer.beta = beta


def torch_mlp(sizes, kinds, seed=0):
    """A fresh TorchMLP of layer widths ``sizes`` (``[in, hidden..., out]``), one kind per layer."""
    _need_torch()
    kinds = [kinds] * (len(sizes) - 1) if isinstance(kinds, str) else list(kinds)
    if len(kinds) != len(sizes) - 1:
        raise ContractError(f"{len(kinds)} kinds for {len(sizes) - 1} layers")
    gen = torch.Generator().manual_seed(seed)
    return TorchMLP([MamDense(a, b, kind, gen) for a, b, kind in zip(sizes[:-1], sizes[1:], kinds)])


def train_torch(model, x, y, *, epochs, lr, vanish_epochs=0, batch_size=64, lr_decay=1.0, seed=0, log=None):
    """Adam on softmax cross-entropy; beta of the MAM layers 1 -> 0 over ``vanish_epochs`` (every step), then 0.
    Pruning masks of torch.nn.utils.prune are held by torch's own reparametrization."""
    _need_torch()
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    y = torch.as_tensor(np.asarray(y, dtype=np.int64))
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, lr_decay)
    steps = max(1, -(-x.shape[0] // batch_size))
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(x.shape[0], generator=gen)
        total = 0.0
        for i in range(steps):
            model.set_beta(vanish_beta(epoch + i / steps, vanish_epochs))
            idx = order[i * batch_size:(i + 1) * batch_size]
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
        sched.step()
        if log:
            log(f"epoch {epoch + 1}/{epochs} beta {vanish_beta(epoch + 1, vanish_epochs):.3f} "
                f"loss {total / x.shape[0]:.4f}")
    model.set_beta(0.0)
    model.eval()
    return model


def prune_torch(model, fraction, layers):
    """Keep ``round(fraction * total)`` weights of ``layers`` (indices), the largest |w| over all of them
    (torch.nn.utils.prune.global_unstructured, L1): each pruned layer gets ``weight_orig`` and ``weight_mask``."""
    _need_torch()
    from torch.nn.utils import prune
    params = [(model.layers[k], "weight") for k in layers]
    total = sum(m.weight.numel() for m, _ in params)
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured,
                              amount=total - int(round(fraction * total)))
    return sum(int(m.weight_mask.sum()) for m, _ in params), total


def torch_accuracy(model, x, y):
    _need_torch()
    model.eval()
    with torch.no_grad():
        pred = model(torch.as_tensor(np.asarray(x, dtype=np.float32))).argmax(dim=1).numpy()
    return float(np.mean(pred == np.asarray(y)))
