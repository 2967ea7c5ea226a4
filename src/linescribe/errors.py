"""Errors a user can act on: each message names the file (or line id) and the problem.

The CLI prints them as one line and exits with status 2; anything else is a bug.
"""

from __future__ import annotations


def printable(text: str) -> str:
    """The text with invisible characters escaped, for the parts of a message that come from the
    data: a line id from a CSV cell or an XML attribute may hold a newline or a NUL, and the
    message must stay one readable line."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


class LinescribeError(Exception):
    """Base class: a problem with the user's input, not with linescribe."""


class ImageError(LinescribeError):
    """An image that cannot be read, is empty, or is too large to decode safely."""


class DatasetError(LinescribeError):
    """A dataset that cannot be read at all (missing split file, unknown format, ...)."""


class ModelFileError(LinescribeError):
    """A model file that is missing, damaged, or describes an unknown architecture."""


class AlphabetError(LinescribeError):
    """Text with characters the model cannot write, or an empty alphabet."""
