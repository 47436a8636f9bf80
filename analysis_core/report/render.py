"""Write the HTML report: index.html, one page per group, and the pictures it shows."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from markupsafe import Markup
from tqdm import tqdm

from analysis_core import __version__
from analysis_core.artifacts import VISUALIZATIONS_DIR, read_manifest
from analysis_core.artifacts.atomic import staged_dir
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.resources import templates_dir
from analysis_core.feature_provenance import random_weights_warning
from analysis_core.report.context import ReportData, index_rows, load_report_data


def environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    folder = templates_dir() / "report"
    if not folder.is_dir():
        raise BarlowError(f"report templates not found in {folder}")
    # Autoescaping everywhere: class names and descriptions come from users and crowds.
    return Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _link_or_copy(source: Path, target: Path) -> None:
    """Hard-link when possible (no extra disk), else copy: the report folder stays self-contained."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _used_pictures(data: ReportData) -> list[str]:
    paths: set[str] = set()
    for group in data.groups:
        for f in group["split_features"] + group["other_features"]:
            if f["vis"]:
                paths.update(f["vis"][s] for s in "ABC")
        for leaf in group["leaves"]:
            if leaf["samples"]:
                paths.add(leaf["samples"]["samples"])
    return sorted(paths)


def _meta(data: ReportData) -> dict:
    features = data.trees.inputs.get("features")
    manifest = read_manifest(Path(features).parent) if features else {}
    return {
        "title": manifest.get("dataset") or data.analysis_dir.name,
        "analysis_dir": str(data.analysis_dir),
        "dataset": manifest.get("dataset") or data.visualizations.dataset,
        "features_model": manifest.get("features_model") or data.visualizations.features_model,
        "inspect_model": manifest.get("inspect_model"),
        "features_warning": random_weights_warning(manifest),
    }


def write_report(data: ReportData, out_dir: str | Path, progress: bool = True) -> Path:
    """Render ``data`` into ``out_dir``; returns the path of index.html.

    Pages share nothing external: CSS and JavaScript are inline and the pictures are
    placed under ``out_dir/visualizations``, so the folder can be zipped, opened from disk
    or served as it is.
    """
    env = environment()
    folder = templates_dir() / "report"
    common = {
        # Our own files, not user data: mark them safe so autoescaping leaves them intact.
        "css": Markup((folder / "report.css").read_text()),
        "version": __version__,
        "meta": _meta(data),
        "descriptions": data.descriptions,
        "k": int(data.visualizations.params.get("k", 6)),
    }
    out_dir = Path(out_dir)
    vis_root = data.analysis_dir / VISUALIZATIONS_DIR
    group_page = env.get_template("group.html")
    with staged_dir(out_dir) as stage:
        index = env.get_template("index.html").render(
            root="",
            rows=index_rows(data),
            summary=data.summary,
            skipped=data.skipped,
            params=data.trees.params,
            js=Markup((folder / "report.js").read_text()),
            **common,
        )
        (stage / "index.html").write_text(index, encoding="utf-8")
        (stage / "groups").mkdir()
        for group in tqdm(data.groups, desc="report pages", unit="group", disable=not progress, leave=False):
            html = group_page.render(root="../", group=group, **common)
            (stage / group["href"]).write_text(html, encoding="utf-8")
        if vis_root.resolve() != (out_dir / VISUALIZATIONS_DIR).resolve():
            for rel in _used_pictures(data):
                source = vis_root / rel
                if source.is_file():
                    _link_or_copy(source, stage / VISUALIZATIONS_DIR / rel)
    return out_dir / "index.html"


def build_report(analysis_dir: str | Path, out_dir: str | Path | None = None, descriptions: str | Path | None = None, progress: bool = True,
                 judgements: str | Path | None = None) -> tuple[Path, ReportData]:
    """Read an analysis folder and write its report (default: ``<analysis_dir>/report``)."""
    data = load_report_data(analysis_dir, descriptions, judgements)
    out = Path(out_dir) if out_dir else Path(analysis_dir) / "report"
    return write_report(data, out, progress=progress), data
