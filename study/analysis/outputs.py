"""Write a study analysis to a folder: summary.json, CSV tables, PNG figures, summary.html."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from analysis_core.artifacts.atomic import staged_dir
from analysis_core.artifacts.descriptions import DESCRIPTIONS_FILE, write_descriptions
from analysis_core.artifacts.judgements import JUDGEMENTS_FILE, write_judgements
from study.analysis.pipeline import StudyAnalysis

TABLES = {
    "per_item.csv": "per_item",
    "per_worker.csv": "per_worker",
    "per_question.csv": "per_question",
    "choice_distribution.csv": "choice_distribution",
    "likert_curves.csv": "likert_curves",
}


def to_json(value):
    """Plain JSON types: NumPy scalars unwrapped, NaN and infinities as null."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_outputs(result: StudyAnalysis, out_dir: str | Path, threshold: float = 3.0) -> list[str]:
    """Write every output into ``out_dir`` at once (a failed run leaves the folder as it was)."""
    from study.analysis.html import render_summary
    from study.analysis.plots import write_plots

    written: list[str] = []
    with staged_dir(out_dir) as stage:
        for name, attribute in TABLES.items():
            frame = getattr(result, attribute)
            if frame is not None and not frame.empty:
                frame.to_csv(stage / name, index=False)
                written.append(name)
        if result.feature_descriptions is not None:
            write_descriptions(result.feature_descriptions, stage / DESCRIPTIONS_FILE)
            written.append(DESCRIPTIONS_FILE)
        review = result.review
        if review is not None:
            if review.failure_modes is not None and not review.failure_modes.empty:
                write_judgements(review.failure_modes, stage / JUDGEMENTS_FILE)
                written.append(JUDGEMENTS_FILE)
            for name, frame in (("spurious_by_grouping.csv", review.by_grouping),
                                ("spurious_by_class.csv", review.by_class), ("action_items.csv", review.action_items),
                                ("survey.csv", review.survey)):
                if frame is not None and not frame.empty:
                    frame.to_csv(stage / name, index=False)
                    written.append(name)
        tables = list(written)
        figures = write_plots(result, stage, threshold)
        if review is not None:
            from study.analysis.review_plots import write_review_plots

            figures.update(write_review_plots(review, stage, result.review_scale, result.review_scale_labels))
        written.extend(figures.values())
        summary = to_json({**result.summary, "files": {"tables": tables, "figures": figures, "page": "summary.html"}})
        (stage / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append("summary.json")
        (stage / "summary.html").write_text(render_summary(result, summary, figures, threshold), encoding="utf-8")
        written.append("summary.html")
    return written
