"""barlow report: the HTML failure report of an analysis folder."""

from __future__ import annotations

import argparse

from analysis_core.artifacts.options import QUIET_HELP

HELP = "write (and optionally serve) the HTML failure report of an analysis"
DESCRIPTION = """\
Write a self-contained HTML report of an analysis folder: an index of all groups sortable by
ALER-BER, error rate and failures; a page per group with its failure tree, one sentence per
valid failure mode in the paper's words, the A/B/C views of every split feature and random
failures from each leaf. Opens from disk (file://) or with --serve.

Feature descriptions (feature_descriptions.csv from 'barlow study analyze', in the analysis
folder or given with --descriptions) replace bare feature indices in the sentences.

Crowd judgements of the failure modes (failure_judgements.csv from 'barlow study analyze'
of a failure-review study, in the analysis folder or given with --judgements) appear beside
each failure mode ("judged spurious by 4 of 5 reviewers"); the index can then keep only the
groups with a failure mode judged spurious.

example: barlow report --analysis runs/analysis --serve
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--analysis", required=True, metavar="DIR", help="analysis folder written by 'barlow analyze'")
    parser.add_argument("--out", metavar="DIR", help="report folder (default: DIR/report)")
    parser.add_argument("--descriptions", metavar="CSV", help="feature_descriptions.csv (default: DIR/feature_descriptions.csv if present)")
    parser.add_argument("--judgements", metavar="CSV", help="failure_judgements.csv (default: DIR/failure_judgements.csv if present)")
    parser.add_argument("--serve", action="store_true", help="serve the report over HTTP after writing it")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8050, help="port to serve on (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help=QUIET_HELP)


def run(args: argparse.Namespace) -> int:
    from analysis_core.report import build_report, summary_paragraph

    index, data = build_report(args.analysis, args.out, args.descriptions, progress=not args.quiet, judgements=args.judgements)
    features = data.trees.inputs.get("features")
    if features:
        from pathlib import Path

        from analysis_core.artifacts import read_manifest
        from analysis_core.feature_provenance import random_weights_warning

        warning = random_weights_warning(read_manifest(Path(features).parent))
        if warning:
            print(warning)
    print(summary_paragraph(data))
    print(f"report: {index.resolve()}")
    if args.serve:
        import waitress

        from analysis_core.report.server import create_app

        print(f"serving on http://{args.host}:{args.port}/ (Ctrl+C to stop)")
        waitress.serve(create_app(index.parent), host=args.host, port=args.port)
    return 0
