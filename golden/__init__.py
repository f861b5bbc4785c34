"""NumPy-only golden model: layer files, validation, reference forward pass, sparse encoding, row assignment to
PEs, cycle models."""

from ..plumbing import ContractError
from .layer import (MAX_ENTRIES, MAX_WIDTH, DENSE_VIEW_MAX, Layer, load_layer, save_layer, load_inputs, check_inputs,
                    save_array)
from .forward import forward
from .encode import PE_LATENCY, Encoding, encode, pe_cycles
from .network import Network, load_network, save_network, load_model, network_forward
from .assign import Assignment, assign
from .cycles import NetworkCycles, engine_cycles, network_cycles, plan_network

__all__ = ["ContractError", "MAX_ENTRIES", "MAX_WIDTH", "DENSE_VIEW_MAX", "Layer", "load_layer", "save_layer", "load_inputs", "check_inputs", "save_array",
           "forward", "PE_LATENCY", "Encoding", "encode", "pe_cycles",
           "Network", "load_network", "save_network", "load_model", "network_forward",
           "Assignment", "assign", "NetworkCycles", "engine_cycles", "network_cycles", "plan_network"]
