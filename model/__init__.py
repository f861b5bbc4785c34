"""The model side: float training of MAM/MAC MLPs, pruning, quantization to the layer contract, offline data
sets and import of networks trained elsewhere (PyTorch state dicts). It produces what golden checks."""
