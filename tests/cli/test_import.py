"""`mam import`: every checkpoint layout built with torch, saved with torch.save and imported through the CLI.

The MAM layer is written here in torch ops as mamtorch defines it (test/reference.py there): per input slice, the
max plus the min of the products, summed over the slices, plus the bias. The importer's float model must compute
what this torch model computes, and the network file it writes must run in golden as the integer reference below
says.
"""

import contextlib
import io
import json

import numpy as np
import pytest

from mamhw.cli import main
from mamhw.golden import Layer, forward as golden_forward, load_network, network_forward
from mamhw.model.importer import import_checkpoint
from mamhw.model.train import forward as float_forward

torch = pytest.importorskip("torch", reason="needs the torch extra: pip install -e '.[torch]'")
nn = torch.nn

N_IN, N_HID, N_OUT = 12, 8, 3


class MamLinear(nn.Module):
    """mamtorch's FullyConnected after training (beta 0): relu_in, then per slice max + min of w_ji x_i, summed,
    times in / (2 splits) with vcon_expand, plus the bias. Keys: weight, bias (as mamtorch's)."""

    def __init__(self, n_in, n_out, splits=1, relu_in=False, vcon_expand=False, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_out, n_in).uniform_(-1, 1) / n_in ** 0.5)
        self.bias = nn.Parameter(torch.empty(n_out).uniform_(-0.1, 0.1)) if bias else None
        self.splits, self.relu_in, self.vcon_expand = splits, relu_in, vcon_expand

    def forward(self, x):
        if self.relu_in:
            x = torch.relu(x)
        n_in = x.shape[1]
        width = -(-n_in // self.splits)
        out = None
        for a in range(0, n_in, width):
            p = x[:, None, a:a + width] * self.weight[None, :, a:a + width]
            part = p.amax(dim=2) + p.amin(dim=2)
            out = part if out is None else out + part
        if self.vcon_expand:
            out = out * (n_in / (2 * self.splits))
        return out if self.bias is None else out + self.bias


class Net(nn.Module):
    """fc1 (MAM) -> [bn1] -> ReLU -> fc2 (MAC), under names of one's choice."""

    def __init__(self, names=("fc1", "fc2"), bn=None, **mam):
        super().__init__()
        self.names, self.bn_name = names, bn
        setattr(self, names[0], MamLinear(N_IN, N_HID, **mam))
        if bn:
            norm = nn.BatchNorm1d(N_HID)
            with torch.no_grad():
                norm.running_mean.uniform_(-0.3, 0.3)
                norm.running_var.uniform_(0.3, 2.0)
                norm.weight.uniform_(-1.5, 1.5)       # negative scales too: exact for max + min
                norm.bias.uniform_(-0.2, 0.2)
            setattr(self, bn, norm)
        setattr(self, names[1], nn.Linear(N_HID, N_OUT))

    def forward(self, x):
        h = getattr(self, self.names[0])(x)
        if self.bn_name:
            h = getattr(self, self.bn_name)(h)
        return getattr(self, self.names[1])(torch.relu(h))


def seq(bn=False):
    """The same network as nn.Sequential: keys 0.weight, (1.running_mean,) 2.weight or 3.weight."""
    mods = [MamLinear(N_IN, N_HID)] + ([nn.BatchNorm1d(N_HID)] if bn else []) + [nn.ReLU(), nn.Linear(N_HID, N_OUT)]
    model = nn.Sequential(*mods)
    if bn:
        with torch.no_grad():
            model[1].running_mean.uniform_(-0.3, 0.3)
            model[1].running_var.uniform_(0.3, 2.0)
    return model


class Stack(nn.Module):
    """layers.0 .. layers.N in a ModuleList: numbers past 9 order as numbers, not as text."""

    def __init__(self, widths):
        super().__init__()
        self.layers = nn.ModuleList(MamLinear(a, b) if k < len(widths) - 2 else nn.Linear(a, b)
                                    for k, (a, b) in enumerate(zip(widths[:-1], widths[1:])))

    def forward(self, x):
        *hidden, last = self.layers
        for layer in hidden:
            x = torch.relu(layer(x))
        return last(x)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("import_data")
    rng = np.random.default_rng(0)
    x = rng.random((300, N_IN)).astype(np.float32)
    np.save(folder / "x.npy", x)
    return folder, x


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def torch_out(model, x):
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def build(seed, make):
    torch.manual_seed(seed)
    model = make()
    model.eval()
    return model


def import_via_cli(tmp_path, ckpt, data_folder, *extra, labels=None):
    """`mam import` with --check on the data (labels: the given ones); returns (status, stdout, report, net path)."""
    net, xq, rep = tmp_path / "net.npz", tmp_path / "xq.npy", tmp_path / "r.json"
    args = ["import", ckpt, "-o", net, "--calib", data_folder / "x.npy", "--check", data_folder / "x.npy",
            "--inputs-out", xq, "--report", rep, *extra]
    if labels is not None:
        np.save(tmp_path / "y.npy", labels)
        args += ["--labels", tmp_path / "y.npy"]
    status, out, err = run(*args)
    assert status == 0, err
    return out, json.loads(rep.read_text()), net, np.load(xq)


def optimizer_state(model):
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.rand(4, N_IN)).sum().backward()
    opt.step()
    return opt.state_dict()


# Layout name -> (make the model, what torch.save writes, the layer names the import must report).
LAYOUTS = {
    "plain": (lambda: Net(), lambda m: m.state_dict(), ["fc1", "fc2"]),
    "model wrapper": (lambda: Net(), lambda m: {"model": m.state_dict()}, ["fc1", "fc2"]),
    "state_dict wrapper": (lambda: Net(), lambda m: {"state_dict": m.state_dict(), "epoch": 7}, ["fc1", "fc2"]),
    "model_state_dict + optimizer": (lambda: Net(), lambda m: {"model_state_dict": m.state_dict(), "epoch": 12,
                                                              "optimizer_state_dict": optimizer_state(m)},
                                     ["fc1", "fc2"]),
    "nn.Sequential": (lambda: seq(), lambda m: m.state_dict(), ["0", "2"]),
    "Sequential + BatchNorm1d": (lambda: seq(bn=True), lambda m: m.state_dict(), ["0", "3"]),
    "named + BatchNorm1d": (lambda: Net(bn="bn1"), lambda m: m.state_dict(), ["fc1", "fc2"]),
    "DataParallel prefix": (lambda: Net(), lambda m: {f"module.{k}": v for k, v in m.state_dict().items()},
                            ["module.fc1", "module.fc2"]),
    "MAM layer without a bias": (lambda: Net(bias=False), lambda m: m.state_dict(), ["fc1", "fc2"]),
    "keys in reverse order": (lambda: Net(), lambda m: dict(reversed(list(m.state_dict().items()))), ["fc1", "fc2"]),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_checkpoint_layout_imports_and_computes_what_torch_computes(tmp_path, data, layout):
    folder, x = data
    make, saved, names = LAYOUTS[layout]
    model = build(1, make)
    ckpt = tmp_path / "ckpt.pt"
    torch.save(saved(model), ckpt)
    ref = torch_out(model, x)
    labels = ref.argmax(axis=1)
    out, report, net, xq = import_via_cli(tmp_path, ckpt, folder, "--kinds", "mam,mac", labels=labels)
    assert [L["name"] for L in report["layers"]] == names
    assert [L["kind"] for L in report["layers"]] == ["mam", "mac"]
    assert [L["shape"] for L in report["layers"]] == [[N_HID, N_IN], [N_OUT, N_HID]]
    # The float model the importer built is the torch model.
    imported = import_checkpoint(ckpt, "mam,mac".split(","))
    np.testing.assert_allclose(float_forward(imported.model, x), ref, rtol=1e-5, atol=2e-6)
    # The file is a network golden runs; its classes agree with torch's, and the report says how often.
    network = load_network(net)
    assert [layer.kind for layer in network] == ["mam", "mac"]
    ints = network_forward(network, xq)
    agree = float(np.mean(ints.argmax(axis=1) == labels))
    assert report["check"]["int8_acc"] == pytest.approx(agree)
    assert report["check"]["float_acc"] == 1.0
    assert agree >= 0.9        # measured 0.97..1.0 over these layouts; a broken scale or order gives ~1/3
    assert f"accuracy float 100.0%, int8 {100 * agree:.1f}%" in out
    if "BatchNorm" in layout:
        assert "BatchNorm1d" in " ".join(report["layers"][0]["notes"])
        assert any("num_batches_tracked" in k for k in report["ignored"])
    if "optimizer" in layout:
        assert {"epoch (beside 'model_state_dict')", "optimizer_state_dict (beside 'model_state_dict')"} \
            <= set(report["ignored"])
        assert "left out" in out


def test_layers_dot_ten_comes_after_layers_dot_two(tmp_path, data):
    folder, x = data
    widths = [N_IN] + [9] * 11 + [N_OUT]             # layers.0 .. layers.11
    model = build(2, lambda: Stack(widths))
    state = model.state_dict()
    torch.save(dict(sorted(state.items())), tmp_path / "stack.pt")     # text order: layers.1, layers.10, layers.11, layers.2
    imported = import_checkpoint(tmp_path / "stack.pt", ["mam"] * 11 + ["mac"])
    assert imported.names == [f"layers.{k}" for k in range(12)]
    np.testing.assert_allclose(float_forward(imported.model, x), torch_out(model, x), rtol=1e-4, atol=1e-5)


def test_torch_prune_masks_are_applied_and_zero_weights_are_pruned(tmp_path, data):
    from torch.nn.utils import prune
    folder, x = data
    model = build(3, Net)
    prune.l1_unstructured(model.fc2, "weight", amount=0.5)           # fc2.weight_orig + fc2.weight_mask
    with torch.no_grad():
        model.fc1.weight[:, :5] = 0.0                                 # mamtorch: pruned = exactly 0
    state = model.state_dict()
    assert "fc2.weight_orig" in state and "fc2.weight_mask" in state
    torch.save(state, tmp_path / "pruned.pt")
    out, report, net, xq = import_via_cli(tmp_path, tmp_path / "pruned.pt", folder, "--kinds", "mam,mac")
    assert [L["kept"] for L in report["layers"]] == [N_HID * (N_IN - 5), N_OUT * N_HID // 2]
    assert "pruning mask applied" in " ".join(report["layers"][1]["notes"])
    with np.load(net) as raw:                         # the sparse layer format: CSR keys, no dense weight
        assert {"0/indptr", "0/indices", "0/values", "1/indptr"} <= set(raw.files) and "0/weight" not in raw.files
    network = load_network(net)
    assert not network[0].weight[:, :5].any()
    assert np.array_equal(network[1].weight != 0, (state["fc2.weight_mask"].numpy() != 0)
                          & (network[1].weight != 0))
    np.testing.assert_allclose(float_forward(import_checkpoint(tmp_path / "pruned.pt", ["mam", "mac"]).model, x),
                               torch_out(model, x), rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_tensors_are_widened(tmp_path, data, dtype):
    folder, x = data
    model = build(4, Net)
    half = {k: v.to(getattr(torch, dtype)) for k, v in model.state_dict().items()}
    torch.save(half, tmp_path / "half.pt")
    widened = Net()
    widened.load_state_dict({k: v.float() for k, v in half.items()})
    out, report, net, xq = import_via_cli(tmp_path, tmp_path / "half.pt", folder, "--kinds", "mam,mac")
    np.testing.assert_allclose(float_forward(import_checkpoint(tmp_path / "half.pt", ["mam", "mac"]).model, x),
                               torch_out(widened, x), rtol=1e-5, atol=2e-6)


def int_reference(network, x):
    """The layer contract written out for splits and relu_in: per slice, max + min over all its products (a pruned
    weight's 0 included), summed over the slices; bias, multiply, round half up, shift, ReLU, saturate."""
    for layer in network:
        x = np.maximum(x, 0) if layer.relu_in else x
        w = layer.weight
        width = -(-layer.n_in // layer.splits)
        acc = np.zeros((x.shape[0], layer.n_out), dtype=np.int64)
        for a in range(0, layer.n_in, width):
            p = x[:, None, a:a + width] * w[None, :, a:a + width]
            acc += (p.max(axis=2) + p.min(axis=2)) if layer.kind == "mam" else p.sum(axis=2)
        q = (acc + layer.bias) * layer.mult
        if layer.shift:
            q = (q + (1 << (layer.shift - 1))) >> layer.shift
        q = np.maximum(q, 0) if layer.relu else q
        x = np.clip(q, -(1 << (layer.out_bits - 1)), (1 << (layer.out_bits - 1)) - 1)
    return x


@pytest.mark.parametrize("splits", [2, 3])
def test_split_mam_layer_through_golden_matches_the_reference(splits):
    rng = np.random.default_rng(splits)
    w = rng.integers(-127, 128, size=(6, 11))
    w[rng.random(w.shape) < 0.4] = 0                 # pruned weights compete within their own slice
    w[0, :] = 0                                      # an empty row
    w[1, :4] = 0                                     # a row whose first slice is empty
    layer = Layer.build(kind="mam", weight=w, bias=rng.integers(-500, 500, 6), mult=300, shift=9, relu=False,
                        splits=splits, relu_in=True)
    x = rng.integers(-128, 128, size=(40, 11))
    expected = int_reference([layer], x)
    np.testing.assert_array_equal(golden_forward(layer, x), expected)
    whole = Layer.build(kind="mam", weight=w, bias=layer.bias, mult=300, shift=9, relu=False, relu_in=True)
    assert not np.array_equal(golden_forward(whole, x), expected)    # the slices matter


@pytest.mark.parametrize("splits", [2, 3])
def test_split_relu_in_vcon_expand_layer_imports_with_its_options(tmp_path, data, splits):
    folder, x = data
    x_signed = (2 * x - 1).astype(np.float32)          # negative inputs, so relu_in matters
    np.save(tmp_path / "xs.npy", x_signed)
    model = build(5, lambda: Net(splits=splits, relu_in=True, vcon_expand=True))
    torch.save(model.state_dict(), tmp_path / "split.pt")
    sidecar = tmp_path / "options.json"
    sidecar.write_text(json.dumps({"layers": {"fc1": {"kind": "mam", "splits": splits, "relu_in": True},
                                              "fc2": {"kind": "mac"}}}))
    net, xq, rep = tmp_path / "net.npz", tmp_path / "xq.npy", tmp_path / "r.json"
    status, out, err = run("import", tmp_path / "split.pt", "-o", net, "--options", sidecar, "--vcon-expand", "fc1",
                           "--calib", tmp_path / "xs.npy", "--check", tmp_path / "xs.npy",
                           "--inputs-out", xq, "--report", rep)
    assert status == 0, err
    assert f"mam {N_HID}x{N_IN} (splits {splits}, relu_in, relu)" in out
    assert f"x{N_IN / (2 * splits):g} (in / (2 splits)) folded" in out
    imported = import_checkpoint(tmp_path / "split.pt", options={"fc1": {"kind": "mam", "splits": splits,
                                                                         "relu_in": True, "vcon_expand": True}})
    ref = torch_out(model, x_signed)
    np.testing.assert_allclose(float_forward(imported.model, x_signed), ref, rtol=1e-5, atol=1e-5)
    network = load_network(net)
    assert (network[0].splits, network[0].relu_in) == (splits, True)
    ints = network_forward(network, np.load(xq))
    np.testing.assert_array_equal(ints, int_reference(network, np.load(xq)))
    report = json.loads(rep.read_text())
    assert report["check"]["agreement"] == pytest.approx(np.mean(ints.argmax(1) == ref.argmax(1)))
    assert report["check"]["agreement"] >= 0.9       # measured 0.99 for both split counts


def test_names_that_do_not_tell_the_order_need_layers(tmp_path, data):
    folder, x = data
    model = build(6, lambda: Net(names=("hidden", "out")))
    torch.save(model.state_dict(), tmp_path / "named.pt")
    status, _, err = run("import", tmp_path / "named.pt", "-o", tmp_path / "n.npz")
    assert status == 2 and "--layers" in err and err.count("\n") == 1 and not (tmp_path / "n.npz").exists()
    out, report, net, xq = import_via_cli(tmp_path, tmp_path / "named.pt", folder, "--layers", "hidden,out")
    assert [L["name"] for L in report["layers"]] == ["hidden", "out"]
    assert "mam train's default" in out                    # no --kinds: said so
    np.testing.assert_allclose(float_forward(import_checkpoint(tmp_path / "named.pt", layers=["hidden", "out"]).model,
                                             x), torch_out(model, x), rtol=1e-5, atol=2e-6)


def test_no_calibration_data_says_what_the_scales_rest_on(tmp_path):
    torch.save(build(7, Net).state_dict(), tmp_path / "m.pt")
    status, out, err = run("import", tmp_path / "m.pt", "-o", tmp_path / "n.npz")
    assert status == 0, err
    assert "no --calib: the scales rest on 1000 uniform random inputs in [0, 1]" in out
    assert load_network(tmp_path / "n.npz").n_in == N_IN


def _save(obj, path):
    torch.save(obj, path)
    return path


BAD = {
    "a pickled module": (lambda p: _save(seq(), p), (), "save torch.save(model.state_dict(), path)"),
    "not a checkpoint": (lambda p: p.write_bytes(b"PK\x03\x04 nothing") and p, (), "not a loadable PyTorch"),
    "unknown key": (lambda p: _save(dict(Net().state_dict(), **{"fc1.scale": torch.ones(1)}), p), (),
                    "'fc1.scale' is no parameter"),
    "a LayerNorm": (lambda p: _save(nn.Sequential(nn.Linear(N_IN, 4), nn.LayerNorm(4)).state_dict(), p), (),
                    "no running statistics"),
    "a BatchNorm before any layer": (lambda p: _save(nn.Sequential(nn.BatchNorm1d(N_IN), nn.Linear(N_IN, 3))
                                                     .state_dict(), p), (), "follows no layer"),
    "a BatchNorm of the wrong width": (lambda p: _save(dict(Net().state_dict(), **{
        f"bn1.{k}": v for k, v in nn.BatchNorm1d(5).state_dict().items()}), p), (), "has 5 features"),
    "two BatchNorms after one layer": (lambda p: _save(dict(Net(bn="bn1").state_dict(), **{
        f"norm1.{k}": v for k, v in nn.BatchNorm1d(N_HID).state_dict().items()}), p), (), "both follow layer fc1"),
    "a convolution": (lambda p: _save(nn.Sequential(nn.Conv1d(1, 2, 3)).state_dict(), p), (), "convolutions"),
    "too many kinds": (lambda p: _save(Net().state_dict(), p), ("--kinds", "mam,mac,mac"), "3 kinds"),
    "splits on a mac layer": (lambda p: _save(Net().state_dict(), p), ("--splits", "fc2=2"), "needs a mam layer"),
    "splits past the inputs": (lambda p: _save(Net().state_dict(), p), ("--splits", "13"), "splits must be in"),
    "bad splits": (lambda p: _save(Net().state_dict(), p), ("--splits", "fc1=x"), "whole number"),
    "unknown layer option": (lambda p: _save(Net().state_dict(), p), ("--relu-in", "fc9"), "fc9"),
    "labels without check": (lambda p: _save(Net().state_dict(), p), ("--labels", "y.npy"), "--labels goes with"),
    "calibration of the wrong width": (lambda p: np.save(p.parent / "c.npy", np.zeros((5, 7))) or
                                       _save(Net().state_dict(), p), ("--calib", "c.npy"), "must be [n >= 1, 12]"),
    "check inputs with NaN": (lambda p: np.save(p.parent / "c.npy", np.full((5, N_IN), np.nan)) or
                              _save(Net().state_dict(), p), ("--check", "c.npy"), "NaN"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_checkpoints_and_options_are_refused_in_one_line(tmp_path, case):
    make, extra, message = BAD[case]
    ckpt = make(tmp_path / "ckpt.pt")
    (tmp_path / "y.npy").write_bytes(b"")
    extra = [tmp_path / a if a.endswith(".npy") else a for a in extra]
    status, out, err = run("import", ckpt, "-o", tmp_path / "net.npz", *extra)
    assert status == 2, (out, err)
    assert err.count("\n") == 1 and "Traceback" not in err and message in err, err
    assert not (tmp_path / "net.npz").exists()


def test_a_bad_sidecar_is_refused_in_one_line(tmp_path):
    torch.save(build(8, Net).state_dict(), tmp_path / "m.pt")
    for text, message in (("{", "not JSON"), ('{"layer": {}}', "unknown key(s) layer"),
                          ('{"layers": {"fc1": {"splits": "2"}}}', "whole number"),
                          ('{"layers": {"fc1": {"relu_in": 1}}}', "true or false"),
                          ('{"layers": {"fc1": {"colour": 1}}}', "unknown option(s) colour")):
        (tmp_path / "o.json").write_text(text)
        status, _, err = run("import", tmp_path / "m.pt", "-o", tmp_path / "n.npz", "--options", tmp_path / "o.json")
        assert status == 2 and message in err and err.count("\n") == 1, (text, err)
    assert not (tmp_path / "n.npz").exists()
