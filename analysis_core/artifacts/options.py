"""Command-line options generated from config dataclasses, so each default is declared once.

A config dataclass declares each option with :func:`option`: its default, its help text
and, where the type cannot be read from the default, its type. :func:`add_options` turns
the fields into argparse options and :func:`from_args` builds the dataclass back from the
parsed arguments; the default shown in ``--help`` is the dataclass's, so they cannot drift.
Validation stays with the dataclass (a ``validate`` method), used by the CLI and by Python
callers alike. A flag name means one thing in every command.

Torch-free: command modules import this at the top, and ``barlow --help`` must stay instant.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, Field, field, fields
from typing import Any, Callable, Iterable

# Spec grammars shown by every command that takes a data set or a model.
DATASET_SPEC_HELP = "fashion-mnist[:train|:test] | imagefolder:PATH | barlow-csv:PATH | imagenet:PATH[:train|:val]"
MODEL_SPEC_HELP = (
    "fmnist-robust | fmnist-standard | PATH.pt (Barlow or MadryLab checkpoint) | "
    "madry-ARCH:PATH | torchvision:ARCH[:WEIGHTS_PATH] | entrypoint:module:function"
)
QUIET_HELP = "no progress bars"


def option(
    default: Any = MISSING,
    help: str = "",
    *,
    default_factory: Callable[[], Any] | Any = MISSING,
    flags: tuple[str, ...] | None = None,
    metavar: str | None = None,
    choices: Iterable[Any] | None = None,
    type: Callable[[str], Any] | None = None,
    nargs: str | None = None,
    default_text: str | None = None,
) -> Field:
    """A dataclass field that is also a command-line option.

    ``flags`` default to ``--field-name``; ``default_text`` replaces the shown default
    (e.g. when None means "computed from the input size").
    """
    metadata = {
        "help": help,
        "flags": flags,
        "metavar": metavar,
        "choices": tuple(choices) if choices is not None else None,
        "type": type,
        "nargs": nargs,
        "default_text": default_text,
    }
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def option_fields(cls) -> list[Field]:
    return [f for f in fields(cls) if "help" in f.metadata]


def flags_of(f: Field) -> tuple[str, ...]:
    return f.metadata.get("flags") or ("--" + f.name.replace("_", "-"),)


def default_of(f: Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def add_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls,
    *,
    only: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    help: dict[str, str] | None = None,
    defaults: dict[str, Any] | None = None,
) -> None:
    """Add an option for each :func:`option` field of ``cls`` (``only``/``exclude`` pick fields by name).

    ``help`` replaces a field's help text in one command, for wording that names that
    command's use (the option and its meaning stay the same). ``defaults`` gives the
    defaults of a config that embeds ``cls`` with other settings (read from that config's
    own defaults, so they too are declared once).
    """
    wanted = set(only) if only is not None else None
    for f in option_fields(cls):
        if (wanted is not None and f.name not in wanted) or f.name in exclude:
            continue
        meta = f.metadata
        default = (defaults or {}).get(f.name, default_of(f))
        text = (help or {}).get(f.name, meta["help"])
        kwargs: dict[str, Any] = {"dest": f.name, "default": default}
        if isinstance(default, bool) and meta["type"] is None:
            kwargs["action"] = "store_false" if default else "store_true"
        else:
            kind = meta["type"] or (type(default) if default is not None and not isinstance(default, (list, tuple)) else None)
            if kind is not None:
                kwargs["type"] = kind
            if meta["nargs"]:
                kwargs["nargs"] = meta["nargs"]
            if meta["choices"] is not None:
                kwargs["choices"] = meta["choices"]
            if meta["metavar"]:
                kwargs["metavar"] = meta["metavar"]
            shown = meta["default_text"] if default == default_of(f) else None
            if shown is None and default is not None and default != "":
                shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
            if shown:
                text = f"{text} (default: {shown})"
        kwargs["help"] = text.replace("%", "%%")
        parser.add_argument(*flags_of(f), **kwargs)


def values_from_args(cls, args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`option` fields of ``cls`` found in ``args``, by field name."""
    return {f.name: getattr(args, f.name) for f in option_fields(cls) if hasattr(args, f.name)}


def from_args(cls, args: argparse.Namespace, **overrides: Any):
    """``cls`` built from parsed arguments (fields without an option keep their defaults)."""
    values = values_from_args(cls, args)
    values.update(overrides)
    return cls(**values)


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """``--quiet``: the same flag, with the same meaning, on every long-running command."""
    parser.add_argument("--quiet", action="store_true", help=QUIET_HELP)
