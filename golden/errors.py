"""The one error type for input that breaks the layer contract."""


class ContractError(ValueError):
    """Input outside the layer contract (DESIGN.md section 2).

    The message is one line that names the file or key and the problem; the CLI prints it as is and exits 2.
    """
