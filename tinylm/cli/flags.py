"""Command-line flags read from the config dataclasses themselves: one flag per field, typed
from its annotation, with the field's own help and choices, so the CLI cannot drift from the
configs. Usage errors come in one line (`OneLineParser`).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing

from tinylm.core.data import DataConfig
from tinylm.core.models import ModelConfig
from tinylm.core.schedule import TrainConfig

# Short flag names for the fields people type most; every other field is --field-name.
RENAMES = {"budget_s": "budget", "vocab_size": "vocab", "max_train_bytes": "max-train-bytes"}
HIDDEN = {"cache_dir"}


def add_dataclass_flags(parser: argparse.ArgumentParser, cls, skip=()) -> None:
    """One flag per dataclass field, typed from its annotation, with the field's own help and
    choices (`options.option`), defaulting to None (unset: the config's default applies)."""
    group = parser.add_argument_group(cls.__name__, (cls.__doc__ or "").splitlines()[0])
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + RENAMES.get(f.name, f.name.replace("_", "-"))
        kind = hints[f.name]
        if isinstance(kind, types.UnionType):  # int | None; int | str: a number or "auto"
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        auto = f.default == "auto" and kind is not str  # ModelConfig.width
        if typing.get_origin(kind) is tuple:  # TrainConfig.sample_at_s: 5,30,60
            group.add_argument(flag, dest=f.name, type=_numbers, default=None, metavar="S,S,...",
                               help=f"{f.metadata.get('help', '')} (comma-separated)")
            continue
        text = f"{f.metadata.get('help', '')} (default {f.default})".strip()
        if kind is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                               default=None, help=text)
        elif "choices" in f.metadata:
            group.add_argument(flag, dest=f.name, choices=f.metadata["choices"], default=None,
                               help=text)
        else:
            group.add_argument(flag, dest=f.name, type=_number(kind, auto), default=None,
                               metavar=kind.__name__.upper() + ("|auto" if auto else ""),
                               help=text)


def _numbers(text: str) -> tuple[float, ...]:
    """'5,30,60' -> (5.0, 30.0, 60.0)."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not comma-separated numbers") from None


def _number(kind, auto: bool = False):
    if auto:  # a number or the word "auto" (the value follows the budget)
        plain = _number(kind)
        def number_or_auto(s: str):
            return "auto" if s == "auto" else plain(s)
        number_or_auto.__name__ = plain.__name__ + " or auto"
        return number_or_auto
    if kind is int:
        def parse_int(s: str) -> int:
            return int(float(s)) if float(s).is_integer() else int(s)  # allows 5e7
        parse_int.__name__ = "integer"
        return parse_int
    return kind


def pick(cls, args: argparse.Namespace, base: dict | None = None):
    """Build a dataclass from the flags that were given, over `base` values."""
    values = dict(base or {})
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in values.items() if k in names}
    values.update({k: v for k, v in vars(args).items() if k in names and v is not None})
    return cls(**values)


def given(args: argparse.Namespace) -> dict:
    """The config settings among the flags that were given on the command line."""
    names = {f.name for cls in (DataConfig, ModelConfig, TrainConfig)
             for f in dataclasses.fields(cls)}
    return {k: v for k, v in vars(args).items() if k in names and v is not None}


class OneLineParser(argparse.ArgumentParser):
    """Usage errors in one line too (argparse prints the whole usage first): what was wrong,
    and where to read the rest."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")
