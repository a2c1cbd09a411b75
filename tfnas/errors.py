"""The one exception type for mistakes in what a user gave tfnas, and its kinds.

Every validator (a bad architecture string, an unknown dataset, a missing or corrupt file or
database, a bad argument) raises :class:`UserError` with a one-line message that names the
problem and the fix. ``tfnas`` (:func:`tfnas.cli.main`) and the pipeline's command line print
that line and exit 2 / 40; they catch nothing else, so any other exception is a bug and keeps
its traceback and a non-zero exit.

``UserError`` is a ``ValueError`` (most are bad values); the kinds about files are also the
``OSError`` a caller would expect (``FileNotFoundError``, ``PermissionError``).
"""

from __future__ import annotations


class UserError(ValueError):
    """What the user gave cannot be used; the message is one line with the fix."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder the user named (or a default location) does not exist."""


class UnwritableError(UserError, PermissionError):
    """A place the user asked tfnas to write cannot be written."""
