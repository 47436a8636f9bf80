"""Crowd judgements of failure modes (failure_judgements.csv from a failure-review study).

'barlow study analyze' writes one row per reviewed failure mode: grouping, class, leaf,
n_reviewers, n_spurious, n_core, n_cant_tell, verdict, judged_spurious. The report shows
them beside each failure mode's sentence and lets the index keep only spurious ones.
"""

from __future__ import annotations

from pathlib import Path

from analysis_core.artifacts.errors import BarlowError

JUDGEMENTS_FILE = "failure_judgements.csv"
_COLUMNS = ("grouping", "class", "leaf", "n_reviewers", "n_spurious")


def read_judgements(path: Path) -> dict[tuple[str, str, int], dict]:
    """(grouping, class, leaf) -> judgement; an error names the file and what is wrong."""
    import pandas as pd

    try:
        table = pd.read_csv(path, dtype={"class": str, "grouping": str}, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise BarlowError(f"cannot read failure judgements {path}: {exc}") from None
    missing = [c for c in _COLUMNS if c not in table.columns]
    if missing:
        raise BarlowError(
            f"{path} lacks column(s) {', '.join(missing)}: it must be failure_judgements.csv from "
            "'barlow study analyze' of a failure-review study (with leaf ids)"
        )
    out: dict[tuple[str, str, int], dict] = {}
    for row_no, row in enumerate(table.to_dict("records"), start=2):
        try:
            leaf, n, n_spurious = int(row["leaf"]), int(row["n_reviewers"]), int(row["n_spurious"])
        except (TypeError, ValueError):
            raise BarlowError(f"{path} row {row_no}: leaf, n_reviewers and n_spurious must be whole numbers") from None
        judged = str(row.get("judged_spurious", n_spurious * 2 > n)).strip().lower() in ("true", "1")
        out[(str(row["grouping"]), str(row["class"]), leaf)] = {
            "n_reviewers": n,
            "n_spurious": n_spurious,
            "verdict": str(row.get("verdict", "")),
            "judged_spurious": judged,
            "text": f"judged spurious by {n_spurious} of {n} reviewer{'s' if n != 1 else ''}",
        }
    return out


def attach_judgements(groups: list[dict], judgements: dict[tuple[str, str, int], dict]) -> dict:
    """Give each leaf view its judgement (or None) and each group its count; return totals."""
    matched = 0
    for group in groups:
        n_spurious = 0
        for leaf in group["leaves"]:
            leaf["judgement"] = judgements.get((str(group["grouping"]), str(group["class"]), int(leaf["id"])))
            matched += leaf["judgement"] is not None
            n_spurious += bool(leaf["judgement"] and leaf["judgement"]["judged_spurious"])
        group["n_spurious"] = n_spurious
    return {
        "n_judged": matched,
        "n_judged_spurious": sum(g["n_spurious"] for g in groups),
        "n_unmatched": len(judgements) - matched,
    }
