"""The SQL queries shipped with tfnas (package data: ``tfnas/queries/*.sql``), run by name.

``tfnas sql topk`` runs ``topk.sql`` from here, from any working directory: a bare name —
no ``.sql`` suffix, no path separator — names a shipped query (:func:`resolve`). Anything
else is a path to a ``.sql`` file of your own. Each file's header says what it returns.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from tfnas.errors import MissingFileError
from tfnas.messages import shorten

SUFFIX = ".sql"


def folder() -> Path:
    """The folder holding the shipped ``.sql`` files (in the installed package)."""
    return Path(str(resources.files(__name__)))


def names() -> list[str]:
    """The shipped queries' names (file names without ``.sql``), sorted."""
    return sorted(path.stem for path in folder().glob(f"*{SUFFIX}"))


def is_name(text: str) -> bool:
    """Whether ``text`` is a bare query name: no ``.sql`` suffix and no path separator."""
    separators = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return (bool(text) and text != "-" and not text.endswith(SUFFIX)
            and not any(sep in text for sep in separators))


def resolve(text: str | os.PathLike) -> Path:
    """The file ``tfnas sql`` runs for ``text``: a bare name (:func:`is_name`) is the shipped
    query of that name — or, when no query has that name, a file of that name in the working
    directory; anything else is taken as a path. A bare name that is neither is a one-line
    :class:`~tfnas.errors.MissingFileError` listing the shipped queries."""
    text = os.fspath(text)
    if not is_name(text):
        return Path(text)
    shipped = folder() / f"{text}{SUFFIX}"
    if shipped.is_file():
        return shipped
    if Path(text).is_file():
        return Path(text)
    raise MissingFileError(f"no shipped query {shorten(text)} and no file of that name; the "
                           f"shipped queries are {', '.join(names())} (e.g. `tfnas sql topk`), "
                           "or give the path of a .sql file")
