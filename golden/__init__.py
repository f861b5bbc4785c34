"""NumPy-only golden model: layer files, validation, reference forward pass, sparse encoding, cycle model."""

from .errors import ContractError
from .layer import Layer, load_layer, save_layer, load_inputs, check_inputs, save_array
from .forward import forward
from .encode import PE_LATENCY, Encoding, encode, pe_cycles
from .network import Network, load_network, save_network, load_model, network_forward

__all__ = ["ContractError", "Layer", "load_layer", "save_layer", "load_inputs", "check_inputs", "save_array",
           "forward", "PE_LATENCY", "Encoding", "encode", "pe_cycles",
           "Network", "load_network", "save_network", "load_model", "network_forward"]
