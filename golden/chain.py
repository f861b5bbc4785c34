"""What a layer and a chain of layers are, whatever numbers they hold.

golden's integer Layer and Network and the model side's float Dense and MLP share this protocol: a layer's shape
comes from its ``weight [out, in]``; a chain is a non-empty ordered list of layers in which each layer takes the
previous one's outputs.
"""

from ..plumbing import ContractError

__all__ = ["Shaped", "Chain", "check_chain"]


class Shaped:
    """A layer whose ``weight`` is ``[out, in]``."""

    @property
    def n_out(self):
        return self.weight.shape[0]

    @property
    def n_in(self):
        return self.weight.shape[1]

    @property
    def size(self):
        """Interconnections, pruned or not: ``out * in``."""
        return self.weight.size


class Chain:
    """A sequence over ``self.layers`` (a list checked by :func:`check_chain`)."""

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, k):
        return self.layers[k]

    @property
    def n_in(self):
        return self.layers[0].n_in

    @property
    def n_out(self):
        return self.layers[-1].n_out


def check_chain(layers, where, bits=False):
    """``layers`` as a list, or a ContractError naming the first break: none at all, or a layer whose input
    count differs from the previous one's output count (with ``bits``, also ``in_bits`` against ``out_bits``)."""
    layers = list(layers)
    if not layers:
        raise ContractError(f"{where}: a network needs at least one layer")
    for k in range(1, len(layers)):
        prev, cur = layers[k - 1], layers[k]
        if cur.n_in != prev.n_out:
            raise ContractError(f"{where}: layer {k} takes {cur.n_in} inputs but layer {k - 1} gives "
                                f"{prev.n_out} outputs")
        if bits and cur.in_bits != prev.out_bits:
            raise ContractError(f"{where}: layer {k} in_bits={cur.in_bits} does not match layer {k - 1} "
                                f"out_bits={prev.out_bits}")
    return layers
