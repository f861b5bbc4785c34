"""Yosys JSON parameters and names as Python values, and the generator's one error."""

import re

__all__ = ["Unsupported", "param", "param_bits", "mask", "cname"]


class Unsupported(Exception):
    """The netlist uses something this generator does not model (the caller falls back to CXXRTL)."""


def param(value):
    """A JSON parameter (binary string, MSB first, x/z read as 0; or an int) as an int."""
    if isinstance(value, int):
        return value
    value = value.strip()
    if not value:
        return 0
    if set(value) <= set("01xz"):
        return int(value.replace("x", "0").replace("z", "0"), 2)
    raise Unsupported(f"parameter value {value[:40]!r} is not a bit string")


def param_bits(value, width):
    v = param(value)
    return [(v >> i) & 1 for i in range(width)]


def mask(width):
    return (1 << width) - 1


def cname(name):
    return re.sub(r"\W", "_", name)
