"""Config fields that carry their own help text and choices, so the CLI, the validation and the
docs read one definition and cannot drift apart."""

from __future__ import annotations

from dataclasses import field, fields


def option(default, help: str, choices: tuple | None = None):
    """A dataclass field with a one-line `help` and, for a string setting, its `choices`."""
    metadata = {"help": help}
    if choices is not None:
        metadata["choices"] = tuple(choices)
    return field(default=default, metadata=metadata)


def check_choices(cfg) -> None:
    """ValueError naming the field and its choices for any setting outside them."""
    for f in fields(cfg):
        choices = f.metadata.get("choices")
        value = getattr(cfg, f.name)
        if choices is not None and value not in choices:
            raise ValueError(f"unknown {f.name} {value!r}: use one of {', '.join(map(str, choices))}")


def positive_int(name: str, value) -> None:
    """ValueError unless `value` is an int >= 1 (bools are refused: True is not a size)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
