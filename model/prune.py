"""Pruning of float MLPs (model.train): magnitude, lottery-ticket style, and MAM-aware by selection count.

A pruned interconnection is a weight held at exactly 0 by the layer's mask; its product 0 still competes in
max and min. Fractions are of *all* interconnections of the chosen layers (``out * in``
summed), so pruning to 0.01 keeps ``round(0.01 * total)`` weights, whatever was pruned before.

All functions change the model in place (masks and weights) and are deterministic: ties are broken by the
flat index of the weight, layers in order.
"""

import numpy as np

from ..plumbing import ContractError
from .train import forward, mam_forward, train

__all__ = ["remaining", "remaining_fraction", "global_magnitude_prune", "iterative_magnitude_prune",
           "selection_counts", "mam_aware_prune", "fine_tune"]


def _layer_ids(model, layers):
    ids = list(range(len(model))) if layers is None else [int(k) for k in layers]
    if not ids:
        raise ContractError("no layers given to prune")
    for k in ids:
        if not 0 <= k < len(model):
            raise ContractError(f"layer {k} does not exist (the model has {len(model)} layers)")
    if len(set(ids)) != len(ids):
        raise ContractError(f"layers listed twice: {ids}")
    return ids


def remaining(model, layers=None):
    """``(kept, total)`` interconnections over the given layers (all by default)."""
    ids = _layer_ids(model, layers)
    return sum(model[k].remaining for k in ids), sum(model[k].size for k in ids)


def remaining_fraction(model, layers=None):
    kept, total = remaining(model, layers)
    return kept / total


def _target_count(model, ids, fraction):
    if not 0.0 <= fraction <= 1.0:
        raise ContractError(f"fraction must be in [0, 1], got {fraction}")
    kept, total = remaining(model, ids)
    k = int(round(fraction * total))
    if k > kept:
        raise ContractError(f"cannot prune to {fraction:.6g} of the interconnections: only {kept} of {total} "
                            f"({kept / total:.6g}) remain")
    return k


def _keep_top(model, ids, scores, k):
    """Keep the k remaining weights with the highest score over layers ``ids`` (ties: lower flat index)."""
    flat = np.concatenate([np.where(_mask(model[i]), s, -np.inf).ravel() for i, s in zip(ids, scores)])
    order = np.argsort(-flat, kind="stable")
    keep = np.zeros(flat.size, dtype=bool)
    keep[order[:k]] = True
    offset = 0
    for i in ids:
        layer = model[i]
        layer.set_mask(keep[offset:offset + layer.size].reshape(layer.weight.shape))
        offset += layer.size
    return [model[i].mask for i in ids]


def _mask(layer):
    return np.ones(layer.weight.shape, dtype=bool) if layer.mask is None else layer.mask


def global_magnitude_prune(model, fraction, layers=None):
    """One-shot global magnitude pruning: keep the ``round(fraction * total)`` largest ``|w|`` over ``layers``.

    Returns the new masks of those layers.
    """
    ids = _layer_ids(model, layers)
    k = _target_count(model, ids, fraction)
    return _keep_top(model, ids, [np.abs(model[i].weight).astype(np.float64) for i in ids], k)


def iterative_magnitude_prune(model, x, y, fraction, *, rounds=3, layers=None, rewind_epoch=0, epochs=10,
                              log=None, **train_kwargs):
    """Lottery-ticket pruning: train, prune, rewind the weights, retrain; ``rounds`` times.

    Round r prunes to ``fraction ** (r / rounds)`` by global magnitude, then the surviving weights go back to
    their values after ``rewind_epoch`` epochs of the first training (0: the initialization) and are trained
    again for ``epochs - rewind_epoch`` epochs (the vanishing-contributes schedule resumes at the rewind
    point). Returns the list of ``(fraction_kept, model_copy)`` after each round's retraining, the last being
    ``model`` itself, trained with the final mask. ``train_kwargs`` go to :func:`model.train.train`.
    """
    ids = _layer_ids(model, layers)
    if rounds < 1 or not 0 <= rewind_epoch < epochs:
        raise ContractError(f"need rounds >= 1 and 0 <= rewind_epoch < epochs, got {rounds}, {rewind_epoch}, "
                            f"{epochs}")
    say = log or (lambda _msg: None)
    if rewind_epoch > 0:
        train(model, x, y, epochs=rewind_epoch, **train_kwargs)
    rewind = model.state()
    train(model, x, y, epochs=epochs - rewind_epoch, start_epoch=rewind_epoch, **train_kwargs)
    results = []
    for r in range(1, rounds + 1):
        target = fraction ** (r / rounds)
        global_magnitude_prune(model, target, ids)
        model.load_state(rewind)
        say(f"round {r}/{rounds}: pruned to {remaining_fraction(model, ids):.6g}, retraining")
        train(model, x, y, epochs=epochs - rewind_epoch, start_epoch=rewind_epoch, **train_kwargs)
        results.append((remaining_fraction(model, ids), model.copy() if r < rounds else model))
    return results


def selection_counts(model, x, layer, batch_size=1024):
    """How often each interconnection of MAM layer ``layer`` is the argmax or argmin over samples ``x``.

    The network runs as pure MAM (beta 0), as the integer network does. Returns int64 [out, in]; an
    interconnection that is both argmax and argmin of a sample (all products equal) counts twice.
    """
    k = _layer_ids(model, [layer])[0]
    dense = model[k]
    if dense.kind != "mam":
        raise ContractError(f"layer {k} is {dense.kind}, selection counts need a mam layer")
    x = np.asarray(x, dtype=np.float32)
    counts = np.zeros(dense.size, dtype=np.int64)
    rows = np.arange(dense.n_out)[None, :] * dense.n_in
    for s in range(0, x.shape[0], batch_size):
        h = x[s:s + batch_size]
        if k > 0:
            h = forward(type(model)(model.layers[:k]), h)
        if dense.relu_in:
            h = np.maximum(h, 0)
        _, amax, amin = mam_forward(h, dense.weight, splits=dense.splits)
        for idx in (amax, amin):         # [batch, out] or, with splits, [batch, out, splits]
            flat = rows[..., None] + idx.reshape(*idx.shape[:2], -1)
            counts += np.bincount(flat.ravel(), minlength=dense.size)
    return counts.reshape(dense.weight.shape)


def mam_aware_prune(model, x, layers=None, fraction=None, min_count=1):
    """Remove MAM interconnections selected (argmax or argmin) fewer than ``min_count`` times over ``x``.

    With ``fraction``, prune globally over ``layers`` to exactly ``round(fraction * total)`` kept weights,
    ranked by selection count, then by ``|w|``: it goes further than "never selected" when the fraction is
    small, and keeps the largest never-selected weights when it is larger than what was selected. Every layer
    in ``layers`` (default: all MAM layers) must be MAM. Returns the new masks.

    On the samples ``x`` a row that already had a pruned weight computes exactly what it computed before
    (the kept interconnections include every argmax and argmin); a previously dense row gains a 0 competitor.
    """
    ids = [k for k, layer in enumerate(model) if layer.kind == "mam"] if layers is None else \
        _layer_ids(model, layers)
    if not ids:
        raise ContractError("the model has no mam layer for mam-aware pruning")
    counts = [selection_counts(model, x, k) for k in ids]
    if fraction is None:
        for k, c in zip(ids, counts):
            model[k].set_mask(_mask(model[k]) & (c >= min_count))
        return [model[k].mask for k in ids]
    kk = _target_count(model, ids, fraction)
    # Count first, magnitude second: |w| / (max |w| + 1) < 1 never outranks one more selection.
    scores = []
    for k, c in zip(ids, counts):
        a = np.abs(model[k].weight).astype(np.float64)
        scores.append(c + a / (a.max() + 1.0) if a.size else c.astype(np.float64))
    return _keep_top(model, ids, scores, kk)


def fine_tune(model, x, y, *, epochs=5, lr=5e-4, **train_kwargs):
    """Train with the masks held (pruned weights stay 0) and pure MAM (no vanishing contributes)."""
    train_kwargs.setdefault("vanish_epochs", 0)
    return train(model, x, y, epochs=epochs, lr=lr, **train_kwargs)
