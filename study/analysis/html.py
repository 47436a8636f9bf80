"""The HTML summary page (Jinja2 with autoescaping: worker text is untrusted)."""

from __future__ import annotations

import math

from study.analysis.pipeline import REPRESENTATIVE_RULE, StudyAnalysis
from study.analysis.plots import pretty

TEMPLATE = "summary.html.j2"
HARDEST_ROWS = 15


def _number(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 100):
        return f"{int(value):,}"
    return f"{value:.{digits}f}"


def _percent(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.{digits}f}%"


def _duration(seconds) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "–"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    from analysis_core.artifacts.resources import templates_dir

    env = Environment(
        loader=FileSystemLoader(str(templates_dir() / "study_analysis")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _number
    env.filters["pct"] = _percent
    env.filters["duration"] = _duration
    env.filters["pretty"] = pretty
    return env


def _hardest_rows(result: StudyAnalysis) -> tuple[list[str], list[list[str]], list[bool]]:
    """Columns and cells of the "hardest items" table; never a worker id."""
    table = result.table
    frame = result.hardest.head(HARDEST_ROWS)
    headers = [c.replace("Input.", "") for c in table.item_columns] + ["answers"]
    columns: list[tuple[str, str]] = [(c, "raw") for c in table.item_columns] + [("n_answers", "int")]
    for q in table.likert:
        headers.append(f"{pretty(q.name)} mean")
        columns.append((f"{q.name}_mean", "num"))
    for q in table.choice:
        headers.append(f"{pretty(q.name)} majority")
        columns.append((f"{q.name}_majority", "raw"))
    for q in table.text[:1]:
        headers += ["Agreement (Jaccard)", f"Most representative {q.name}"]
        columns += [(f"{q.name}_jaccard", "num"), (f"{q.name}_representative", "raw")]
    rows = []
    for _, record in frame.iterrows():
        cells = []
        for column, kind in columns:
            value = record[column]
            if kind == "int":
                cells.append(f"{int(value):,}")
            elif kind == "num":
                cells.append(_number(float(value)))
            else:
                cells.append("" if value is None else str(value))
        rows.append(cells)
    return headers, rows, [kind != "raw" for _, kind in columns]


def render_summary(result: StudyAnalysis, summary: dict, figures: dict[str, str], threshold: float = 3.0) -> str:
    env = _environment()
    headers, rows, numeric = _hardest_rows(result)
    descriptions = []
    if result.feature_descriptions is not None:
        ranked = result.feature_descriptions.sort_values(["agreement", "n_descriptions"], ascending=False, na_position="last")
        descriptions = ranked.head(HARDEST_ROWS).to_dict("records")
    return env.get_template(TEMPLATE).render(
        s=summary,
        tkey=f"{threshold:g}",
        figures=figures,
        choice_questions=[q.name for q in result.table.choice],
        text_questions=[q.name for q in result.table.text],
        hardest_headers=headers,
        hardest_rows=rows,
        hardest_numeric=numeric,
        hardest_rule=(result.hardest.attrs.get("rule") or ""),
        top_descriptions=descriptions,
        representative_rule=REPRESENTATIVE_RULE,
        review=_review_view(result),
    )


def _review_view(result: StudyAnalysis) -> dict | None:
    """Failure-review tables as plain rows: the failure modes most judged spurious first."""
    review = result.review
    if review is None:
        return None
    modes = review.failure_modes.sort_values(["judged_spurious", "n_spurious", "n_reviewers"], ascending=False, kind="stable")
    return {
        "modes": modes.head(HARDEST_ROWS).to_dict("records"),
        "n_modes": len(modes),
        "by_class": review.by_class.head(HARDEST_ROWS).to_dict("records") if not review.by_class.empty else [],
        "other": review.other_actions[:20],
    }
