"""mamhw: hardware for pruned Multiply-And-Max/min neural-network layers."""
