"""Post-training quantization of a float MLP (model.train) to the integer layer contract.

Scheme (symmetric, per layer):

- inputs: ``x_q = clamp(round(x / s_0))`` within ``in_bits`` signed, ``s_0 = max|x_calib| / (2**(in_bits-1)-1)``;
- weights: ``w_q = clamp(round(w / s_w))`` within ``w_bits`` signed, ``s_w = max|w| / (2**(w_bits-1)-1)``; a pruned
  weight stays 0 (a tiny kept weight may round to 0, which the contract reads as pruned, like the float model
  reads a 0);
- accumulator: the integer ``a`` (max+min or sum of ``x_q * w_q``) is the float one over ``s_in * s_w``;
  ``bias_q = round(b / (s_in * s_w))`` in int32;
- requantization: ``mult / 2**shift ~ s_in * s_w / s_out``, where ``s_out`` is layer k's output scale, the
  input scale of layer k+1, chosen from calibration data: a high percentile of the float activation for hidden
  layers, the maximum for the last layer (its clipped logits would tie);
- ReLU is the layer's ``relu`` flag; the argmax of the last layer's integer outputs is the class.

Integer accuracy is measured with :func:`golden.network.network_forward`, the exact reference the hardware
matches.
"""

from dataclasses import dataclass, field

import numpy as np

from ..plumbing import ContractError
from ..golden.layer import MULT_RANGE, SHIFT_RANGE, INT32_RANGE, Layer, signed_range
from ..golden.network import Network, network_forward
from .train import accuracy as float_accuracy
from .train import forward as float_forward

__all__ = ["QuantizedModel", "quantize_model", "quantize_inputs", "requant_params", "quantization_report"]


def _qmax(bits):
    return (1 << (bits - 1)) - 1


def quantize_inputs(x, scale, bits=8):
    """Float inputs to integers: ``clamp(round(x / scale))`` within ``bits`` signed, int64."""
    lo, hi = signed_range(bits)
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ContractError("inputs to quantize hold NaN or infinity")
    return np.clip(np.rint(x / scale), lo, hi).astype(np.int64)


def requant_params(m):
    """``(mult, shift)`` within the contract with ``mult / 2**shift`` closest to the real multiplier ``m``.

    The largest shift that keeps ``mult`` within 16 bits gives the finest resolution.
    """
    if not np.isfinite(m) or m <= 0:
        raise ContractError(f"requantization multiplier must be positive and finite, got {m}")
    mult_lo, mult_hi = MULT_RANGE
    shift_lo, shift_hi = SHIFT_RANGE
    shift = shift_hi
    while shift > shift_lo and round(m * 2 ** shift) > mult_hi:
        shift -= 1
    mult = int(min(max(round(m * 2 ** shift), mult_lo), mult_hi))
    return mult, shift


@dataclass(eq=False)
class QuantizedModel:
    """An integer Network with the scales that link it to the float model."""

    network: Network
    input_scale: float
    scales: list = field(default_factory=list)   # real value of one integer unit of each layer's output
    weight_scales: list = field(default_factory=list)   # real value of one integer unit of each layer's weights

    @property
    def in_bits(self):
        return self.network.in_bits

    def quantize_inputs(self, x):
        return quantize_inputs(x, self.input_scale, self.in_bits)

    def forward(self, x):
        """Integer outputs of the last layer for float inputs x (quantized first)."""
        return network_forward(self.network, self.quantize_inputs(x))

    def predict(self, x, batch_size=1000):
        x = np.asarray(x)
        return np.concatenate([self.forward(x[s:s + batch_size]).argmax(axis=1)
                               for s in range(0, x.shape[0], batch_size)])

    def accuracy(self, x, y):
        return float(np.mean(self.predict(x) == np.asarray(y)))


def _scale_of(values, percentile, qmax):
    a = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    top = float(np.percentile(a, percentile)) if percentile < 100 else float(a.max(initial=0.0))
    if top <= 0:
        top = float(a.max(initial=0.0))
    return (top if top > 0 else 1.0) / qmax


def _quantize_layer(dense, s_in, s_out, in_bits, w_bits, out_bits, where):
    w = dense.weight.astype(np.float64)
    s_w = _scale_of(w, 100, _qmax(w_bits))
    lo, hi = signed_range(w_bits)
    wq = np.clip(np.rint(w / s_w), lo, hi).astype(np.int64)
    if dense.mask is not None:
        wq[~dense.mask] = 0
    s_acc = s_in * s_w
    bq = np.clip(np.rint(dense.bias.astype(np.float64) / s_acc), *INT32_RANGE).astype(np.int64)
    mult, shift = requant_params(s_acc / s_out)
    layer = Layer.build(kind=dense.kind, weight=wq, bias=bq, mult=mult, shift=shift, relu=dense.relu,
                        in_bits=in_bits, w_bits=w_bits, out_bits=out_bits, splits=dense.splits,
                        relu_in=dense.relu_in, where=where)
    return layer, s_w


def quantize_model(model, x_calib, *, in_bits=8, w_bits=8, act_bits=8, out_bits=8, input_scale=None,
                   act_percentile=99.99, y_calib=None, out_bits_choices=(8, 12, 16), auto_tolerance=0.002):
    """Quantize float MLP ``model`` (model.train.MLP) to a :class:`QuantizedModel`.

    ``x_calib``: float samples for the activation ranges. Hidden layers output ``act_bits``; the last layer
    ``out_bits``, or with ``out_bits="auto"`` (needs ``y_calib``) the narrowest of ``out_bits_choices`` whose
    integer accuracy on the calibration set is within ``auto_tolerance`` of the widest choice's.
    """
    x_calib = np.asarray(x_calib, dtype=np.float32)
    if x_calib.ndim != 2 or x_calib.shape[0] < 1 or x_calib.shape[1] != model[0].n_in:
        raise ContractError(f"calibration data must be [n >= 1, {model[0].n_in}], got {list(x_calib.shape)}")
    if out_bits == "auto":
        if y_calib is None:
            raise ContractError('out_bits="auto" needs calibration labels y_calib')
        candidates = [quantize_model(model, x_calib, in_bits=in_bits, w_bits=w_bits, act_bits=act_bits,
                                     out_bits=b, input_scale=input_scale, act_percentile=act_percentile)
                      for b in sorted(out_bits_choices)]
        accs = [q.accuracy(x_calib, y_calib) for q in candidates]
        for q, acc in zip(candidates, accs):
            if acc >= accs[-1] - auto_tolerance:
                return q
    if input_scale is None:
        input_scale = _scale_of(x_calib, 100, _qmax(in_bits))
    acts = float_forward(model, x_calib, beta=0.0, return_all=True)
    layers, scales, weight_scales = [], [], []
    s_in, bits_in = float(input_scale), in_bits
    for k, dense in enumerate(model):
        last = k == len(model) - 1
        bits_out = out_bits if last else act_bits
        s_out = _scale_of(acts[k], 100 if last else act_percentile, _qmax(bits_out))
        layer, s_w = _quantize_layer(dense, s_in, s_out, bits_in, w_bits, bits_out, f"layer {k}")
        layers.append(layer)
        scales.append(s_out)
        weight_scales.append(s_w)
        s_in, bits_in = s_out, bits_out
    return QuantizedModel(Network(layers), float(input_scale), scales, weight_scales)


def quantization_report(model, qmodel, x, y):
    """Float and integer accuracy on (x, y), and the gap in points (float minus integer, in %)."""
    f = float_accuracy(model, x, y)
    q = qmodel.accuracy(x, y)
    return {"float_acc": f, "int_acc": q, "gap_points": 100.0 * (f - q),
            "out_bits": qmodel.network[-1].out_bits,
            "nnz": [layer.nnz for layer in qmodel.network]}
