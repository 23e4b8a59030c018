"""Frozen-dataclass configs and the argparse flags generated from them.

Every field declares its help text in ``metadata={"help": ...}``; ``add_config_args`` turns the
fields into ``--flag-name`` options (booleans get ``--flag/--no-flag``, tuples take
comma-separated values) and ``config_from_args`` builds the dataclass back.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any


def field(default: Any, help: str, **kw) -> Any:  # noqa: A002 - mirrors argparse
    """A dataclass field with its CLI help text."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples for sequence defaults")
    return dataclasses.field(default=default, metadata={"help": help, **kw})


def _tuple_of(elem_type):
    def parse(s: str):
        try:
            return tuple(elem_type(v) for v in s.split(",") if v.strip() != "")
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"expected comma-separated {elem_type.__name__}s, got {s!r}") from e
    return parse


def add_config_args(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = (),
                    defaults: Any = None) -> None:
    """Adds one ``--flag`` per field of the dataclass ``cls`` (except ``skip``). ``defaults``: an
    instance of ``cls`` (e.g. a preset) whose values are the flags' defaults, shown by --help;
    None: the dataclass's own defaults."""
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(f"{cls.__name__} options")
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        flag = "--" + f.name.replace("_", "-")
        typ = hints[f.name]
        default = f.default if defaults is None else getattr(defaults, f.name)
        help_ = f.metadata.get("help", "") + f" (default: {default})"
        if typ is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default, help=help_)
        elif typing.get_origin(typ) is tuple:
            elem = typing.get_args(typ)[0]
            group.add_argument(flag, dest=f.name, type=_tuple_of(elem), default=default, help=help_,
                               metavar="A,B,...")
        else:
            choices = f.metadata.get("choices")
            group.add_argument(flag, dest=f.name, type=typ, default=default, help=help_, choices=choices)


def preset_name(argv: list[str] | None, presets, default: str | None, flag: str = "--preset") -> str | None:
    """First pass of a two-pass parser: the ``--preset`` (or ``flag``) named in ``argv`` (None:
    sys.argv), or ``default`` when absent or not in ``presets`` (None: any value is taken); the full
    parser, built with that preset's values as its defaults, then reports an unknown name."""
    pre = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    pre.add_argument(flag, dest="preset", default=default)
    try:
        name = pre.parse_known_args(argv)[0].preset
    except argparse.ArgumentError:  # e.g. --preset without a name: the full parser says so
        return default
    return name if presets is None or name in presets else default


def config_from_args(cls: type, args: argparse.Namespace, **overrides) -> Any:
    kw = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    kw.update(overrides)
    return cls(**kw)


def config_to_dict(cfg: Any) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}


def config_from_dict(cls: type, d: dict) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kw = {k: tuple(v) if typing.get_origin(hints[k]) is tuple else v for k, v in d.items() if k in names}
    return cls(**kw)
