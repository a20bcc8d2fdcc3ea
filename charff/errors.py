"""The two ways charff ends early on purpose, so the CLI can print one line and exit."""


class CharffError(Exception):
    """A problem the user can fix; its message says how (exit status 2)."""


class Stopped(Exception):
    """Work stopped on SIGINT or SIGTERM after saving what it had (exit status 128 + signal)."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
