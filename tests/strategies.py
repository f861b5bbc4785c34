"""Hypothesis strategies for random layers and inputs, shared by every test that needs them.

Shapes, densities and the special cases (empty rows, fully dense rows, all-negative products, extreme values,
saturation both ways) are drawn by hypothesis; the bulk values come from a NumPy generator seeded by a drawn
integer, which keeps wide layers cheap to generate.
"""

import numpy as np
from hypothesis import strategies as st

from mamhw.golden import Layer
from mamhw.golden.forward import accumulate

DENSITIES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.7, 1.0)
SIGN_MODES = ("any", "negative_products", "extremes", "sparse")


def _signed_bounds(bits):
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def valid_splits(splits, n_in):
    """The largest value <= `splits` that cuts `n_in` inputs into slices of ceil(n_in / k) with none empty."""
    k = max(1, min(splits, n_in))
    while k > 1 and (k - 1) * -(-n_in // k) >= n_in:
        k -= 1
    return k


def _contract_options(draw, kind, max_splits, relu_in):
    """Draws for the contract's later keys, made only when asked for (the draws of existing strategies stay
    the same): ``splits`` (mam only; made valid for the layer's inputs later) and ``relu_in``."""
    extra = {}
    if max_splits > 1 and kind == "mam":
        extra["splits"] = draw(st.one_of(st.just(1), st.integers(2, max_splits)))
    if relu_in:
        extra["relu_in"] = draw(st.booleans())
    return extra


@st.composite
def layer_params(draw, max_in=800, max_out=12, kinds=("mam", "mac"), max_entries=2000,
                 bits=(8,), max_batch=3, max_splits=1, relu_in=False):
    """Parameters of one layer and its inputs. ``max_splits`` > 1 draws ``splits`` for mam layers, ``relu_in``
    draws the input ReLU."""
    kind = draw(st.sampled_from(kinds))
    in_bits = draw(st.sampled_from(bits))
    w_bits = draw(st.sampled_from(bits))
    out_bits = draw(st.sampled_from(bits))
    n_in = draw(st.one_of(st.just(1), st.integers(1, 16), st.integers(700, max(700, max_in)))
                if max_in >= 700 else st.integers(1, max_in))
    n_out = draw(st.integers(1, max_out))
    density = draw(st.sampled_from(DENSITIES))
    # Keep simulations short: cap the expected entry count by shrinking the row count for wide layers.
    while n_out > 1 and n_out * max(1.0, n_in * density) > max_entries:
        n_out -= 1
    return dict(
        kind=kind, in_bits=in_bits, w_bits=w_bits, out_bits=out_bits, n_in=n_in, n_out=n_out,
        density=density,
        n_empty=draw(st.integers(0, n_out)),
        n_dense=draw(st.integers(0, 1 if n_in * n_out > max_entries else n_out)),
        sign_mode=draw(st.sampled_from(SIGN_MODES)),
        relu=draw(st.booleans()),
        scale=draw(st.sampled_from(("fit", "fit", "fit", "saturating", "random"))),
        batch=draw(st.integers(1, max_batch)),
        seed=draw(st.integers(0, 2**32 - 1)),
        **_contract_options(draw, kind, max_splits, relu_in),
    )


def contract_options(p):
    """The ``splits`` and ``relu_in`` of drawn layer parameters, as Layer.build keywords (none if not drawn)."""
    extra = {}
    if "splits" in p:
        extra["splits"] = valid_splits(p["splits"], p["n_in"])
    if "relu_in" in p:
        extra["relu_in"] = p["relu_in"]
    return extra


def make_layer_and_inputs(p):
    """Deterministic (layer, inputs) from drawn parameters."""
    rng = np.random.default_rng(p["seed"])
    wlo, whi = _signed_bounds(p["w_bits"])
    xlo, xhi = _signed_bounds(p["in_bits"])
    n_out, n_in = p["n_out"], p["n_in"]
    shape = (n_out, n_in)
    mode = p["sign_mode"]
    if mode == "negative_products":
        # Positive weights against negative inputs: every product <= 0.
        w = rng.integers(1, whi + 1, shape)
        x = rng.integers(xlo, 0, (p["batch"], n_in))
    elif mode == "extremes":
        w = rng.choice([wlo, whi, -1, 1], shape)
        x = rng.choice([xlo, xhi, 0], (p["batch"], n_in))
    else:
        w = rng.integers(wlo, whi + 1, shape)
        x = rng.integers(xlo, xhi + 1, (p["batch"], n_in))
    w[rng.random(shape) >= p["density"]] = 0
    extra = contract_options(p)
    rows = rng.permutation(n_out)
    w[rows[:p["n_empty"]]] = 0
    for r in rows[p["n_empty"]:p["n_empty"] + p["n_dense"]]:
        w[r] = rng.choice([v for v in range(wlo, whi + 1) if v != 0], n_in) if mode != "negative_products" \
            else rng.integers(1, whi + 1, n_in)
    bias = rng.integers(-(1 << 12), 1 << 12, n_out) if p["scale"] != "random" \
        else rng.integers(-(1 << 31), 1 << 31, n_out)
    if p["scale"] == "fit":
        # Spread the outputs over the output range, so that a wrong row value shows instead of saturating.
        probe = Layer.build(kind=p["kind"], weight=w, bias=bias, mult=1, shift=0, relu=False,
                            in_bits=p["in_bits"], w_bits=p["w_bits"], out_bits=32, **extra)
        span = int(np.abs(accumulate(probe, x) + bias).max()) + 1
        shift = 20
        mult = int(np.clip(round((1 << (p["out_bits"] - 1)) / span * (1 << shift)), 1, 65535))
    elif p["scale"] == "saturating":
        mult, shift = int(rng.integers(1000, 65536)), int(rng.integers(0, 4))
    else:
        mult, shift = int(rng.integers(1, 65536)), int(rng.integers(0, 41))
    layer = Layer.build(kind=p["kind"], weight=w, bias=bias, mult=mult, shift=shift, relu=p["relu"],
                        in_bits=p["in_bits"], w_bits=p["w_bits"], out_bits=p["out_bits"], **extra)
    return layer, x


def layers_and_inputs(**kw):
    return layer_params(**kw).map(make_layer_and_inputs)


@st.composite
def network_params(draw, max_layers=4, max_in=300, max_width=24, kinds=("mam", "mac"), max_entries=400,
                   bits=(8,), max_batch=2, max_splits=1, relu_in=False, dense_mam=True):
    """Parameters of a chain of 1..max_layers layers (each as for make_layer_and_inputs) and its inputs;
    ``max_splits`` and ``relu_in`` as for :func:`layer_params`; ``dense_mam``: MAM layers may have dense rows."""
    n_layers = draw(st.integers(1, max_layers))
    widths = [draw(st.one_of(st.integers(1, 16), st.integers(17, max(17, max_in))))]
    widths += [draw(st.integers(1, max_width)) for _ in range(n_layers)]
    in_bits = draw(st.sampled_from(bits))
    layers = []
    for k in range(n_layers):
        n_in, n_out = widths[k], widths[k + 1]
        fitting = [d for d in DENSITIES if n_out * max(1.0, n_in * d) <= max_entries] or [DENSITIES[0]]
        out_bits = draw(st.sampled_from(bits))
        kind = draw(st.sampled_from(kinds))
        layers.append(dict(
            kind=kind, in_bits=in_bits, w_bits=draw(st.sampled_from(bits)),
            out_bits=out_bits, n_in=n_in, n_out=n_out, density=draw(st.sampled_from(fitting)),
            n_empty=draw(st.one_of(st.just(0), st.integers(0, n_out // 4), st.integers(0, n_out))),
            n_dense=draw(st.integers(0, min(n_out, max_entries // n_in) if dense_mam or kind == "mac" else 0)),
            sign_mode=draw(st.sampled_from(SIGN_MODES)), relu=draw(st.booleans()),
            scale=draw(st.sampled_from(("fit", "fit", "fit", "saturating", "random"))),
            batch=1, seed=draw(st.integers(0, 2**32 - 1)),
            **_contract_options(draw, kind, max_splits, relu_in),
        ))
        in_bits = out_bits
    return dict(layers=layers, x_mode=draw(st.sampled_from(SIGN_MODES)), batch=draw(st.integers(1, max_batch)),
                seed=draw(st.integers(0, 2**32 - 1)))


def make_network_and_inputs(p):
    """Deterministic (Network, inputs) from drawn network parameters; "fit" layers are scaled on the outputs of
    the layers before them, so that values spread over each layer's output range."""
    from mamhw.golden import Network, forward

    rng = np.random.default_rng(p["seed"])
    lo, hi = _signed_bounds(p["layers"][0]["in_bits"])
    shape = (p["batch"], p["layers"][0]["n_in"])
    if p["x_mode"] == "extremes":
        x0 = rng.choice([lo, hi, 0], shape)
    elif p["x_mode"] == "negative_products":
        x0 = rng.integers(lo, 0, shape)
    elif p["x_mode"] == "sparse":                      # mostly zeros, as an image's background
        x0 = np.where(rng.random(shape) < 0.8, 0, rng.integers(lo, hi + 1, shape))
    else:
        x0 = rng.integers(lo, hi + 1, shape)
    layers, x = [], x0
    for lp in p["layers"]:
        layer, _ = make_layer_and_inputs(lp)
        if lp["scale"] == "fit":
            extra = contract_options(lp)
            probe = Layer.build(kind=layer.kind, weight=layer.weight, bias=layer.bias, mult=1, shift=0, relu=False,
                                in_bits=layer.in_bits, w_bits=layer.w_bits, out_bits=32, **extra)
            span = int(np.abs(accumulate(probe, x) + layer.bias).max()) + 1
            mult = int(np.clip(round((1 << (layer.out_bits - 1)) / span * (1 << 20)), 1, 65535))
            layer = Layer.build(kind=layer.kind, weight=layer.weight, bias=layer.bias, mult=mult, shift=20,
                                relu=layer.relu, in_bits=layer.in_bits, w_bits=layer.w_bits,
                                out_bits=layer.out_bits, **extra)
        layers.append(layer)
        x = forward(layer, x)
    return Network(layers), x0


def networks_and_inputs(**kw):
    return network_params(**kw).map(make_network_and_inputs)


def chain_network(*specs, seed=5):
    """(Network, inputs [2, in]) from directed layer parameters (make_layer_and_inputs's keys; the widths chained by
    the caller): 8-bit MAM layers without empty or dense rows unless a spec says otherwise."""
    base = dict(kind="mam", in_bits=8, w_bits=8, out_bits=8, n_empty=0, n_dense=0, sign_mode="any",
                relu=False, scale="fit", batch=1, seed=seed)
    layers = [dict(base, **s, seed=seed + k) for k, s in enumerate(specs)]
    return make_network_and_inputs(dict(layers=layers, x_mode="any", batch=2, seed=seed))
