"""Crowd judgements of failure modes beside each failure mode's sentence in the report.

failure_judgements.csv is read by :mod:`analysis_core.artifacts.judgements`; the index
can keep only the failure modes judged spurious.
"""

from __future__ import annotations

from dataclasses import asdict

from analysis_core.artifacts.judgements import FailureJudgement


def judgement_view(judgement: FailureJudgement) -> dict:
    """What a report page shows of a judgement (counts, verdict and a sentence)."""
    view = {k: v for k, v in asdict(judgement).items() if k not in ("grouping", "class_name", "leaf")}
    return {**view, "text": judgement.text}


def attach_judgements(groups: list[dict], judgements: dict[tuple[str, str, int], FailureJudgement]) -> dict:
    """Give each leaf view its judgement (or None) and each group its count; return totals."""
    matched = 0
    for group in groups:
        n_spurious = 0
        for leaf in group["leaves"]:
            found = judgements.get((str(group["grouping"]), str(group["class"]), int(leaf["id"])))
            leaf["judgement"] = None if found is None else judgement_view(found)
            matched += leaf["judgement"] is not None
            n_spurious += bool(leaf["judgement"] and leaf["judgement"]["judged_spurious"])
        group["n_spurious"] = n_spurious
    return {
        "n_judged": matched,
        "n_judged_spurious": sum(g["n_spurious"] for g in groups),
        "n_unmatched": len(judgements) - matched,
    }
