"""Luigi parameters that check what users type and name the flag when it is wrong.

Luigi reads an empty optional value (``--limit ""``) as "not given", i.e. everything, and
reports a bad integer without saying which flag it was; these parameters refuse an empty value
and any value out of range with a one-line ``ValueError`` that names the flag, before any work.
Comma lists take what users type (``--proxies naswot,synflow``, ``--seeds 0,1,2``; Luigi's own
``ListParameter`` wants JSON) and normalise to a canonical tuple (proxies in registry order,
seeds sorted), so the order typed does not change a task's identity.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import luigi
from luigi.cmdline_parser import CmdlineParser
from luigi.retcodes import retcode

from tfnas.config import as_integer, check_seed
from tfnas.datasets import dataset_spec
from tfnas.errors import UserError
from tfnas.messages import shorten
from tfnas.proxies import check_proxies
from tfnas.space import NUM_ARCHS


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """On Luigi's command line, a :class:`~tfnas.errors.UserError` raised inside the block
    (a bad flag, missing data, an unusable database: what the user typed) is printed as one
    line and ends the command with Luigi's exit status for an unhandled exception (40 with
    the repository's luigi.cfg), before any work. Any other exception is a bug and keeps its
    traceback; in Python (no command line) the ``UserError`` itself propagates."""
    try:
        yield
    except UserError as err:
        if CmdlineParser.get_instance() is None:
            raise
        print(f"ERROR: {type(err).__name__}: {' '.join(str(err).split())}", file=sys.stderr)
        raise SystemExit(retcode().unhandled_exception) from None


class _Checked:
    """Mixin: ``flag`` names the parameter in errors; empty text is refused; ``check``
    validates (and may convert) every value, typed or passed from Python. ``parse`` (what
    Luigi's command line calls) reports a bad value as one line (:func:`one_line_errors`)."""

    def __init__(self, *args: Any, flag: str, check: Callable[[Any, str], Any] | None = None,
                 **kwargs: Any) -> None:
        self.flag, self.check = flag, check
        super().__init__(*args, **kwargs)

    def parse(self, text: str) -> Any:
        with one_line_errors():
            return self.convert(self.nonempty(text))

    def nonempty(self, text: str) -> str:
        if isinstance(text, str) and not text.strip():
            raise UserError(f"{self.flag} is empty; give a value or leave the flag out")
        return text

    def convert(self, text: str) -> Any:
        """The value of command-line ``text`` (not empty)."""
        return super().parse(text)

    def _parse_or_no_value(self, text: Any) -> Any:
        # Luigi turns an empty command-line value into "not given" before parse() sees it.
        with one_line_errors():
            self.nonempty(text)
        return super()._parse_or_no_value(text)

    def normalize(self, value: Any) -> Any:
        value = super().normalize(value)
        if value is not None and self.check is not None:
            with one_line_errors():
                value = self.check(value, self.flag)
        return value


def refuse_empty_flags(task: type[luigi.Task]) -> None:
    """One-line ``ValueError`` for a flag of ``task`` given an empty value on the command line
    (``--limit ""``): Luigi drops empty values of the task it runs as if never given."""
    parser = CmdlineParser.get_instance()
    if parser is None:
        return
    for name, _ in task.get_params():
        for dest in (name, f"{task.get_task_family()}_{name}"):
            value = getattr(parser.known_args, dest, None)
            if isinstance(value, str) and not value.strip():
                raise UserError(f"--{name.replace('_', '-')} is empty; give a value or leave "
                                 "the flag out")


def _integer(value: Any, flag: str) -> int:
    number = as_integer(value)
    if number is None:
        raise UserError(f"{flag} must be an integer, got {shorten(value)}")
    return number


def in_range(low: int, high: int | None = None) -> Callable[[Any, str], int]:
    """A check: an integer in ``low..high`` (no upper bound when ``high`` is None)."""
    def check(value: Any, flag: str) -> int:
        number = _integer(value, flag)
        if number < low or (high is not None and number > high):
            bound = f"{low}..{high}" if high is not None else f"at least {low}"
            raise UserError(f"{flag} must be an integer {bound}, got {shorten(value)}")
        return number
    return check


def device_name(value: Any, flag: str) -> str:
    """A check: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (whether that device is
    there is checked where the shard scores: asking CUDA here would initialise it before
    Luigi forks its workers)."""
    if not isinstance(value, str) or not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value):
        raise UserError(f"{flag} must be auto, cpu, cuda, cuda:N or mps, got {shorten(value)}")
    return value


def known_dataset(value: Any, flag: str) -> str:
    """A check: a dataset name (the one-line error lists the valid ones)."""
    try:
        return dataset_spec(value).name
    except ValueError as err:
        raise UserError(f"{flag}: {err}") from None


class Text(_Checked, luigi.Parameter):
    """A required or defaulted string, never empty."""


class OptionalText(_Checked, luigi.OptionalParameter):
    """A string or None (flag left out); an empty string is an error, not None."""


class Integer(_Checked, luigi.IntParameter):
    """An integer, checked by ``check`` (e.g. :func:`in_range`)."""

    def convert(self, text: str) -> int:
        return _integer(text, self.flag)


class OptionalInteger(_Checked, luigi.OptionalIntParameter):
    """An integer or None (flag left out); an empty string is an error, not None."""

    def convert(self, text: str) -> int:
        return _integer(text, self.flag)


class CommaList(_Checked, luigi.Parameter):
    """A tuple written ``a,b,c``; ``check`` validates and orders the items."""

    def convert(self, text: str) -> tuple[str, ...]:
        return tuple(item.strip() for item in text.split(","))

    def serialize(self, value: Iterable) -> str:
        return ",".join(map(str, value))

    def normalize(self, value: str | Iterable) -> tuple:
        with one_line_errors():
            items = self.convert(self.nonempty(value)) if isinstance(value, str) \
                else tuple(value)
            return self.check(items, self.flag)


def proxy_list(items: tuple, flag: str) -> tuple[str, ...]:
    """A check: registered proxy names, in registry order."""
    return check_proxies(items, flag)


def seed_list(items: tuple, flag: str) -> tuple[int, ...]:
    """A check: seeds in 0..2^31-1 (:func:`tfnas.config.check_seed`), sorted, once each."""
    if not items:
        raise UserError(f"{flag} is empty; give seeds like 0,1,2")
    return tuple(sorted({check_seed(item, flag) for item in items}))


LIMIT = in_range(1, NUM_ARCHS)
