"""One-line error messages: user input shortened before it is echoed, exceptions flattened."""

from __future__ import annotations

import re
import reprlib

_REPR = reprlib.Repr()  # keyword arguments only from Python 3.12
_REPR.maxstring = _REPR.maxother = 60


def shorten(value: object) -> str:
    """``repr(value)`` cut to about 60 characters (a 10,000-character argument is not echoed
    whole), e.g. ``'|nor_conv_3x3~0|+|non...e~2|'``."""
    return _REPR.repr(value)


def shorten_words(text: str) -> str:
    """``text`` with every run of over 60 non-space characters cut to its two ends (for messages
    written by others, e.g. argparse's, that echo what was typed)."""
    return re.sub(r"\S{61,}", lambda m: f"{m[0][:28]}...{m[0][-28:]}", text)


def one_line(err: BaseException) -> str:
    """``Type: message`` on one line (newlines and runs of spaces collapsed)."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
