"""The command line's own error: a problem with the input or the files, reported in one
line (exit code 2)."""
from __future__ import annotations

EXIT_BAD_INPUT = 2


class CLIError(Exception):
    """A problem to report in one line."""
