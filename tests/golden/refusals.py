"""How the golden loaders refuse a file: with one line that names the file first. For the contract tests of the
layer files, dense (test_layer.py) and sparse (test_sparse.py), and of bad files (test_bad_files.py)."""

import pytest

from mamhw.golden import ContractError

__all__ = ["refusal", "with_key"]


def refusal(load, *args):
    """The message with which `load(*args)` refuses the file `args[0]`, checked to be one line naming that file."""
    with pytest.raises(ContractError) as info:
        load(*args)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(args[0])), msg
    return msg


def with_key(arrays, key, value):
    """A copy of the file's `arrays` with `key` set to `value`, or left out where `value` is None."""
    arrays = dict(arrays)
    if value is None:
        del arrays[key]
    else:
        arrays[key] = value
    return arrays
