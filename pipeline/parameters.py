"""Luigi parameters that check what users type and name the flag when it is wrong.

Luigi reads an empty optional value (``--limit ""``) as "not given", i.e. everything, and
reports a bad integer without saying which flag it was; these parameters refuse an empty value
and any value out of range with a one-line ``ValueError`` that names the flag, before any work.
Comma lists take what users type (``--proxies naswot,synflow``, ``--seeds 0,1,2``; Luigi's own
``ListParameter`` wants JSON) and normalise to a canonical tuple (proxies in registry order,
seeds sorted), so the order typed does not change a task's identity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import luigi
from luigi.cmdline_parser import CmdlineParser

from tfnas.config import as_integer, check_seed
from tfnas.datasets import dataset_spec
from tfnas.messages import shorten
from tfnas.proxies import check_proxies
from tfnas.space import NUM_ARCHS


class _Checked:
    """Mixin: ``flag`` names the parameter in errors; empty text is refused; ``check``
    validates (and may convert) every value, typed or passed from Python."""

    def __init__(self, *args: Any, flag: str, check: Callable[[Any, str], Any] | None = None,
                 **kwargs: Any) -> None:
        self.flag, self.check = flag, check
        super().__init__(*args, **kwargs)

    def parse(self, text: str) -> Any:
        if isinstance(text, str) and not text.strip():
            raise ValueError(f"{self.flag} is empty; give a value or leave the flag out")
        return super().parse(text)

    def _parse_or_no_value(self, text: Any) -> Any:
        # Luigi turns an empty command-line value into "not given" before parse() sees it.
        if isinstance(text, str) and not text.strip():
            raise ValueError(f"{self.flag} is empty; give a value or leave the flag out")
        return super()._parse_or_no_value(text)

    def normalize(self, value: Any) -> Any:
        value = super().normalize(value)
        if value is not None and self.check is not None:
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
                raise ValueError(f"--{name.replace('_', '-')} is empty; give a value or leave "
                                 "the flag out")


def _integer(value: Any, flag: str) -> int:
    number = as_integer(value)
    if number is None:
        raise ValueError(f"{flag} must be an integer, got {shorten(value)}")
    return number


def in_range(low: int, high: int | None = None) -> Callable[[Any, str], int]:
    """A check: an integer in ``low..high`` (no upper bound when ``high`` is None)."""
    def check(value: Any, flag: str) -> int:
        number = _integer(value, flag)
        if number < low or (high is not None and number > high):
            bound = f"{low}..{high}" if high is not None else f"at least {low}"
            raise ValueError(f"{flag} must be an integer {bound}, got {shorten(value)}")
        return number
    return check


def device_name(value: Any, flag: str) -> str:
    """A check: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (whether that device is
    there is checked where the shard scores: asking CUDA here would initialise it before
    Luigi forks its workers)."""
    if not isinstance(value, str) or not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value):
        raise ValueError(f"{flag} must be auto, cpu, cuda, cuda:N or mps, got {shorten(value)}")
    return value


def known_dataset(value: Any, flag: str) -> str:
    """A check: a dataset name (the one-line error lists the valid ones)."""
    try:
        return dataset_spec(value).name
    except ValueError as err:
        raise ValueError(f"{flag}: {err}") from None


class Text(_Checked, luigi.Parameter):
    """A required or defaulted string, never empty."""

    def parse(self, text: str) -> str:  # luigi.Parameter.parse is the identity
        return _Checked.parse(self, text)


class OptionalText(_Checked, luigi.OptionalParameter):
    """A string or None (flag left out); an empty string is an error, not None."""


class Integer(_Checked, luigi.IntParameter):
    """An integer, checked by ``check`` (e.g. :func:`in_range`)."""

    def parse(self, text: str) -> int:
        return _integer(_Checked.parse(self, text), self.flag)


class OptionalInteger(_Checked, luigi.OptionalIntParameter):
    """An integer or None (flag left out); an empty string is an error, not None."""

    def parse(self, text: str) -> int:
        return _integer(_Checked.parse(self, text), self.flag)


class CommaList(_Checked, luigi.Parameter):
    """A tuple written ``a,b,c``; ``check`` validates and orders the items."""

    def parse(self, text: str) -> tuple[str, ...]:
        return tuple(item.strip() for item in _Checked.parse(self, text).split(","))

    def serialize(self, value: Iterable) -> str:
        return ",".join(map(str, value))

    def normalize(self, value: str | Iterable) -> tuple:
        items = self.parse(value) if isinstance(value, str) else tuple(value)
        return self.check(items, self.flag)


def proxy_list(items: tuple, flag: str) -> tuple[str, ...]:
    """A check: registered proxy names, in registry order."""
    return check_proxies(items, flag)


def seed_list(items: tuple, flag: str) -> tuple[int, ...]:
    """A check: seeds in 0..2^31-1 (:func:`tfnas.config.check_seed`), sorted, once each."""
    if not items:
        raise ValueError(f"{flag} is empty; give seeds like 0,1,2")
    return tuple(sorted({check_seed(item, flag) for item in items}))


LIMIT = in_range(1, NUM_ARCHS)
