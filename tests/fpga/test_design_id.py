"""The design id: every field that changes the hardware or its results changes the id, read from the CSR arrays
(no dense matrix), the same whatever file form the network came from."""

import numpy as np

from mamhw.fpga.design_id import design_id
from mamhw.fpga.estimate import random_network
from mamhw.golden import Layer, Network, load_model, save_network


def _layer(**changes):
    w = np.array([[3, 0, -2, 5, 0, 1, 0, 7], [0, 4, 0, 0, -6, 0, 2, 0]])
    fields = dict(kind="mam", weight=w, bias=[5, -9], mult=300, shift=8, relu=True) | changes
    return Layer.build(**fields)


def test_layers_differing_only_in_splits_or_relu_in_have_different_ids():
    base = design_id([_layer()], 2)
    assert design_id([_layer(splits=2)], 2) != base
    assert design_id([_layer(splits=4)], 2) not in (base, design_id([_layer(splits=2)], 2))
    assert design_id([_layer(relu_in=True)], 2) != base
    assert design_id([_layer()], 2) == base


def test_a_weight_moved_to_another_input_changes_the_id():
    moved = np.array([[3, 0, -2, 5, 0, 1, 7, 0], [0, 4, 0, 0, -6, 0, 2, 0]])
    assert design_id([_layer(weight=moved)], 1) != design_id([_layer()], 1)


def test_the_id_is_the_same_for_the_dense_and_the_sparse_file(tmp_path):
    net = random_network([40, 24, 10], density=[0.3, 1.0], seed=4)
    save_network(net, tmp_path / "dense.npz", sparse=False)
    save_network(net, tmp_path / "sparse.npz", sparse=True)
    ids = {design_id(load_model(tmp_path / f), 4) for f in ("dense.npz", "sparse.npz")}
    assert ids == {design_id(net, 4)}


def test_a_vgg_sized_network_has_an_id_from_its_csr_arrays():
    net = random_network([25088, 4096, 4096, 1000], density=0.0004, seed=0)
    a = design_id(net, 4)
    assert a == design_id(random_network([25088, 4096, 4096, 1000], density=0.0004, seed=0), 4)
    first = net[0]
    values = first.values.copy()
    values[-1] = 1 if values[-1] != 1 else 2
    changed = Layer.build(kind=first.kind, shape=first.shape, indptr=first.indptr, indices=first.indices,
                          values=values, bias=first.bias, mult=first.mult, shift=first.shift, relu=first.relu)
    assert design_id(Network([changed, net[1], net[2]]), 4) != a
    assert design_id(net, 8) != a
