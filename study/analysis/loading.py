"""Read answers from an MTurk batch-results CSV, check them, and give every column its role.

Problems a user can fix (missing columns, an empty file, a non-numeric Likert answer)
raise :class:`BarlowError` naming the column, line and value. Answers that are kept but
left out of some statistic (an empty answer, a rejected assignment, a duplicate) are
reported as warnings with counts, so nothing is dropped silently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis_core.artifacts.errors import BarlowError
from study.analysis.answers import (
    ITEM_KEY,
    ITEM_KEY_SEPARATOR,
    AnswerTable,
    ChoiceQuestion,
    LikertQuestion,
    TextQuestion,
    question_name,
)

# The paper's most-useful-view options, in the order its Figure 9b shows them.
VIEW_OPTIONS = ["A", "B", "C", "B and C", "none"]
TRUE_STRINGS = {"true", "1", "yes", "y", "t", "on"}
LINE = "_line"  # CSV line of each row (header = line 1), for error messages


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def read_batch_csv(path: str | Path) -> pd.DataFrame:
    """The CSV as strings ('' for empty cells), with each row's line number in ``_line``."""
    path = Path(path)
    if not path.is_file():
        raise BarlowError(f"answers file {path} does not exist")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise BarlowError(f"answers file {path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise BarlowError(f"answers file {path} is not a readable CSV: {str(exc).strip()}") from None
    if frame.empty:
        raise BarlowError(f"answers file {path} has a header but no answer rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    frame[LINE] = np.arange(len(frame)) + 2
    return frame


def _collapse_option_columns(frame: pd.DataFrame, column: str) -> bool:
    """Turn MTurk's one-boolean-column-per-option layout into one answer column.

    Crowd HTML radio groups export as ``Answer.view.B = true`` (one column per option);
    the answer is the option whose column is true. Returns False when no such columns exist.
    """
    prefix = column + "."
    option_columns = [c for c in frame.columns if c.startswith(prefix)]
    if not option_columns:
        return False
    flags = frame[option_columns].apply(lambda s: s.str.strip().str.lower().isin(TRUE_STRINGS))
    several = flags.sum(axis=1) > 1
    if several.any():
        first = int(frame.loc[several, LINE].iloc[0])
        raise BarlowError(
            f"{column}: {_plural(int(several.sum()), 'row')} mark more than one option as true "
            f"(first on line {first}); a single-choice question needs one"
        )
    options = [c[len(prefix):] for c in option_columns]
    values = np.where(flags.any(axis=1), np.array(options, dtype=object)[flags.to_numpy().argmax(axis=1)], "")
    frame[column] = values
    return True


def _truthy(series: pd.Series) -> pd.Series:
    if series.dtype == bool:
        return series
    return series.astype(str).str.strip().str.lower().isin(TRUE_STRINGS)


def _check_likert_range(values: pd.Series, raw: pd.Series, frame: pd.DataFrame, question: LikertQuestion, source: str) -> None:
    outside = values.notna() & ((values < question.scale_min) | (values > question.scale_max) | (values % 1 != 0))
    if outside.any():
        first = outside.idxmax()
        raise BarlowError(
            f"{source}: {question.column} has {_plural(int(outside.sum()), 'answer')} outside the whole "
            f"numbers {question.scale_min}-{question.scale_max}, first on line {frame.at[first, LINE]}: {raw[first]!r}"
        )


def _parse_likert(frame: pd.DataFrame, question: LikertQuestion, source: str) -> pd.Series:
    raw = frame[question.column].astype(str).str.strip()
    values = pd.to_numeric(raw, errors="coerce")
    bad = (raw != "") & values.isna()
    if bad.any():
        first = bad.idxmax()
        raise BarlowError(
            f"{source}: {question.column} has {_plural(int(bad.sum()), 'non-numeric answer')}, "
            f"first on line {frame.at[first, LINE]}: {raw[first]!r} (Likert answers must be numbers "
            f"{question.scale_min}-{question.scale_max})"
        )
    _check_likert_range(values, raw, frame, question, source)
    return values.astype(float)


def _choice_options(observed: list[str], given: list[str] | None) -> list[str]:
    if given:
        return list(given)
    # Answers that can only come from the paper's view question get its full option list, so
    # that an option nobody chose still shows (as 0%) in the distribution.
    if set(observed) <= set(VIEW_OPTIONS) and set(observed) & {"B and C", "none"}:
        return list(VIEW_OPTIONS)
    return sorted(observed, key=lambda v: (not v.replace(".", "", 1).isdigit(), float(v) if v.replace(".", "", 1).isdigit() else 0, v))


def _check_roles(item_columns: list[str], likert, choice, text) -> None:
    if not item_columns:
        raise BarlowError("no item columns given: name the columns that identify an item with --item")
    if not (likert or choice or text):
        raise BarlowError("no questions given: name answer columns with --likert, --choice or --text")


def _check_columns(frame: pd.DataFrame, source: str, item_columns: list[str], likert, choice, text,
                   worker_column: str | None, worker_required: bool) -> None:
    """Every named column is in the file once (MTurk's one-column-per-option layout collapsed first)."""
    for question in [*likert, *choice]:
        if question.column not in frame.columns:
            _collapse_option_columns(frame, question.column)
    wanted = list(dict.fromkeys([*item_columns, *(q.column for q in [*likert, *choice, *text])]))
    if worker_required and worker_column:
        wanted.append(worker_column)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        present = ", ".join(c for c in frame.columns if c != LINE)
        if len(present) > 300:
            present = present[:300] + ", ..."
        raise BarlowError(f"{source}: column(s) {', '.join(missing)} not found; the file has: {present}")
    duplicated = [c for c in wanted if list(frame.columns).count(c) > 1]
    if duplicated:
        raise BarlowError(f"{source}: column(s) {', '.join(duplicated)} appear more than once in the header")


def drop_rejected(frame: pd.DataFrame, source: str, include_rejected: bool, notes: list[str]) -> pd.DataFrame:
    if "AssignmentStatus" not in frame.columns or include_rejected:
        return frame
    rejected = frame["AssignmentStatus"].astype(str).str.strip().str.lower() == "rejected"
    if rejected.any():
        notes.append(
            f"{_plural(int(rejected.sum()), 'rejected assignment')} left out "
            "(AssignmentStatus = Rejected; --include-rejected keeps them)"
        )
        frame = frame.loc[~rejected]
        if frame.empty:
            raise BarlowError(f"{source}: every assignment is rejected; nothing to analyse")
    return frame


def _parse_times(frame: pd.DataFrame, time_column: str, notes: list[str]) -> None:
    raw = frame[time_column].astype(str).str.strip()
    times = pd.to_numeric(raw, errors="coerce")
    bad = (raw != "") & times.isna()
    if bad.any():
        notes.append(f"{time_column}: {_plural(int(bad.sum()), 'non-numeric value')} left out of the time statistics")
    frame[time_column] = times


def check_choice_and_text(frame: pd.DataFrame, choice: list[ChoiceQuestion], text: list[TextQuestion], source: str) -> None:
    """Strip choice and text answers; every choice answer must be one of its question's options."""
    for question in choice:
        values = frame[question.column].astype(str).str.strip()
        frame[question.column] = values
        observed = sorted(set(values[values != ""]))
        question.options = _choice_options(observed, question.options)
        unknown = (values != "") & ~values.isin(question.options)
        if unknown.any():
            first = unknown.idxmax()
            raise BarlowError(
                f"{source}: {question.column} has {_plural(int(unknown.sum()), 'answer')} that is not one of "
                f"{question.options}, first on line {frame.at[first, LINE]}: {values[first]!r}"
            )
    for question in text:
        frame[question.column] = frame[question.column].astype(str).str.strip()


def build_table(
    frame: pd.DataFrame,
    *,
    source: str,
    item_columns: list[str],
    likert: list[LikertQuestion],
    choice: list[ChoiceQuestion],
    text: list[TextQuestion],
    worker_column: str | None = "WorkerId",
    worker_required: bool = False,
    time_column: str | None = "WorkTimeInSeconds",
    attention_column: str | None = "Input.is_attention_check",
    expected: dict[str, str] | None = None,
    feature_column: str | None = None,
    description_column: str | None = None,
    min_raters: int | None = None,
    include_rejected: bool = False,
    source_info: dict | None = None,
) -> AnswerTable:
    """Validate a batch-results frame (strings, ``_line`` column) and split it into answers and checks."""
    frame = frame.copy()
    if LINE not in frame.columns:
        frame[LINE] = np.arange(len(frame)) + 2
    notes: list[str] = []
    _check_roles(item_columns, likert, choice, text)
    _check_columns(frame, source, item_columns, likert, choice, text, worker_column, worker_required)
    frame = drop_rejected(frame, source, include_rejected, notes)
    if worker_column and worker_column not in frame.columns:
        notes.append(f"no {worker_column} column: worker statistics are left out")
        worker_column = None
    if time_column and time_column not in frame.columns:
        time_column = None
    if time_column:
        _parse_times(frame, time_column, notes)
    for question in likert:
        frame[question.column] = _parse_likert(frame, question, source)
    check_choice_and_text(frame, choice, text, source)
    return assemble_table(
        frame, notes, source=source, item_columns=item_columns, likert=likert, choice=choice, text=text,
        worker_column=worker_column, time_column=time_column, attention_column=attention_column, expected=expected,
        feature_column=feature_column, description_column=description_column, min_raters=min_raters,
        source_info=source_info,
    )


def _split_checks(frame: pd.DataFrame, attention_column: str | None, source: str, notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    is_check = pd.Series(False, index=frame.index)
    if attention_column and attention_column in frame.columns:
        is_check = _truthy(frame[attention_column])
    checks = frame.loc[is_check].copy()
    answers = frame.loc[~is_check].copy()
    if answers.empty:
        raise BarlowError(f"{source}: every row is an attention check; there are no answers to analyse")
    if len(checks):
        notes.append(f"{_plural(len(checks), 'attention-check answer')} analysed separately from the items")
    return answers, checks


def _key_items(answers: pd.DataFrame, item_columns: list[str], source: str) -> None:
    for column in item_columns:
        answers[column] = answers[column].astype(str).str.strip()
        empty = answers[column] == ""
        if empty.any():
            first = int(answers.loc[empty, LINE].iloc[0])
            raise BarlowError(
                f"{source}: {_plural(int(empty.sum()), 'row')} have an empty item column {column} (first on line {first})"
            )
    answers[ITEM_KEY] = answers[item_columns].agg(ITEM_KEY_SEPARATOR.join, axis=1)


def _drop_repeats(answers: pd.DataFrame, worker_column: str | None, notes: list[str]) -> pd.DataFrame:
    if not worker_column:
        return answers
    answers[worker_column] = answers[worker_column].astype(str).str.strip()
    repeated = answers.duplicated(subset=[ITEM_KEY, worker_column], keep="first") & (answers[worker_column] != "")
    if repeated.any():
        notes.append(
            f"{_plural(int(repeated.sum()), 'repeated answer')} by a worker to an item they had already "
            "answered left out (the first answer is kept)"
        )
        answers = answers.loc[~repeated]
    return answers


def _note_gaps(answers: pd.DataFrame, questions: list, min_raters: int | None, notes: list[str]) -> None:
    """Warn about empty answers and items with fewer raters than asked; both are kept."""
    for question in questions:
        values = answers[question.column]
        empty = int(values.isna().sum()) if isinstance(question, LikertQuestion) else int((values == "").sum())
        if empty:
            notes.append(
                f"{question.column}: {empty} of {len(answers)} answers are empty and left out of that question's statistics"
            )
    raters = answers.groupby(ITEM_KEY, sort=False).size()
    if min_raters:
        short = raters[raters < min_raters]
        if len(short):
            breakdown = ", ".join(
                f"{_plural(int(count), 'item')} with {_plural(int(n), 'rater')}"
                for n, count in short.value_counts().sort_index().items()
            )
            notes.append(
                f"{len(short)} of {len(raters)} items have fewer than {min_raters} raters ({breakdown}); they are kept"
            )


def _expected_answers(checks: pd.DataFrame, expected: dict[str, str] | None, notes: list[str]) -> dict[str, str]:
    checks_expected: dict[str, str] = {}
    if len(checks):
        for question_column, target in (expected or {}).items():
            store = f"Expected.{question_name(question_column)}"
            checks[store] = (checks[target] if target in checks.columns else target)
            checks[store] = checks[store].astype(str).str.strip()
            checks_expected[question_column] = store
        if not checks_expected:
            notes.append("attention checks found but no expected answers given (--attention-expect); they are only counted")
    return checks_expected


def assemble_table(
    frame: pd.DataFrame,
    notes: list[str],
    *,
    source: str,
    item_columns: list[str],
    likert: list[LikertQuestion],
    choice: list[ChoiceQuestion],
    text: list[TextQuestion],
    worker_column: str | None,
    time_column: str | None,
    attention_column: str | None,
    expected: dict[str, str] | None,
    feature_column: str | None,
    description_column: str | None,
    min_raters: int | None,
    source_info: dict | None,
) -> AnswerTable:
    """An AnswerTable from answers already in their types (Likert numbers, choice and text strings)."""
    answers, checks = _split_checks(frame, attention_column, source, notes)
    _key_items(answers, item_columns, source)
    answers = _drop_repeats(answers, worker_column, notes)
    _note_gaps(answers, [*likert, *choice, *text], min_raters, notes)
    checks_expected = _expected_answers(checks, expected, notes)
    if feature_column is None:
        feature_column = "Input.feature" if "Input.feature" in answers.columns else None
    elif feature_column not in answers.columns:
        raise BarlowError(f"{source}: feature column {feature_column} not found")
    if description_column is None and text:
        names = [q.column for q in text]
        description_column = "Answer.description" if "Answer.description" in names else names[0]

    return AnswerTable(
        answers=answers.reset_index(drop=True),
        checks=checks.reset_index(drop=True),
        item_columns=list(item_columns),
        likert=likert,
        choice=choice,
        text=text,
        worker_column=worker_column,
        time_column=time_column,
        feature_column=feature_column,
        description_column=description_column,
        expected=checks_expected,
        source={"kind": "csv", "path": source, **(source_info or {})},
        warnings=notes,
    )


def split_columns(value: str | None) -> list[str]:
    """``"Answer.a, Answer.b"`` → ``["Answer.a", "Answer.b"]`` (empty entries dropped)."""
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def load_csv(
    path: str | Path,
    *,
    item_columns: list[str],
    likert_columns: list[str],
    choice_columns: list[str],
    text_columns: list[str],
    likert_range: tuple[int, int] = (1, 5),
    choice_options: dict[str, list[str]] | None = None,
    **options,
) -> AnswerTable:
    """An :class:`AnswerTable` from an MTurk batch-results CSV with column roles given by name."""
    frame = read_batch_csv(path)
    low, high = likert_range
    choice_options = choice_options or {}
    unknown = set(choice_options) - set(choice_columns)
    if unknown:
        raise BarlowError(f"--choice-options names {', '.join(sorted(unknown))}, which is not a --choice column")
    return build_table(
        frame,
        source=str(path),
        item_columns=item_columns,
        likert=[LikertQuestion(c, question_name(c), question_name(c), low, high) for c in likert_columns],
        choice=[ChoiceQuestion(c, question_name(c), question_name(c), list(choice_options.get(c, []))) for c in choice_columns],
        text=[TextQuestion(c, question_name(c), question_name(c)) for c in text_columns],
        **options,
    )
