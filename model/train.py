"""Float training of MLPs that mix MAM and MAC dense layers (NumPy only).

A MAM layer computes ``y_j = max_i(w_ji x_i) + min_i(w_ji x_i) + b_j`` (the layer contract). Its gradient
reaches only the argmax and argmin interconnections, both the weight and the input there. Training uses
"vanishing contributes": ``y = (1-beta)*MAM(x) + beta*MAC(x) + b`` with beta falling linearly from 1 to 0 over
the first ``vanish_epochs`` epochs, then pure MAM.

A pruned interconnection is a weight held at exactly 0 by a mask. The forward pass works on the masked dense
matrix, so a pruned weight's product 0 still competes in max and min: the semantics of the layer contract.

Everything is deterministic for a given seed. The MAM pass is cut into chunks of samples so that the
``[chunk, out, in]`` products stay small (about 4 MB, far under the 64 MB bound) whatever the layer size.
"""

import contextlib
from dataclasses import dataclass, field

import numpy as np

from ..golden.chain import Chain, Shaped, check_chain
from ..plumbing import ContractError

__all__ = ["Dense", "MLP", "mlp", "vanish_beta", "split_bounds", "mam_forward", "mam_backward", "forward", "predict",
           "accuracy", "cross_entropy", "loss_and_grads", "train", "History", "blas_limit"]

KINDS = ("mam", "mac")
# Products held at once by the MAM pass: 1M float32 (4 MB) is cache-friendly and well under 64 MB.
MAM_CHUNK_ELEMENTS = 1 << 20


@dataclass(eq=False)
class Dense(Shaped):
    """One float dense layer. ``weight`` is [out, in]; ``mask`` (bool [out, in]) marks kept weights."""

    kind: str
    weight: np.ndarray
    bias: np.ndarray
    relu: bool = False
    mask: np.ndarray | None = None
    splits: int = 1          # mam: the inputs cut into this many slices (split_bounds), max + min summed over them
    relu_in: bool = False    # ReLU on the layer's inputs

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ContractError(f"layer kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        self.splits, self.relu_in = int(self.splits), bool(self.relu_in)
        self.weight = np.asarray(self.weight, dtype=np.float32)
        self.bias = np.asarray(self.bias, dtype=np.float32)
        if self.weight.ndim != 2 or self.bias.shape != (self.weight.shape[0],):
            raise ContractError(f"dense layer needs weight [out, in] and bias [out], got "
                                f"{list(self.weight.shape)} and {list(self.bias.shape)}")
        if not (np.isfinite(self.weight).all() and np.isfinite(self.bias).all()):
            raise ContractError("dense layer weight or bias holds NaN or infinity")
        if self.splits != 1:
            if self.kind != "mam":
                raise ContractError(f"splits = {self.splits} needs a mam layer (a sum needs no slices)")
            split_bounds(self.n_in, self.splits)
        if self.mask is not None:
            self.mask = np.asarray(self.mask, dtype=bool)
            if self.mask.shape != self.weight.shape:
                raise ContractError(f"mask shape {list(self.mask.shape)} differs from weight "
                                    f"{list(self.weight.shape)}")
            self.weight = self.weight * self.mask

    @property
    def remaining(self):
        """Interconnections kept by the mask (all of them without a mask)."""
        return self.size if self.mask is None else int(self.mask.sum())

    def set_mask(self, mask):
        self.mask = None if mask is None else np.asarray(mask, dtype=bool).copy()
        if self.mask is not None:
            self.weight = self.weight * self.mask

    def copy(self):
        return Dense(self.kind, self.weight.copy(), self.bias.copy(), self.relu,
                     None if self.mask is None else self.mask.copy(), self.splits, self.relu_in)


@dataclass(eq=False)
class MLP(Chain):
    """An ordered list of dense layers; ReLU follows every layer whose ``relu`` is set."""

    layers: list

    def __post_init__(self):
        self.layers = check_chain(self.layers, "model")

    @property
    def kinds(self):
        return [layer.kind for layer in self.layers]

    @property
    def sizes(self):
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    def copy(self):
        return MLP([layer.copy() for layer in self.layers])

    def state(self):
        """Weights and biases, for rewinding (masks are not part of it)."""
        return [(layer.weight.copy(), layer.bias.copy()) for layer in self.layers]

    def load_state(self, state):
        for layer, (w, b) in zip(self.layers, state):
            layer.weight = w.copy() if layer.mask is None else w * layer.mask
            layer.bias = b.copy()


def mlp(sizes, kinds, seed=0):
    """A fresh MLP with layer widths ``sizes`` (``[in, hidden..., out]``) and one kind per layer.

    ReLU after every layer but the last. Weights use PyTorch's default ``Linear`` initialization (uniform in
    +-1/sqrt(in)), as mamtorch's FullyConnected does, so imported and native models start alike.
    """
    sizes = [int(s) for s in sizes]
    if isinstance(kinds, str):
        kinds = [kinds] * (len(sizes) - 1)
    kinds = list(kinds)
    if len(sizes) < 2 or len(kinds) != len(sizes) - 1 or min(sizes) < 1:
        raise ContractError(f"mlp needs sizes [in, ..., out] (each >= 1) and one kind per layer, got sizes "
                            f"{sizes} and kinds {kinds}")
    rng = np.random.default_rng(seed)
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = 1.0 / np.sqrt(n_in)
        w = rng.uniform(-bound, bound, size=(n_out, n_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, size=n_out).astype(np.float32)
        layers.append(Dense(kinds[k], w, b, relu=k < len(sizes) - 2))
    return MLP(layers)


def vanish_beta(epoch, vanish_epochs):
    """Weight of the MAC part at (possibly fractional) ``epoch``: 1 -> 0 linearly over ``vanish_epochs``."""
    if vanish_epochs <= 0:
        return 0.0
    return float(min(1.0, max(0.0, 1.0 - epoch / vanish_epochs)))


def _chunk_rows(n_out, n_in, chunk_elements):
    return max(1, chunk_elements // max(1, n_out * n_in))


def split_bounds(n_in, splits):
    """``[(start, stop), ...]`` of the ``splits`` contiguous input slices of a MAM layer: ``ceil(n_in / splits)``
    inputs each, the last one the remainder (mamtorch's FullyConnected cuts them so). A cut that leaves the last
    slice empty is refused."""
    if not 1 <= splits <= n_in:
        raise ContractError(f"splits must be in 1..{n_in} (the layer's inputs), got {splits}")
    width = -(-n_in // splits)
    last = n_in - width * (splits - 1)
    if last < 1:
        raise ContractError(f"{n_in} inputs cannot be cut into {splits} slices of {width} with a nonempty last "
                            f"one (it would hold {last})")
    return [(k * width, min((k + 1) * width, n_in)) for k in range(splits)]


def mam_forward(x, w, chunk_elements=MAM_CHUNK_ELEMENTS, splits=1):
    """``max_i(w_ji x_i) + min_i(w_ji x_i)`` for x [batch, in] and w [out, in] (no bias); with ``splits`` > 1
    the sum of that over each input slice (:func:`split_bounds`).

    Returns ``(y, argmax, argmin)``, y float32 [batch, out], the indices int64 [batch, out] (with splits > 1
    ``[batch, out, splits]``, each slice's selection as an index into the whole input). Ties go to the lowest
    index, as ``np.argmax`` does.
    """
    x = np.asarray(x, dtype=np.float32)
    w = np.asarray(w, dtype=np.float32)
    if splits == 1:
        return _mam_slice(x, w, chunk_elements)
    bounds = split_bounds(w.shape[1], splits)
    parts = [_mam_slice(x[:, a:b], w[:, a:b], chunk_elements) for a, b in bounds]
    y = parts[0][0]
    for part in parts[1:]:
        y = y + part[0]                  # slice by slice, in order, as mamtorch adds them
    amax = np.stack([p[1] + a for p, (a, _) in zip(parts, bounds)], axis=2)
    amin = np.stack([p[2] + a for p, (a, _) in zip(parts, bounds)], axis=2)
    return y, amax, amin


def _mam_slice(x, w, chunk_elements):
    n_batch, n_out = x.shape[0], w.shape[0]
    amax = np.empty((n_batch, n_out), dtype=np.int64)
    amin = np.empty((n_batch, n_out), dtype=np.int64)
    step = _chunk_rows(n_out, w.shape[1], chunk_elements)
    buf = np.empty((min(step, n_batch), n_out, w.shape[1]), dtype=np.float32)
    for s in range(0, n_batch, step):
        xs = x[s:s + step]
        p = np.multiply(xs[:, None, :], w[None, :, :], out=buf[:xs.shape[0]])
        p.argmax(axis=2, out=amax[s:s + step])
        p.argmin(axis=2, out=amin[s:s + step])
    rows = np.arange(n_out)[None, :]
    samples = np.arange(n_batch)[:, None]
    y = w[rows, amax] * x[samples, amax] + w[rows, amin] * x[samples, amin]
    return y.astype(np.float32, copy=False), amax, amin


def mam_backward(x, w, g, amax, amin):
    """Gradients ``(dx, dw)`` of the MAM part for upstream gradient g [batch, out]; only argmax/argmin paths
    (of every slice, when the indices are :func:`mam_forward`'s ``[batch, out, splits]``)."""
    n_batch, n_in = x.shape
    n_out = w.shape[0]
    rows = np.arange(n_out)[None, :]
    samples = np.arange(n_batch)[:, None]
    g = g.astype(np.float64)
    dw = np.zeros(n_out * n_in)
    dx = np.zeros(n_batch * n_in)
    selections = [a[..., k] for a in (amax, amin) for k in range(a.shape[2])] if amax.ndim == 3 else [amax, amin]
    for idx in selections:
        dw += np.bincount((rows * n_in + idx).ravel(), weights=(g * x[samples, idx]).ravel(),
                          minlength=n_out * n_in)
        dx += np.bincount((samples * n_in + idx).ravel(), weights=(g * w[rows, idx]).ravel(),
                          minlength=n_batch * n_in)
    return dx.reshape(n_batch, n_in).astype(np.float32), dw.reshape(n_out, n_in).astype(np.float32)


def _layer_forward(layer, x, beta):
    """Pre-activation output and the cache for the backward pass."""
    cache = {}
    if layer.relu_in:
        cache["passed"] = x > 0
        x = np.maximum(x, 0)
    cache["x"] = x
    z = np.broadcast_to(layer.bias, (x.shape[0], layer.n_out)).astype(np.float32)
    if layer.kind == "mac" or beta >= 1.0:
        z = z + x @ layer.weight.T
    else:
        y, amax, amin = mam_forward(x, layer.weight, splits=layer.splits)
        cache.update(amax=amax, amin=amin)
        z = z + (1.0 - beta) * y
        if beta > 0.0:
            z = z + beta * (x @ layer.weight.T)
    if layer.relu:
        cache["active"] = z > 0
        z = np.maximum(z, 0)
    return z, cache


def _layer_backward(layer, g, cache, beta):
    """Gradients (dx, dw, db) given the gradient g of the layer's (post-ReLU) output."""
    if layer.relu:
        g = g * cache["active"]
    x = cache["x"]
    db = g.sum(axis=0)
    mac_part = 1.0 if layer.kind == "mac" else beta
    dx = np.zeros_like(x)
    dw = np.zeros_like(layer.weight)
    if mac_part > 0.0:
        dx += mac_part * (g @ layer.weight)
        dw += mac_part * (g.T @ x)
    if layer.kind == "mam" and beta < 1.0:
        mdx, mdw = mam_backward(x, layer.weight, (1.0 - beta) * g, cache["amax"], cache["amin"])
        dx += mdx
        dw += mdw
    if layer.mask is not None:
        dw *= layer.mask
    if layer.relu_in:
        dx *= cache["passed"]
    return dx, dw, db


def forward(model, x, beta=0.0, return_all=False):
    """Float outputs (logits) [batch, out]; with ``return_all`` the post-activation output of every layer.

    ``beta`` is the MAC share of the MAM layers (0: pure MAM, as the integer network and the hardware do).
    """
    x = np.asarray(x, dtype=np.float32)
    outs = []
    for layer in model:
        x, _ = _layer_forward(layer, x, beta)
        outs.append(x)
    return outs if return_all else x


def predict(model, x, beta=0.0, batch_size=1024):
    x = np.asarray(x, dtype=np.float32)
    return np.concatenate([forward(model, x[s:s + batch_size], beta).argmax(axis=1)
                           for s in range(0, x.shape[0], batch_size)])


def accuracy(model, x, y, beta=0.0):
    return float(np.mean(predict(model, x, beta) == np.asarray(y)))


def cross_entropy(logits, y):
    """Mean softmax cross-entropy and its gradient with respect to the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = logits.shape[0]
    loss = -float(logp[np.arange(n), y].mean())
    g = np.exp(logp)
    g[np.arange(n), y] -= 1.0
    return loss, (g / n).astype(np.float32)


def loss_and_grads(model, x, y, beta=0.0):
    """Mean cross-entropy on (x, y), the gradients ``[(dw, db), ...]`` per layer, and the logits.

    Pruned weights (mask False) get gradient 0.
    """
    h, caches = np.asarray(x, dtype=np.float32), []
    for layer in model:
        h, cache = _layer_forward(layer, h, beta)
        caches.append(cache)
    loss, g = cross_entropy(h, np.asarray(y))
    grads = [None] * len(model)
    for k in range(len(model) - 1, -1, -1):
        g, dw, db = _layer_backward(model[k], g, caches[k], beta)
        grads[k] = (dw, db)
    return loss, grads, h


@contextlib.contextmanager
def blas_limit(threads):
    """Limit BLAS threads inside the block when ``threads`` is set and threadpoolctl is installed."""
    if threads is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=int(threads), user_api="blas"):
        yield


@dataclass
class History:
    """Per-epoch record of a training run."""

    loss: list = field(default_factory=list)
    beta: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)


class _Adam:
    def __init__(self, model, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m = [[np.zeros_like(l.weight), np.zeros_like(l.bias)] for l in model]
        self.v = [[np.zeros_like(l.weight), np.zeros_like(l.bias)] for l in model]

    def step(self, model, grads):
        self.t += 1
        c1 = 1 - self.b1 ** self.t
        c2 = 1 - self.b2 ** self.t
        for k, (layer, (dw, db)) in enumerate(zip(model, grads)):
            for j, (param, grad) in enumerate(((layer.weight, dw), (layer.bias, db))):
                m, v = self.m[k][j], self.v[k][j]
                m *= self.b1
                m += (1 - self.b1) * grad
                v *= self.b2
                v += (1 - self.b2) * grad * grad
                param -= (self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)).astype(np.float32)
            if layer.mask is not None:
                layer.weight *= layer.mask


def train(model, x, y, *, epochs=10, batch_size=64, lr=1e-3, vanish_epochs=0, seed=0,
          x_val=None, y_val=None, log=None, lr_decay=1.0, start_epoch=0, blas_threads=None):
    """Train ``model`` in place with minibatch Adam on softmax cross-entropy; returns a :class:`History`.

    ``vanish_epochs``: beta goes linearly from 1 to 0 over this many epochs (updated every step), then 0.
    Masks of the layers are held: pruned weights stay exactly 0. ``log(str)`` receives one line per epoch.
    ``lr_decay`` multiplies the learning rate after every epoch. ``start_epoch`` resumes the beta schedule
    (training after a rewind to epoch k passes k). ``blas_threads`` limits BLAS threads for the
    duration of the call (through threadpoolctl, when installed): the matrices here are small, and on a
    loaded machine multithreaded BLAS makes them several times slower.
    """
    with blas_limit(blas_threads):
        return _train(model, x, y, epochs=epochs, batch_size=batch_size, lr=lr, vanish_epochs=vanish_epochs,
                      seed=seed, x_val=x_val, y_val=y_val, log=log, lr_decay=lr_decay, start_epoch=start_epoch)


def _train(model, x, y, *, epochs, batch_size, lr, vanish_epochs, seed, x_val, y_val, log, lr_decay,
           start_epoch):
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    if x.ndim != 2 or x.shape[1] != model[0].n_in or y.shape != (x.shape[0],):
        raise ContractError(f"training data must be x [n, {model[0].n_in}] and y [n], got "
                            f"{list(x.shape)} and {list(y.shape)}")
    if y.size and (y.min() < 0 or y.max() >= model[-1].n_out):
        raise ContractError(f"labels must be in [0, {model[-1].n_out - 1}]")
    rng = np.random.default_rng(seed)
    opt = _Adam(model, lr)
    hist = History()
    n = x.shape[0]
    steps = max(1, -(-n // batch_size))
    for epoch in range(epochs):
        order = rng.permutation(n)
        total, correct = 0.0, 0
        for i in range(steps):
            beta = vanish_beta(start_epoch + epoch + i / steps, vanish_epochs)
            idx = order[i * batch_size:(i + 1) * batch_size]
            loss, grads, logits = loss_and_grads(model, x[idx], y[idx], beta)
            total += loss * idx.size
            correct += int((logits.argmax(axis=1) == y[idx]).sum())
            opt.step(model, grads)
        opt.lr *= lr_decay
        hist.loss.append(total / n)
        hist.beta.append(vanish_beta(start_epoch + epoch + 1, vanish_epochs))
        hist.train_acc.append(correct / n)
        if x_val is not None:
            hist.val_acc.append(accuracy(model, x_val, y_val))
        if log is not None:
            val = f" val_acc {hist.val_acc[-1]:.4f}" if x_val is not None else ""
            log(f"epoch {start_epoch + epoch + 1}/{start_epoch + epochs} beta {beta:.3f} loss {hist.loss[-1]:.4f} "
                f"train_acc {hist.train_acc[-1]:.4f}{val}")
    return hist
