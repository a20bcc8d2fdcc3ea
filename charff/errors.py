"""One exception type for bad user input, so the CLI can print one line and exit 2."""


class CharffError(Exception):
    """A problem the user can fix; its message says how."""
