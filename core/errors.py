"""The core's one user-facing exception type."""


class CoreError(ValueError):
    """Input the core cannot work with (unknown backbone, unreadable weights, unknown layer).

    The message names the problem and the fix; the command line shows it as one line.
    """
