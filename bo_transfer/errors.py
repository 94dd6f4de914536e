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


def error_line(exc: BaseException, prefix: str = "") -> str:
    """``"[prefix: ]Type: message"``, first line only: how an error is shown and
    stored everywhere (summary, store, fallback lists, plugin failures)."""
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return f"{prefix}: {text}" if prefix else text
