"""The whole study analysis: from a validated :class:`AnswerTable` to tables and headline numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis_core.artifacts.options import option
from study.analysis import agreement, stats
from study.analysis import text as text_agreement
from study.analysis.answers import (
    ITEM_KEY,
    AnswerTable,
    ChoiceQuestion,
    LikertQuestion,
    TextQuestion,
)
from study.analysis.embeddings import DEFAULT_MODEL
from study.analysis.votes import TIE_RULE, majority_votes
from study.analysis.workers import check_results, worker_table

REPRESENTATIVE_RULE = (
    "A feature's description is the one with the highest mean token-Jaccard agreement with the "
    "feature's other descriptions; ties go to the description with more content words, then to "
    "the earliest answer."
)
CURVE_STEP = 0.1


@dataclass
class StudyAnalysisOptions:
    """Settings of a crowd-study analysis; 'barlow study analyze' generates its options from these fields."""

    n_bootstrap: int = option(2000, "bootstrap resamples for confidence intervals", flags=("--bootstrap",), metavar="N")
    seed: int = option(0, "seed of the bootstrap")
    level: float = 0.95
    none_answer: str = option("none", "the choice option counted for 'majority is none'")
    threshold: float = option(3.0, "mean Likert answer counted as understood")
    embeddings: str = option(
        "auto",
        "sentence-embedding agreement of descriptions (needs pip install 'barlow[embeddings]' and a model on disk, "
        "see --embeddings-model); auto uses it when available",
        choices=("auto", "on", "off"),
    )
    embeddings_model: str = option(
        DEFAULT_MODEL,
        "sentence-transformers model: a saved model's folder, or a name already in the local Hugging Face cache; "
        "never downloaded during an analysis",
        metavar="PATH_OR_NAME",
    )
    exclude_failed_workers: bool = option(False, "leave out every answer of workers who failed an attention check")

    def validate(self) -> "StudyAnalysisOptions":
        from analysis_core.artifacts.errors import BarlowError

        if self.n_bootstrap < 100:
            raise BarlowError(f"--bootstrap {self.n_bootstrap} is too few resamples for a 95% interval; use 100 or more")
        return self


# The earlier name, kept for callers written against it.
AnalysisOptions = StudyAnalysisOptions


@dataclass
class StudyAnalysis:
    summary: dict
    per_item: pd.DataFrame
    per_worker: pd.DataFrame
    per_question: pd.DataFrame
    choice_distribution: pd.DataFrame
    likert_curves: pd.DataFrame
    feature_descriptions: pd.DataFrame | None
    table: AnswerTable
    hardest: pd.DataFrame = field(default_factory=pd.DataFrame)
    review: object | None = None  # a study.analysis.review.ReviewAnalysis for failure-review studies
    review_scale: tuple[int, int] = (1, 5)
    review_scale_labels: dict = field(default_factory=dict)


def slug(value: str) -> str:
    """A column-name-safe form of an option ("B and C" → "B_and_C")."""
    return re.sub(r"[^0-9A-Za-z]+", "_", str(value)).strip("_") or "blank"


def _num(value) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value


def _likert(question: LikertQuestion, answers: pd.DataFrame, codes: np.ndarray, n_items: int, per_item: pd.DataFrame, options: AnalysisOptions):
    values = answers[question.column].to_numpy(dtype=float)
    means, counts = stats.group_means(values, codes, n_items)
    medians = pd.Series(values).groupby(codes).median().reindex(range(n_items)).to_numpy()
    stds = pd.Series(values).groupby(codes).std().reindex(range(n_items)).to_numpy()
    per_item[f"{question.name}_mean"] = means
    per_item[f"{question.name}_median"] = medians
    per_item[f"{question.name}_std"] = stds
    per_item[f"{question.name}_n"] = counts

    n_values = question.scale_max - question.scale_min + 1
    value_codes = np.where(np.isnan(values), -1, values - question.scale_min).astype(int)
    table = agreement.count_table(value_codes, codes, n_items, n_values)
    alpha = agreement.krippendorff_alpha(table, "ordinal", list(range(question.scale_min, question.scale_max + 1)))

    thresholds = np.round(np.arange(question.scale_min, question.scale_max + CURVE_STEP / 2, CURVE_STEP), 6)
    at_least = stats.at_least_counts(means, thresholds)
    rated = int((counts > 0).sum())
    reach = int(at_least[np.searchsorted(thresholds, options.threshold)]) if question.scale_min <= options.threshold <= question.scale_max else int(np.sum(means >= options.threshold))
    ci = stats.bootstrap_mean(means, options.n_bootstrap, options.level, options.seed)
    answered = values[~np.isnan(values)]
    summary = {
        "label": question.label,
        "scale": [question.scale_min, question.scale_max],
        "n_answers": int(answered.size),
        "n_empty": int(np.isnan(values).sum()),
        "n_items": rated,
        "mean": _num(answered.mean()) if answered.size else None,
        "median": _num(np.median(answered)) if answered.size else None,
        "item_mean_of_means": _num(np.nanmean(means)) if rated else None,
        "item_mean_ci": [_num(ci[0]), _num(ci[1])],
        "answer_distribution": {str(question.scale_min + k): int(c) for k, c in enumerate(table.sum(axis=0))},
        f"items_mean_at_least_{options.threshold:g}": {"count": reach, "fraction": reach / rated if rated else None},
        "items_at_least": {f"{t:g}": int(c) for t, c in zip(thresholds, at_least) if abs(t * 2 - round(t * 2)) < 1e-9},
        "krippendorff_alpha_ordinal": _num(alpha.alpha),
        "krippendorff_alpha_items": alpha.n_items,
        "krippendorff_alpha_note": alpha.note,
    }
    curve = pd.DataFrame({"question": question.name, "threshold": thresholds, "items_at_least": at_least, "fraction_at_least": at_least / rated if rated else np.nan})
    row = {
        "question": question.name, "type": "likert", "column": question.column, "n_answers": summary["n_answers"],
        "n_empty": summary["n_empty"], "n_items": rated, "mean": summary["mean"], "median": summary["median"],
        f"fraction_items_mean_at_least_{options.threshold:g}": summary[f"items_mean_at_least_{options.threshold:g}"]["fraction"],
        "agreement_statistic": "Krippendorff alpha (ordinal)", "agreement": summary["krippendorff_alpha_ordinal"],
        "agreement_items": alpha.n_items,
    }
    return summary, curve, row, means


def _choice(question: ChoiceQuestion, answers: pd.DataFrame, codes: np.ndarray, n_items: int, per_item: pd.DataFrame, options: AnalysisOptions):
    lookup = {option: k for k, option in enumerate(question.options)}
    value_codes = answers[question.column].map(lambda v: lookup.get(v, -1)).to_numpy(dtype=int)
    table = agreement.count_table(value_codes, codes, n_items, len(question.options))
    majorities = majority_votes(table, question.options)
    per_item[f"{question.name}_majority"] = [m.label for m in majorities]
    per_item[f"{question.name}_majority_count"] = [m.count for m in majorities]
    per_item[f"{question.name}_tie"] = [m.tie for m in majorities]
    per_item[f"{question.name}_agreement"] = agreement.item_agreement(table)
    for k, choice in enumerate(question.options):
        per_item[f"{question.name}_n_{slug(choice)}"] = table[:, k]

    total = int(table.sum())
    low, high = stats.bootstrap_proportions(table, options.n_bootstrap, options.level, options.seed)
    answered_items = int((table.sum(axis=1) > 0).sum())
    distribution, majority, dist_rows = {}, {}, []
    answered = np.array([m.n > 0 for m in majorities])
    for k, choice in enumerate(question.options):
        n = int(table[:, k].sum())
        won = np.array([m.answer == choice for m in majorities])[answered].astype(float)
        wins = int(won.sum())
        win_low, win_high = stats.bootstrap_mean(won, options.n_bootstrap, options.level, options.seed)
        distribution[choice] = {"n": n, "fraction": n / total if total else None, "ci_low": _num(low[k]), "ci_high": _num(high[k])}
        majority[choice] = {"count": wins, "fraction": wins / answered_items if answered_items else None,
                            "ci_low": _num(win_low), "ci_high": _num(win_high)}
        dist_rows.append({"question": question.name, "option": choice, "n_answers": n, "fraction": distribution[choice]["fraction"],
                          "ci_low": distribution[choice]["ci_low"], "ci_high": distribution[choice]["ci_high"],
                          "items_majority": wins, "fraction_items_majority": majority[choice]["fraction"]})
    ties = sum(1 for m in majorities if m.tie)
    kappa = agreement.fleiss_kappa(table)
    alpha = agreement.krippendorff_alpha(table, "nominal", list(range(len(question.options))))
    none_option = next((o for o in question.options if o.lower() == options.none_answer.lower()), None)
    summary = {
        "label": question.label,
        "options": list(question.options),
        "n_answers": total,
        "n_empty": int((value_codes < 0).sum()),
        "n_items": answered_items,
        "distribution": distribution,
        "majority": majority,
        "majority_ties": {"count": ties, "fraction": ties / answered_items if answered_items else None},
        "fraction_items_majority_none": majority[none_option]["fraction"] if none_option else None,
        "fraction_items_majority_none_ci": [majority[none_option]["ci_low"], majority[none_option]["ci_high"]] if none_option else None,
        "fleiss_kappa": _num(kappa.kappa),
        "fleiss_kappa_items": kappa.n_items,
        "fleiss_kappa_raters": kappa.n_raters,
        "fleiss_kappa_items_left_out": kappa.n_items_left_out,
        "fleiss_kappa_note": kappa.note,
        "krippendorff_alpha_nominal": _num(alpha.alpha),
    }
    row = {
        "question": question.name, "type": "choice", "column": question.column, "n_answers": total,
        "n_empty": summary["n_empty"], "n_items": answered_items,
        "agreement_statistic": "Fleiss kappa", "agreement": summary["fleiss_kappa"], "agreement_items": kappa.n_items,
    }
    return summary, pd.DataFrame(dist_rows), row


def _text_groups(values: pd.Series, groups: np.ndarray, n_groups: int) -> list[list[str]]:
    out: list[list[str]] = [[] for _ in range(n_groups)]
    for g, value in zip(groups, values):
        out[g].append(value if isinstance(value, str) else "")
    return out


def _text_agreement(groups: list[list[str]], normalizer: text_agreement.TextNormalizer):
    """Per group: number of non-empty texts, mean pairwise Jaccard, representative text."""
    n_texts, scores, representative = [], [], []
    for group in groups:
        texts = [t for t in group if t]
        token_sets = [normalizer.tokens(t) for t in texts]
        matrix = text_agreement.pairwise_jaccard(token_sets)
        best = text_agreement.representative_index(matrix, [len(s) for s in token_sets])
        n_texts.append(len(texts))
        scores.append(text_agreement.mean_pairwise(matrix))
        representative.append(texts[best] if best is not None else "")
    return np.array(n_texts), np.array(scores, dtype=float), representative


def _text(question: TextQuestion, answers, codes, n_items, per_item, normalizer, embedder):
    groups = _text_groups(answers[question.column], codes, n_items)
    n_texts, scores, representative = _text_agreement(groups, normalizer)
    per_item[f"{question.name}_n"] = n_texts
    per_item[f"{question.name}_jaccard"] = scores
    per_item[f"{question.name}_representative"] = representative
    cosine = None
    if embedder is not None:
        from study.analysis.embeddings import mean_pairwise_cosine

        cosine = mean_pairwise_cosine(groups, embedder)
        per_item[f"{question.name}_cosine"] = cosine
    n_answers = int(n_texts.sum())
    summary = {
        "label": question.label,
        "n_answers": n_answers,
        "n_empty": int(len(answers) - n_answers),
        "n_items_with_two_or_more": int((n_texts >= 2).sum()),
        "mean_jaccard": _num(np.nanmean(scores)) if np.any(~np.isnan(scores)) else None,
        "median_jaccard": _num(np.nanmedian(scores)) if np.any(~np.isnan(scores)) else None,
        "mean_embedding_cosine": _num(np.nanmean(cosine)) if cosine is not None and np.any(~np.isnan(cosine)) else None,
    }
    row = {
        "question": question.name, "type": "text", "column": question.column, "n_answers": n_answers,
        "n_empty": summary["n_empty"], "n_items": int((n_texts > 0).sum()),
        "agreement_statistic": "mean pairwise token Jaccard", "agreement": summary["mean_jaccard"],
        "agreement_items": summary["n_items_with_two_or_more"],
    }
    return summary, row


def feature_descriptions(table: AnswerTable, normalizer: text_agreement.TextNormalizer) -> pd.DataFrame | None:
    """Contract §7: per feature, its most representative description, their count and agreement.

    All descriptions of a feature are pooled, whichever group (label or prediction, class)
    showed it, because a feature's visualization is the same in every group.
    """
    if not table.feature_column or not table.description_column:
        return None
    answers = table.answers
    codes, features = pd.factorize(answers[table.feature_column].astype(str).str.strip(), sort=False)
    groups = _text_groups(answers[table.description_column], codes, len(features))
    n_texts, scores, representative = _text_agreement(groups, normalizer)
    frame = pd.DataFrame({"feature": features, "description": representative, "n_descriptions": n_texts, "agreement": scores})
    frame = frame[frame["n_descriptions"] > 0]
    numeric = pd.to_numeric(frame["feature"], errors="coerce")
    if numeric.notna().all() and (numeric % 1 == 0).all():
        frame = frame.assign(feature=numeric.astype(int)).sort_values("feature")
    else:
        bad = frame.loc[numeric.isna() | (numeric % 1 != 0), "feature"]
        table.warnings.append(
            f"{table.feature_column}: {len(bad)} feature id(s) are not whole numbers (first {bad.iloc[0]!r}); "
            "feature_descriptions.csv is written, but 'barlow report' needs integer feature ids"
        )
        frame = frame.sort_values("feature")
    return frame.reset_index(drop=True)


def _drop_failed_workers(table: AnswerTable, checks: pd.DataFrame) -> None:
    if not (table.worker_column and table.expected and len(checks)):
        table.warnings.append("--exclude-failed-workers: no attention checks with expected answers; nothing excluded")
        return
    failed = set(checks.loc[~checks["passed"].astype(bool), "worker"])
    drop = table.answers[table.worker_column].isin(failed)
    table.answers = table.answers.loc[~drop].reset_index(drop=True)
    table.warnings.append(
        f"{int(drop.sum())} answers from {len(failed)} worker(s) who failed an attention check left out (--exclude-failed-workers)"
    )
    if table.answers.empty:
        from analysis_core.artifacts.errors import BarlowError

        raise BarlowError("every answer comes from a worker who failed an attention check; nothing is left to analyse")


def _attention_summary(table: AnswerTable, checks: pd.DataFrame, workers: pd.DataFrame) -> dict:
    out = {"n_answers": int(len(checks)), "expected_answers_for": [c for c in table.expected]}
    if len(checks) and table.expected:
        passed = checks["passed"].astype(bool)
        out["n_passed"] = int(passed.sum())
        out["pass_rate"] = float(passed.mean())
        out["per_question_pass_rate"] = {c: float(checks[f"{c}.passed"].mean()) for c in table.expected}
        if "attention_failed" in workers:
            checked = workers[workers["attention_checks"] > 0]
            failing = int((checked["attention_failed"] > 0).sum())
            out["workers_checked"] = int(len(checked))
            out["workers_failed"] = failing
            out["fraction_workers_failed"] = failing / len(checked) if len(checked) else None
    return out


@dataclass
class _Items:
    """The answers' items: a code per answer row, and the per-item table being filled in."""

    codes: np.ndarray
    n: int
    table: pd.DataFrame


def _items(table: AnswerTable) -> _Items:
    answers = table.answers
    codes, items = pd.factorize(answers[ITEM_KEY], sort=False)
    first = answers.groupby(codes, sort=True)[table.item_columns].first()
    per_item = first.reset_index(drop=True)
    per_item.insert(0, "item", np.asarray(items))
    per_item["n_answers"] = np.bincount(codes, minlength=len(items))
    return _Items(codes, len(items), per_item)


def _raters_summary(per_item: pd.DataFrame) -> dict:
    raters = per_item["n_answers"].value_counts().sort_index()
    return {
        "min": int(raters.index.min()), "max": int(raters.index.max()),
        "mean": float(per_item["n_answers"].mean()), "counts": {str(k): int(v) for k, v in raters.items()},
    }


def _likert_part(table: AnswerTable, items: _Items, options: StudyAnalysisOptions, summary: dict, rows: list) -> list[pd.DataFrame]:
    """Every Likert question into ``summary``/``rows``; returns the curves."""
    likert_summary, curves, item_means = {}, [], {}
    for question in table.likert:
        s, curve, row, means = _likert(question, table.answers, items.codes, items.n, items.table, options)
        likert_summary[question.name], item_means[question.name] = s, means
        curves.append(curve)
        rows.append(row)
    if len(table.likert) > 1:
        stacked = np.vstack(list(item_means.values()))
        rated = ~np.isnan(stacked).any(axis=0)
        joint = int(np.sum(rated & (np.nan_to_num(stacked, nan=-np.inf) >= options.threshold).all(axis=0)))
        summary[f"items_mean_at_least_{options.threshold:g}_on_all_likert"] = {
            "count": joint, "fraction": joint / int(rated.sum()) if rated.any() else None,
        }
    summary["likert"] = likert_summary
    return curves


def _choice_part(table: AnswerTable, items: _Items, options: StudyAnalysisOptions, summary: dict, rows: list) -> list[pd.DataFrame]:
    """Every choice question into ``summary``/``rows``; returns the answer distributions."""
    choice_summary, distributions = {}, []
    for question in table.choice:
        s, dist, row = _choice(question, table.answers, items.codes, items.n, items.table, options)
        choice_summary[question.name] = s
        distributions.append(dist)
        rows.append(row)
    summary["choice"] = choice_summary
    summary["tie_rule"] = TIE_RULE
    summary["bootstrap"] = {"resamples": options.n_bootstrap, "level": options.level, "seed": options.seed, "unit": "item"}
    return distributions


def _text_part(table: AnswerTable, items: _Items, options: StudyAnalysisOptions, summary: dict, rows: list, normalizer) -> None:
    embedder, embedding_note = None, "off"
    if table.text and options.embeddings != "off":
        from study.analysis.embeddings import load_embedder

        embedder, embedding_note = load_embedder(options.embeddings_model, required=options.embeddings == "on")
    text_summary = {}
    for question in table.text:
        s, row = _text(question, table.answers, items.codes, items.n, items.table, normalizer, embedder)
        text_summary[question.name] = s
        rows.append(row)
    summary["text"] = text_summary
    summary["text_agreement_method"] = {
        "jaccard": "mean pairwise Jaccard of token sets (lower-cased, stop words removed, Porter-stemmed)",
        "embeddings": embedding_note,
    }


def _worker_part(table: AnswerTable, checks: pd.DataFrame, summary: dict) -> pd.DataFrame:
    """Workers, time per task and attention checks into ``summary``; returns the per-worker table."""
    workers = worker_table(table, checks)
    summary["workers"], summary["tasks_per_worker"] = None, None
    if table.worker_column and len(workers):
        tasks = workers["n_answers"][workers["n_answers"] > 0]
        summary["workers"] = int(len(tasks))
        summary["tasks_per_worker"] = {"mean": float(tasks.mean()), "median": float(tasks.median()), "max": int(tasks.max()), "min": int(tasks.min())}
    summary["time_per_task_seconds"] = None
    if table.time_column:
        times = table.answers[table.time_column].dropna()
        if len(times):
            summary["time_per_task_seconds"] = {"mean": float(times.mean()), "median": float(times.median()), "n": int(len(times))}
    summary["attention_checks"] = _attention_summary(table, checks, workers)
    return workers


def analyze(table: AnswerTable, options: StudyAnalysisOptions | None = None, progress=None) -> StudyAnalysis:
    """Every statistic of the study; ``progress(step_name)`` is called between steps when given."""
    options = options or StudyAnalysisOptions()
    step = progress or (lambda name: None)
    checks = check_results(table)
    if options.exclude_failed_workers:
        _drop_failed_workers(table, checks)
    items = _items(table)
    summary: dict = {"version": 1, "source": table.source, "answers": int(len(table.answers)), "items": items.n,
                     "raters_per_item": _raters_summary(items.table)}
    rows: list[dict] = []
    step("Likert questions")
    curves = _likert_part(table, items, options, summary, rows)
    step("choice questions")
    distributions = _choice_part(table, items, options, summary, rows)
    step("free-text agreement")
    normalizer = text_agreement.TextNormalizer()
    _text_part(table, items, options, summary, rows, normalizer)
    step("workers and attention checks")
    workers = _worker_part(table, checks, summary)
    step("feature descriptions")
    descriptions = feature_descriptions(table, normalizer)
    summary["feature_descriptions"] = (
        {"features": int(len(descriptions)), "feature_column": table.feature_column, "description_column": table.description_column, "rule": REPRESENTATIVE_RULE}
        if descriptions is not None else None
    )
    summary["warnings"] = list(table.warnings)
    return StudyAnalysis(
        summary=summary,
        per_item=items.table,
        per_worker=workers,
        per_question=pd.DataFrame(rows),
        choice_distribution=pd.concat(distributions, ignore_index=True) if distributions else pd.DataFrame(),
        likert_curves=pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(),
        feature_descriptions=descriptions,
        table=table,
        hardest=_hardest(items.table, table),
    )


def _hardest(per_item: pd.DataFrame, table: AnswerTable, n: int = 15) -> pd.DataFrame:
    """The items workers found hardest: lowest mean on the first Likert question, then lowest agreement."""
    keys: list[str] = []
    if table.likert:
        keys.append(f"{table.likert[0].name}_mean")
    if table.text:
        keys.append(f"{table.text[0].name}_jaccard")
    elif table.choice:
        keys.append(f"{table.choice[0].name}_agreement")
    if not keys:
        return pd.DataFrame()
    hardest = per_item.sort_values(keys, na_position="last", kind="stable").head(n).reset_index(drop=True)
    hardest.attrs["rule"] = "Sorted by " + ", then by ".join(f"lowest {k.replace('_', ' ')}" for k in keys) + "."
    return hardest
