"""The ``barlow`` command: one entry point, one subcommand per job.

Each subcommand lives in its own module with ``HELP`` (one line), an optional
``DESCRIPTION``, ``add_arguments(parser)`` and ``run(args) -> int | None``. Command
modules import heavy libraries (torch, pandas, flask) inside ``run`` so that
``barlow --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from analysis_core import __version__
from analysis_core.errors import BarlowError

COMMANDS = {
    "demo": "analysis_core.commands.demo",
    "analyze": "analysis_core.commands.analyze",
    "extract": "analysis_core.commands.extract",
    "train": "analysis_core.commands.train",
    "evaluate": "analysis_core.commands.evaluate",
    "visualize": "analysis_core.commands.visualize",
    "report": "analysis_core.commands.report",
    "experiments": "analysis_core.commands.experiments",
    "reproduce": "analysis_core.commands.reproduce",
}

STUDY_COMMANDS = {
    "create": "study.commands.create",
    "serve": "study.commands.serve",
    "export": "study.commands.export",
    "analyze": "study.commands.analyze",
    "publish": "study.commands.publish",
    "status": "study.commands.status",
    "collect": "study.commands.collect",
    "review": "study.commands.review",
    "bonus": "study.commands.bonus",
    "expire": "study.commands.expire",
}


def _load(module_name: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # A command whose module is not part of this installation is left out; any
        # other missing import is a real error and must show.
        if exc.name == module_name:
            return None
        raise


def _add_commands(subparsers, table: dict[str, str]) -> None:
    for name, module_name in table.items():
        module = _load(module_name)
        if module is None:
            continue
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
