"""The ``barlow`` command: one entry point, one subcommand per job.

Each subcommand lives in its own module with ``HELP`` (one line), an optional
``DESCRIPTION``, ``add_arguments(parser)`` and ``run(args) -> int | None``. Command
modules import heavy libraries (torch, pandas, flask) inside ``run`` so that
``barlow --help`` stays instant.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from analysis_core import __version__
from analysis_core.artifacts.errors import BarlowError
from barlow.commands import (
    analyze,
    demo,
    evaluate,
    experiments,
    extract,
    report,
    reproduce,
    train,
    visualize,
)
from barlow.commands.study import analyze as study_analyze
from barlow.commands.study import bonus as study_bonus
from barlow.commands.study import collect as study_collect
from barlow.commands.study import create as study_create
from barlow.commands.study import expire as study_expire
from barlow.commands.study import export as study_export
from barlow.commands.study import publish as study_publish
from barlow.commands.study import review as study_review
from barlow.commands.study import serve as study_serve
from barlow.commands.study import status as study_status

COMMANDS = {
    "demo": demo,
    "analyze": analyze,
    "extract": extract,
    "train": train,
    "evaluate": evaluate,
    "visualize": visualize,
    "report": report,
    "experiments": experiments,
    "reproduce": reproduce,
}

STUDY_COMMANDS = {
    "create": study_create,
    "serve": study_serve,
    "export": study_export,
    "analyze": study_analyze,
    "publish": study_publish,
    "status": study_status,
    "collect": study_collect,
    "review": study_review,
    "bonus": study_bonus,
    "expire": study_expire,
}


def _add_commands(subparsers, table: dict[str, ModuleType]) -> None:
    for name, module in table.items():
        parser = subparsers.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(parser)
        parser.set_defaults(_run=module.run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="barlow",
        description=(
            "Barlow explains where and why an image classifier fails: robust features, "
            "failure trees, feature visualizations and crowd studies that check them."
        ),
        epilog="Start with 'barlow demo' for the whole pipeline on the shipped Fashion-MNIST data.",
    )
    parser.add_argument("--version", action="version", version=f"barlow {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_commands(subparsers, COMMANDS)

    study = subparsers.add_parser(
        "study",
        help="create, serve, export and analyse crowd studies of feature visualizations",
        description="Crowd studies: create HITs from an analysis, serve them, export and analyse the answers.",
    )
    study_sub = study.add_subparsers(title="study commands", metavar="STUDY_COMMAND")
    _add_commands(study_sub, STUDY_COMMANDS)
    study.set_defaults(_run=lambda args: study.print_help() or 2)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    try:
        status = args._run(args)
    except BarlowError as exc:
        print(f"barlow: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("barlow: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
