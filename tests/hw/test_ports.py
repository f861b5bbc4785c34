"""The engine's host port (hw/ports.py): the signature NetworkEngine declares, the host link's flipped side, and
what a reader of the ports (PORTS.md, the simulators' drivers) can rely on."""

import pytest
from amaranth.hdl import Fragment, Shape, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from mamhw.fpga.boards import build_link_top
from mamhw.hw.ports import EngineHostPort, addr_bits
from mamhw.hw.specs import build_network_engine
from tests.strategies import make_network_and_inputs


def _network():
    base = dict(kind="mam", in_bits=8, w_bits=8, out_bits=8, n_empty=0, n_dense=0, sign_mode="any", relu=False,
                scale="fit", batch=1)
    layers = [dict(base, n_in=10, n_out=6, density=0.5, seed=1),
              dict(base, kind="mac", in_bits=8, out_bits=12, n_in=6, n_out=3, density=0.7, seed=2)]
    network, _ = make_network_and_inputs(dict(layers=layers, x_mode="any", batch=1, seed=3))
    return network


def _elaborated(design):
    """`design`, elaborated (a design built and never elaborated is reported as unused)."""
    Fragment.get(design, None)
    return design


def test_port_members_are_exactly_these():
    port = EngineHostPort(n_in=10, in_bits=8, n_out=3, out_bits=12, n_layers=2, y_latency=2, counter_bits=20,
                          weight_words=[7, 0, 40], weight_bits=21)
    assert dict(port.members.items()) == {
        "w_we": In(1), "w_pe": In(2), "w_addr": In(6), "w_data": In(21),
        "start": In(1), "busy": Out(1), "done": Out(1), "cycles": Out(20), "layer": Out(1),
        "layer_cycles": Out(data.ArrayLayout(unsigned(20), 2)),
        "x_we": In(1), "x_addr": In(4), "x_data": In(signed(8)), "y_addr": In(2), "y_data": Out(signed(12)),
    }
    assert list(port.members)[:4] == ["w_we", "w_pe", "w_addr", "w_data"]
    assert set(EngineHostPort.MEANING) == set(port.members)
    baked = EngineHostPort(n_in=1, in_bits=4, n_out=1, out_bits=4, n_layers=1, y_latency=1)
    assert not baked.loads_weights and baked.pes is None and "w_we" not in baked.members
    assert (addr_bits(0), addr_bits(1), addr_bits(2), addr_bits(3), addr_bits(1024), addr_bits(1025)) == \
        (1, 1, 1, 2, 10, 11)


def test_ports_compare_by_their_parameters():
    a = EngineHostPort(n_in=4, in_bits=8, n_out=2, out_bits=8, n_layers=1, y_latency=2)
    b = EngineHostPort(n_in=4, in_bits=8, n_out=2, out_bits=8, n_layers=1, y_latency=2)
    c = EngineHostPort(n_in=4, in_bits=8, n_out=2, out_bits=8, n_layers=1, y_latency=3)   # same members
    assert a == b and hash(a) == hash(b) and a != c and a.members == c.members
    assert a.flip() == b.flip() and a.flip() != a
    assert "y_latency=2" in repr(a)
    with pytest.raises(ValueError, match="go together"):
        EngineHostPort(n_in=4, in_bits=8, n_out=2, out_bits=8, n_layers=1, y_latency=2, weight_words=[3])
    with pytest.raises(ValueError, match="y_latency"):
        EngineHostPort(n_in=4, in_bits=8, n_out=2, out_bits=8, n_layers=1, y_latency=0)


@pytest.mark.parametrize("weight_ram", [None, "memory"])
def test_network_engine_declares_the_port_with_its_layer_engines_shapes(weight_ram):
    network = _network()
    engine, _ = build_network_engine(network, 2, weight_ram=weight_ram)
    _elaborated(engine)
    port = engine.signature
    assert isinstance(port, EngineHostPort)
    assert (port.n_in, port.in_bits, port.n_out, port.out_bits, port.n_layers, port.y_latency) == \
        (10, 8, 3, 12, 2, engine.Y_LATENCY)
    inner = engine.engine.signature.members
    for name in ("x_addr", "x_data", "y_addr", "y_data", "w_pe", "w_addr", "w_data"):
        if name in port.members or name in inner:
            assert Shape.cast(port.members[name].shape) == Shape.cast(inner[name].shape), name
    if weight_ram:
        assert list(port.weight_words) == [0 if pe is None else pe.n_entries for pe in engine.engine.pe]
        assert port.weight_bits == Shape.cast(inner["w_data"].shape).width


def test_link_top_joins_link_and_engine_through_the_port():
    top = _elaborated(build_link_top(_network(), 2, divisor=4, timeout=100, weight_ram="memory"))
    assert top.link.engine.signature == top.engine.signature.flip()
