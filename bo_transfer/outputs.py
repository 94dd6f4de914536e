"""Output paths given by the user: one-line errors before anything is written."""

from __future__ import annotations

from pathlib import Path

from bo_transfer.errors import UserError


def _under_a_file(path: Path, flag: str) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{flag} {str(path)!r} lies under {str(parent)!r}, a file")
            return


def check_folder(path: Path, flag: str = "--out") -> None:
    """``path`` can be (or become) a folder: it is not a file nor under one."""
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {str(path)!r} is a file; give a folder")
    _under_a_file(path, flag)


def check_file(path: Path, flag: str = "--out") -> None:
    """``path`` can be (or become) a file: it is not a folder nor under a file."""
    if path.is_dir():
        raise UserError(f"{flag} {str(path)!r} is a folder; give a file name")
    _under_a_file(path, flag)
