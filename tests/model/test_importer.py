"""Importing float layers from .npz files and PyTorch state dicts, then quantizing them."""

import sys

import numpy as np
import pytest

from mamhw.plumbing import ContractError
from mamhw.model.importer import import_and_quantize, import_model, load_float_layers
from mamhw.golden.network import network_forward
from mamhw.model.train import forward, mlp, train
from tests.model.synthetic import blobs


@pytest.fixture(scope="module")
def trained():
    x, y = blobs(n_per_class=40, n_features=12, n_classes=3, seed=2)
    model = mlp([12, 10, 3], ["mam", "mac"], seed=2)
    train(model, x, y, epochs=6, vanish_epochs=2, lr=1e-2)
    model[0].weight[0, :4] = 0.0            # a few pruned weights, as a pruned mamtorch layer has
    return model, x, y


def state_of(model, names=("fc1", "fc2")):
    state = {}
    for name, layer in zip(names, model):
        state[f"{name}.weight"] = layer.weight
        state[f"{name}.bias"] = layer.bias
    return state


def test_npz_import_round_trips_and_quantizes(trained, tmp_path):
    model, x, y = trained
    path = tmp_path / "model.npz"
    np.savez(path, **state_of(model))
    layers = load_float_layers(path)
    assert [p for p, _, _ in layers] == ["fc1", "fc2"]
    imported = import_model(path, ["mam", "mac"])
    assert np.array_equal(forward(imported, x), forward(model, x))
    assert imported[0].mask is not None and not imported[0].mask[0, :4].any()
    fmodel, q = import_and_quantize(path, ["mam", "mac"], x)
    assert q.network[0].kind == "mam" and np.all(q.network[0].weight[0, :4] == 0)
    ints = network_forward(q.network, q.quantize_inputs(x))
    assert np.mean(ints.argmax(axis=1) == forward(fmodel, x).argmax(axis=1)) > 0.95


def test_unprefixed_single_layer_and_gain(tmp_path):
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((4, 6)), rng.standard_normal(4)
    np.savez(tmp_path / "one.npz", weight=w, bias=b)
    one = import_model(tmp_path / "one.npz", "mam", mam_gain=2.0)
    assert one[0].relu is False
    assert np.allclose(one[0].weight, 2 * w)


def test_bad_files_are_refused_with_one_line(trained, tmp_path):
    model, _, _ = trained
    np.savez(tmp_path / "m.npz", **state_of(model))
    with pytest.raises(ContractError, match="2 layers .*fc1, fc2.* but 3 kinds"):
        import_model(tmp_path / "m.npz", ["mam", "mac", "mac"])
    np.savez(tmp_path / "bn.npz", **{"bn.weight": np.ones(3), "bn.bias": np.zeros(3)})
    with pytest.raises(ContractError, match=r"bn.weight has shape \[3\]"):
        load_float_layers(tmp_path / "bn.npz")
    np.savez(tmp_path / "odd.npz", **{"fc.running_mean": np.ones(3)})
    with pytest.raises(ContractError, match="only one of running_mean and running_var"):
        load_float_layers(tmp_path / "odd.npz")
    np.savez(tmp_path / "chain.npz", **state_of(mlp([5, 4, 3], "mac")), extra=np.zeros(1))
    with pytest.raises(ContractError, match="extra"):
        load_float_layers(tmp_path / "chain.npz")
    bad = state_of(model)
    bad["fc2.weight"] = np.zeros((3, 7))
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(ContractError, match="layer 1 takes 7 inputs"):
        import_model(tmp_path / "bad.npz", "mac")
    nan = state_of(model)
    nan["fc1.bias"] = np.full(10, np.nan)
    np.savez(tmp_path / "nan.npz", **nan)
    with pytest.raises(ContractError, match="NaN"):
        load_float_layers(tmp_path / "nan.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ContractError, match="not a NumPy .npz"):
        load_float_layers(tmp_path / "junk.npz")
    with pytest.raises(ContractError, match="no such file"):
        load_float_layers(tmp_path / "missing.npz")


def test_torch_missing_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    (tmp_path / "m.pt").write_bytes(b"PK\x03\x04 whatever")
    with pytest.raises(ContractError, match=r"pip install mamhw\[torch\]"):
        load_float_layers(tmp_path / "m.pt")


def test_torch_state_dict_import_matches_a_torch_forward(trained, tmp_path):
    torch = pytest.importorskip("torch")
    model, x, _ = trained
    state = {k: torch.from_numpy(v.copy()) for k, v in state_of(model, ("net.0", "net.2")).items()}
    torch.save(state, tmp_path / "model.pt")
    imported = import_model(tmp_path / "model.pt", ["mam", "mac"])
    assert np.array_equal(forward(imported, x), forward(model, x))
    # The MAM layer as mamtorch defines it, written out in torch: max + min of the products, plus the bias.
    xt = torch.from_numpy(x)
    p = xt[:, None, :] * state["net.0.weight"][None, :, :]
    h = torch.relu(p.amax(dim=2) + p.amin(dim=2) + state["net.0.bias"])
    logits = torch.nn.functional.linear(h, state["net.2.weight"], state["net.2.bias"])
    assert np.allclose(forward(imported, x), logits.numpy(), atol=1e-5)
    torch.save({"state_dict": state}, tmp_path / "ckpt.pth")
    assert len(load_float_layers(tmp_path / "ckpt.pth")) == 2
    (tmp_path / "bad.pt").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ContractError, match="not a loadable PyTorch checkpoint"):
        load_float_layers(tmp_path / "bad.pt")
