"""Errors a user can cause, kept apart from bugs so the CLI can print one line."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: unknown name, malformed spec, bad flag.

    The CLI prints the message as one line and exits with code 2; nothing is
    written before the input has been validated.
    """


class SpecError(UserError):
    """A sweep spec is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))
