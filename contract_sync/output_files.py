"""Files and folders a command writes for a person (reports, exports): a file whole or not
at all, and a failure of the operating system as one line naming the path."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

from contract_sync.errors import UserError


class OutputError(UserError, OSError):
    """A file or folder that could not be written; nothing of a file is left behind."""


def write_whole(path: Path, text: str) -> None:
    """Write `text` to `path` through a file beside it renamed into place, so that a
    failure leaves no half-written file. A path that is not a regular file (a terminal,
    /dev/stdout, a pipe) is written directly."""
    path = Path(path)
    if path.exists() and not path.is_file():
        _attempt(path, lambda: path.write_text(text, encoding="utf-8"))
        return
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        _attempt(path, lambda: _write_new(partial, text))
        _attempt(path, lambda: os.replace(partial, path))
    finally:
        with suppress(OSError):  # gone already when it was renamed, or never made
            partial.unlink()


def make_folder(path: Path) -> None:
    """A folder and its parents, as mkdir -p makes them."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot make the folder {path}: {reason(error, path)}") from None


def reason(error: OSError, path: Path) -> str:
    """Why the operating system refused `path`, in words that say what to change."""
    path = Path(path)
    missing = path.parent
    blocked = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        return f"{blocked} is not a folder"
    if isinstance(error, IsADirectoryError):
        return "it is a folder: give the name of a file"
    if isinstance(error, FileNotFoundError) and not missing.exists():
        return f"there is no folder {missing}"
    return error.strerror or str(error)


def _write_new(path: Path, text: str) -> None:
    with path.open("x", encoding="utf-8") as file:
        file.write(text)


def _attempt(path: Path, action) -> None:  # noqa: ANN001 - a call without arguments
    try:
        action()
    except OSError as error:
        raise OutputError(f"cannot write {path}: {reason(error, path)}") from None
