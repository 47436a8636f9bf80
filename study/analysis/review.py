"""Failure-review answers: core or spurious per failure mode, action items, the closing survey.

Every reviewer's judgement puts the feature behind a failure mode on the main object
(core), on a separate object or the background (spurious), or says they cannot tell.
Per failure mode we count the reviewers, take the plurality verdict and say how many
judged it spurious ("judged spurious by 4 of 5 reviewers"); Fleiss' kappa measures how
much reviewers agree beyond chance. Action items (Figure 10) are counted per tick and the
survey (Figure 11) per worker, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis_core.artifacts.errors import BarlowError
from study.analysis import agreement
from study.analysis.answers import ITEM_KEY, AnswerTable
from study.analysis.votes import majority_votes

WHERE = ("main_object", "separate_object", "background", "cant_tell")
WHERE_LABELS = {"main_object": "main object", "separate_object": "separate object", "background": "background", "cant_tell": "can't tell"}
VERDICT = {"main_object": "core", "separate_object": "spurious", "background": "spurious", "cant_tell": "cant_tell"}
VERDICTS = ("core", "spurious", "cant_tell")
# How answers spell each place in crowd batches we have met (case and spacing ignored).
DEFAULT_SPELLINGS = {
    "main_object": ("main_object", "main object", "main", "object", "core", "part of the main object"),
    "separate_object": ("separate_object", "separate object", "separate", "other object", "a separate object"),
    "background": ("background", "the background", "bg"),
    "cant_tell": ("cant_tell", "can't tell", "cannot tell", "none", "unsure", "not sure", "dont_know", "don't know"),
}
JUDGED_RULE = (
    "A failure mode is judged spurious when more than half of its reviewers put the feature on a "
    "separate object or the background; its verdict is the plurality of core / spurious / can't tell "
    "(a tie has no verdict)."
)


@dataclass
class ReviewRoles:
    """Which columns of the answer table hold the failure-review answers."""

    judgement: str
    spellings: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_SPELLINGS))
    confidence: str | None = None
    actions: str | None = None
    action_options: list[str] = field(default_factory=list)  # display order; [] = as found
    action_labels: dict[str, str] = field(default_factory=dict)
    actions_other: str | None = None
    survey: list[tuple[str, str]] = field(default_factory=list)  # (column, statement)
    survey_scale: tuple[int, int] = (1, 5)
    survey_labels: dict[int, str] = field(default_factory=dict)
    grouping: str | None = "Input.grouping"
    class_column: str | None = "Input.class"
    leaf: str | None = "Input.leaf"
    rule: str | None = "Input.rule"


@dataclass
class ReviewAnalysis:
    summary: dict
    failure_modes: pd.DataFrame
    by_grouping: pd.DataFrame
    by_class: pd.DataFrame
    action_items: pd.DataFrame
    survey: pd.DataFrame
    other_actions: list[str]


def _where(values: pd.Series, roles: ReviewRoles, source: str, lines: pd.Series | None) -> np.ndarray:
    lookup = {spelling.strip().lower(): where for where, spellings in roles.spellings.items() for spelling in spellings}
    raw = values.astype(str).str.strip()
    mapped = raw.str.lower().map(lookup)
    unknown = (raw != "") & mapped.isna()
    if unknown.any():
        first = unknown.idxmax()
        at = f" on line {lines[first]}" if lines is not None else ""
        raise BarlowError(
            f"{source}: {roles.judgement} has {int(unknown.sum())} answer(s) that are not main object / separate object / "
            f"background / can't tell, first{at}: {raw[first]!r}; map them with --judgement-values"
        )
    codes = mapped.map({w: i for i, w in enumerate(WHERE)})
    return codes.fillna(-1).astype(int).to_numpy()


def _ticks(frame: pd.DataFrame, roles: ReviewRoles) -> tuple[list[list[str]], list[str]]:
    """Per answer the ticked action items, and the option order."""
    column = roles.actions
    if column in frame.columns:
        lists = [[v.strip() for v in str(cell).split("|") if v.strip()] for cell in frame[column].fillna("")]
    else:
        # MTurk's crowd-html checkboxes export one true/false column per option.
        prefix = column + "."
        flags = [c for c in frame.columns if c.startswith(prefix)]
        if not flags:
            raise BarlowError(f"action-item column {column} not found (nor {column}.<option> columns)")
        truthy = frame[flags].astype(str).apply(lambda s: s.str.strip().str.lower().isin({"true", "1", "yes", "on"}))
        lists = [[c[len(prefix):] for c in flags if row[c]] for _, row in truthy.iterrows()]
    seen = list(roles.action_options)
    for ticks in lists:
        seen.extend(t for t in ticks if t not in seen)
    return lists, seen


def analyze_review(table: AnswerTable, roles: ReviewRoles) -> ReviewAnalysis:
    answers = table.answers
    source = str(table.source.get("path") or table.source.get("name") or "answers")
    if roles.judgement not in answers.columns:
        raise BarlowError(f"{source}: judgement column {roles.judgement} not found")
    where_codes = _where(answers[roles.judgement], roles, source, answers.get("_line"))
    codes, items = pd.factorize(answers[ITEM_KEY], sort=False)
    n_items = len(items)
    where_table = agreement.count_table(where_codes, codes, n_items, len(WHERE))
    verdict_index = {v: i for i, v in enumerate(VERDICTS)}
    verdict_codes = np.array([verdict_index[VERDICT[WHERE[c]]] if c >= 0 else -1 for c in where_codes], dtype=int)
    verdict_table = agreement.count_table(verdict_codes, codes, n_items, len(VERDICTS))

    first = answers.groupby(codes, sort=True).first()
    modes = pd.DataFrame({"item": np.asarray(items)})
    for role, name in ((roles.grouping, "grouping"), (roles.class_column, "class"), (roles.leaf, "leaf"), (roles.rule, "rule")):
        if role and role in answers.columns:
            modes[name] = first[role].to_numpy()
    n_reviews = verdict_table.sum(axis=1)
    modes["n_reviewers"] = n_reviews
    for k, where in enumerate(WHERE):
        modes[f"n_{where}"] = where_table[:, k]
    modes["n_core"] = verdict_table[:, 0]
    modes["n_spurious"] = verdict_table[:, 1]
    modes["n_cant_tell"] = verdict_table[:, 2]
    modes["verdict"] = [m.answer or ("tie" if m.tie else "") for m in majority_votes(verdict_table, list(VERDICTS))]
    modes["where"] = [m.answer or ("tie" if m.tie else "") for m in majority_votes(where_table, list(WHERE))]
    modes["judged_spurious"] = modes["n_spurious"] * 2 > modes["n_reviewers"]
    modes["agreement"] = agreement.item_agreement(verdict_table)
    if roles.confidence and roles.confidence in answers.columns:
        confidence = pd.to_numeric(answers[roles.confidence], errors="coerce")
        modes["mean_confidence"] = confidence.groupby(codes).mean().reindex(range(n_items)).to_numpy()
    modes = modes[modes["n_reviewers"] > 0].reset_index(drop=True)
    if modes.empty:
        raise BarlowError(f"{source}: no answer to {roles.judgement}; nothing to judge")

    kappa_where = agreement.fleiss_kappa(where_table)
    kappa_verdict = agreement.fleiss_kappa(verdict_table)

    def shares(by: str) -> pd.DataFrame:
        if by not in modes.columns:
            return pd.DataFrame()
        grouped = modes.groupby(by, sort=True)
        out = grouped.agg(failure_modes=("item", "size"), judged_spurious=("judged_spurious", "sum"),
                          verdict_spurious=("verdict", lambda v: int((v == "spurious").sum())),
                          reviews=("n_reviewers", "sum"), spurious_reviews=("n_spurious", "sum")).reset_index()
        out["share_judged_spurious"] = out["judged_spurious"] / out["failure_modes"]
        out["share_spurious_reviews"] = out["spurious_reviews"] / out["reviews"]
        return out

    by_grouping = shares("grouping")
    if "class" in modes.columns:
        keys = ["grouping", "class"] if "grouping" in modes.columns else ["class"]
        by_class = modes.groupby(keys, sort=True).agg(
            failure_modes=("item", "size"), judged_spurious=("judged_spurious", "sum"),
            reviews=("n_reviewers", "sum"), spurious_reviews=("n_spurious", "sum")).reset_index()
        by_class["share_judged_spurious"] = by_class["judged_spurious"] / by_class["failure_modes"]
        by_class = by_class.sort_values(["share_judged_spurious", "judged_spurious"], ascending=False, kind="stable").reset_index(drop=True)
    else:
        by_class = pd.DataFrame()

    action_items, other = pd.DataFrame(), []
    if roles.actions:
        ticks, options = _ticks(answers, roles)
        answered = [t for t in ticks if t]
        rows = []
        for option in options:
            n = sum(option in t for t in answered)
            rows.append({"option": option, "label": roles.action_labels.get(option, option.replace("_", " ")), "n_reviews": n,
                         "fraction": n / len(answered) if answered else None})
        action_items = pd.DataFrame(rows)
        if roles.actions_other and roles.actions_other in answers.columns:
            other = [t for t in answers[roles.actions_other].astype(str).str.strip() if t and t.lower() != "nan"]

    survey = _survey(table, roles)
    summary = {
        "rule": JUDGED_RULE,
        "failure_modes": int(len(modes)),
        "reviews": int(modes["n_reviewers"].sum()),
        "where": {WHERE_LABELS[w]: int(modes[f"n_{w}"].sum()) for w in WHERE},
        "verdicts": {v: int((modes["verdict"] == v).sum()) for v in (*VERDICTS, "tie")},
        "judged_spurious": int(modes["judged_spurious"].sum()),
        "share_judged_spurious": float(modes["judged_spurious"].mean()),
        "fleiss_kappa_where": None if np.isnan(kappa_where.kappa) else kappa_where.kappa,
        "fleiss_kappa_where_items": kappa_where.n_items,
        "fleiss_kappa_verdict": None if np.isnan(kappa_verdict.kappa) else kappa_verdict.kappa,
        "fleiss_kappa_verdict_items": kappa_verdict.n_items,
        "fleiss_kappa_raters": kappa_verdict.n_raters,
        "fleiss_kappa_note": kappa_verdict.note or kappa_where.note,
        "mean_confidence": float(np.nanmean(modes["mean_confidence"])) if "mean_confidence" in modes and modes["mean_confidence"].notna().any() else None,
        "by_grouping": {str(r["grouping"]): {"failure_modes": int(r["failure_modes"]), "judged_spurious": int(r["judged_spurious"]),
                                             "share_judged_spurious": float(r["share_judged_spurious"])} for _, r in by_grouping.iterrows()},
        "action_items": {str(r["option"]): {"label": r["label"], "n_reviews": int(r["n_reviews"]), "fraction": r["fraction"]}
                         for _, r in action_items.iterrows()},
        "other_actions": other,
        "survey": {str(r["statement"]): {k: r[k] for k in ("n", "mean", "agree", "neutral", "disagree")} for _, r in survey.iterrows()},
    }
    return ReviewAnalysis(summary, modes, by_grouping, by_class, action_items, survey, other)


def _survey(table: AnswerTable, roles: ReviewRoles) -> pd.DataFrame:
    """Per statement, the answers of each worker once (they may sit on an attention-check row)."""
    if not roles.survey:
        return pd.DataFrame()
    low, high = roles.survey_scale
    mid = (low + high) / 2
    frames = [f for f in (table.answers, table.checks) if f is not None and len(f)]
    pooled = pd.concat(frames, ignore_index=True)
    rows = []
    for column, statement in roles.survey:
        if column not in pooled.columns:
            raise BarlowError(f"survey column {column} not found")
        values = pd.to_numeric(pooled[column].replace("", np.nan), errors="coerce")
        rows_with = pooled[values.notna()]
        if table.worker_column and table.worker_column in pooled.columns:
            rows_with = rows_with.drop_duplicates(subset=[table.worker_column], keep="first")
        answered = values[rows_with.index]
        outside = (answered < low) | (answered > high)
        if outside.any():
            raise BarlowError(f"survey column {column} has answers outside {low}-{high}: {answered[outside].iloc[0]:g}")
        counts = {int(v): int((answered == v).sum()) for v in range(low, high + 1)}
        n = int(len(answered))
        rows.append({
            "column": column, "statement": statement, "n": n,
            "mean": float(answered.mean()) if n else None,
            "agree": float((answered > mid).mean()) if n else None,
            "neutral": float((answered == mid).mean()) if n else None,
            "disagree": float((answered < mid).mean()) if n else None,
            **{f"n_{v}": c for v, c in counts.items()},
        })
    return pd.DataFrame(rows)


def judgement_sentence(n_spurious: int, n_reviewers: int) -> str:
    return f"judged spurious by {n_spurious} of {n_reviewers} reviewer{'s' if n_reviewers != 1 else ''}"
