"""Worker statistics and attention checks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from study.analysis.answers import AnswerTable

ALTERNATIVES = "|"  # an expected answer "B|B and C" accepts either


def _matches(answer, expected: str) -> bool:
    if str(expected).strip() == "":
        return True  # no expected answer for this question on this check
    accepted = [e.strip().lower() for e in str(expected).split(ALTERNATIVES)]
    if isinstance(answer, float):
        if np.isnan(answer):
            return False
        return any(_same_number(answer, e) for e in accepted)
    return str(answer).strip().lower() in accepted


def _same_number(answer: float, expected: str) -> bool:
    try:
        return float(expected) == answer
    except ValueError:
        return False


def check_results(table: AnswerTable) -> pd.DataFrame:
    """One row per attention-check answer: worker, whether it passed, and per-question results."""
    checks = table.checks
    rows = pd.DataFrame(index=checks.index)
    if table.worker_column:
        rows["worker"] = checks[table.worker_column].astype(str).str.strip()
    passed = pd.Series(True, index=checks.index)
    for question_column, expected_column in table.expected.items():
        ok = [_matches(a, e) for a, e in zip(checks[question_column], checks[expected_column])]
        rows[f"{question_column}.passed"] = ok
        passed &= pd.Series(ok, index=checks.index)
    rows["passed"] = passed if table.expected else np.nan
    return rows


def worker_table(table: AnswerTable, checks: pd.DataFrame) -> pd.DataFrame:
    """Per worker: items answered, time per task, attention checks answered and failed, mean Likert answers."""
    if not table.worker_column:
        return pd.DataFrame()
    answers = table.answers
    grouped = answers.groupby(table.worker_column, sort=True)
    out = pd.DataFrame({"n_answers": grouped.size()})
    if table.time_column:
        out["time_mean_s"] = grouped[table.time_column].mean()
        out["time_median_s"] = grouped[table.time_column].median()
    for question in table.likert:
        out[f"{question.name}_mean"] = grouped[question.column].mean()
    if len(checks) and "worker" in checks:
        by_worker = checks.groupby("worker")
        out = out.reindex(out.index.union(by_worker.size().index))
        out["n_answers"] = out["n_answers"].fillna(0).astype(int)
        out["attention_checks"] = by_worker.size().reindex(out.index).fillna(0).astype(int)
        if table.expected:
            failed = by_worker["passed"].apply(lambda s: int((~s.astype(bool)).sum()))
            out["attention_failed"] = failed.reindex(out.index).fillna(0).astype(int)
    out.index.name = "worker"
    return out.reset_index()
