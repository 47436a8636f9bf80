"""The study file (``study.yaml``): questions, HIT settings and attention checks as data.

A study is a folder holding ``study.yaml`` (this module), ``hits.csv`` (one row per HIT,
see :mod:`study.hits`), ``images/`` and, by default, the SQLite database. The questions
default to the paper's (section 8, Figure 65): a free-text description of the feature,
ease of understanding and confidence on 5-point Likert scales, and the most useful view.
Users add, remove and reword questions by editing the YAML; no code changes.

Besides text, Likert and single choice there are two question types any study may use:
``multi`` (tick every option that applies, optionally with an "Other: ___" box) and
``survey`` (Likert statements asked once per worker, at the end of a local session or
in a crowd worker's first HIT, like the satisfaction survey of the paper's Figure 11).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.study_folder import STUDY_FILE
from analysis_core.artifacts.parameters import ASSIGNMENTS_PER_HIT, REWARD

QUESTION_TYPES = ("text", "likert", "choice", "multi", "survey")
# A multi-select answer is stored as its ticked options joined by this character.
MULTI_SEPARATOR = "|"
OTHER_OPTION = "other"
OTHER_SUFFIX = "_other"
# Names the crowd platforms and our own forms use; a question may not shadow them.
RESERVED_FIELDS = {
    "assignmentId",
    "hitId",
    "workerId",
    "turkSubmitTo",
    "csrf_token",
    "form_token",
    "PROLIFIC_PID",
    "STUDY_ID",
    "SESSION_ID",
}
_ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_REWARD_PATTERN = re.compile(r"^\d+\.\d{2}$")

DEFAULT_INSTRUCTIONS = (
    "An image classifier has learned a visual feature. Below you see it three ways. "
    "Section A shows the images that activate the feature most. Section B shows the same "
    "images with a heatmap: the highlighted regions are where the feature responds. "
    "Section C shows the images changed so that the feature becomes stronger: what appears "
    "or grows is what the feature looks for. Look at all three sections, then describe in "
    "your own words what the feature detects (for example an object, a part, a texture, a "
    "colour or a background) and answer the questions."
)


@dataclass
class Statement:
    """One statement of a survey question, rated on the question's Likert scale."""

    id: str
    text: str


@dataclass
class Question:
    """One question of the HIT form; ``id`` becomes the form field and the export column."""

    id: str
    type: str
    prompt: str
    required: bool = True
    help: str = ""
    options: list[str] = field(default_factory=list)
    option_labels: dict[str, str] = field(default_factory=dict)
    scale_min: int = 1
    scale_max: int = 5
    scale_labels: dict[int, str] = field(default_factory=dict)
    min_length: int = 0
    max_length: int = 1000
    # multi: "Other: ___" with a free-text box stored under ``<id>_other``; how many ticks.
    other: bool = False
    min_choices: int = 1
    max_choices: int = 0  # 0: no upper limit
    # survey: statements rated on the Likert scale, each stored under ``<id>_<statement id>``.
    statements: list[Statement] = field(default_factory=list)

    @property
    def per_worker(self) -> bool:
        """Asked once per worker rather than once per HIT."""
        return self.type == "survey"

    def all_options(self) -> list[str]:
        """The options a worker can tick, with the "other" option last when asked for."""
        return list(self.options) + ([OTHER_OPTION] if self.type == "multi" and self.other else [])

    def answer_fields(self) -> list[str]:
        """The answer ids (export columns) this question stores, in display order."""
        if self.type == "survey":
            return [f"{self.id}_{st.id}" for st in self.statements]
        if self.type == "multi" and self.other:
            return [self.id, self.id + OTHER_SUFFIX]
        return [self.id]

    def label_for(self, value: Any) -> str:
        if self.type == "multi":
            return ", ".join(self.option_labels.get(v, v) for v in str(value).split(MULTI_SEPARATOR) if v)
        if self.type == "choice":
            return self.option_labels.get(str(value), str(value))
        if self.type == "likert":
            return self.scale_labels.get(int(value), "")
        return str(value)


@dataclass
class AttentionCheck:
    """A HIT whose correct answers are known, to spot workers who do not read.

    ``instruction`` is shown inside the HIT (above the questions); ``expected`` maps
    question ids to the one answer that passes.
    """

    id: str
    instruction: str
    expected: dict[str, str]
    grouping: str = ""
    class_name: str = ""
    feature: int | None = None


@dataclass
class HitSettings:
    """What a crowd platform needs to list the HITs; also used by the local allocator."""

    title: str = "Describe what a visual feature of an image classifier detects"
    description: str = (
        "Look at images, heatmaps and edited images that show one feature of a neural "
        "network, then describe the feature in a sentence and answer four short questions."
    )
    keywords: list[str] = field(
        default_factory=lambda: ["image", "description", "neural network", "visualization", "survey"]
    )
    reward: str = REWARD
    assignments_per_hit: int = ASSIGNMENTS_PER_HIT
    assignment_timeout_minutes: int = 30
    lifetime_days: int = 7
    auto_approval_days: int = 3


@dataclass
class StudySpec:
    name: str
    settings: HitSettings
    questions: list[Question]
    instructions: str = DEFAULT_INSTRUCTIONS
    attention_checks: list[AttentionCheck] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    # Crowd-platform settings (target wage, qualifications, Prolific places); read and
    # checked by study.platforms.settings, kept here as plain data.
    crowd: dict[str, Any] = field(default_factory=dict)
    # The study folder this spec was read from (None when built in memory); not in the YAML.
    folder: Path | None = field(default=None, compare=False, repr=False)

    @property
    def kind(self) -> str:
        """What the HITs show: 'feature-description' (section 8) or 'failure-review' (section 9)."""
        return str((self.source or {}).get("kind") or "feature-description")

    def hit_questions(self) -> list[Question]:
        return [q for q in self.questions if not q.per_worker]

    def survey_questions(self) -> list[Question]:
        return [q for q in self.questions if q.per_worker]

    def answer_fields(self) -> list[tuple[Question, str]]:
        """Every stored answer id with its question, in study-file order (the export columns)."""
        return [(q, f) for q in self.questions for f in q.answer_fields()]

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    def attention_check(self, check_id: str) -> AttentionCheck:
        for check in self.attention_checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "name": self.name,
            "instructions": self.instructions,
            "hit": asdict(self.settings),
            "questions": [_question_to_dict(q) for q in self.questions],
            "attention_checks": [_check_to_dict(c) for c in self.attention_checks],
            "source": self.source,
            **({"crowd": self.crowd} if self.crowd else {}),
        }


def default_questions() -> list[Question]:
    """The paper's question set (Figure 65 of the appendix, questions used in section 8)."""
    return [
        Question(
            id="description",
            type="text",
            prompt="Describe in your own words what this feature detects.",
            help="One or two sentences, e.g. 'the collar of a shirt' or 'dark stripes on a light background'.",
            min_length=10,
            max_length=500,
        ),
        Question(
            id="ease",
            type="likert",
            prompt="How easy was it to understand what the feature detects?",
            scale_labels={1: "Very difficult", 5: "Very easy"},
        ),
        Question(
            id="confidence",
            type="likert",
            prompt="How confident are you in your description?",
            scale_labels={1: "Not confident", 5: "Very confident"},
        ),
        Question(
            id="useful_view",
            type="choice",
            prompt="Which section helped you most to understand the feature?",
            options=["A", "B", "C", "B and C", "none"],
            option_labels={
                "A": "Section A (images)",
                "B": "Section B (heatmaps)",
                "C": "Section C (feature attack)",
                "B and C": "Sections B and C together",
                "none": "None of them",
            },
        ),
    ]


def default_spec(name: str = "barlow-study") -> StudySpec:
    return StudySpec(name=name, settings=HitSettings(), questions=default_questions())


# ----------------------------------------------------------------------------- writing


def _question_to_dict(q: Question) -> dict[str, Any]:
    out: dict[str, Any] = {"id": q.id, "type": q.type, "prompt": q.prompt, "required": q.required}
    if q.help:
        out["help"] = q.help
    if q.type == "text":
        out.update(min_length=q.min_length, max_length=q.max_length)
    elif q.type == "likert":
        out.update(scale_min=q.scale_min, scale_max=q.scale_max)
        if q.scale_labels:
            out["scale_labels"] = dict(q.scale_labels)
    elif q.type == "choice":
        out["options"] = list(q.options)
        if q.option_labels:
            out["option_labels"] = dict(q.option_labels)
    elif q.type == "multi":
        out["options"] = list(q.options)
        if q.option_labels:
            out["option_labels"] = dict(q.option_labels)
        out.update(other=q.other, min_choices=q.min_choices, max_choices=q.max_choices)
    elif q.type == "survey":
        out.update(scale_min=q.scale_min, scale_max=q.scale_max)
        if q.scale_labels:
            out["scale_labels"] = dict(q.scale_labels)
        out["statements"] = [{"id": st.id, "text": st.text} for st in q.statements]
    return out


def _check_to_dict(c: AttentionCheck) -> dict[str, Any]:
    return {
        "id": c.id,
        "instruction": c.instruction,
        "expected": dict(c.expected),
        "grouping": c.grouping,
        "class": c.class_name,
        "feature": c.feature,
    }


def dump_study_file(spec: StudySpec) -> str:
    header = (
        "# Barlow study file. Edit questions, HIT settings and attention checks here;\n"
        "# 'barlow study serve' validates it on start. Question types: text, likert, choice,\n"
        "# multi (tick all that apply) and survey (Likert statements asked once per worker).\n"
    )
    return header + yaml.safe_dump(spec.to_dict(), sort_keys=False, allow_unicode=True, width=100)


def write_study_file(spec: StudySpec, study_dir: str | Path) -> Path:
    validate_spec(spec, where=f"{STUDY_FILE}")
    path = Path(study_dir) / STUDY_FILE
    path.write_text(dump_study_file(spec), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- reading


class _StudyLoader(yaml.SafeLoader):
    """YAML 1.1 without its surprise booleans: options like yes/no/on/off stay strings."""


_StudyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":
    _StudyLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list(_first)
    )


def _line_index(text: str) -> dict[tuple, int]:
    """Map each path (tuple of keys / indexes) in a YAML document to its 1-based line."""
    lines: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                lines[path + (key,)] = key_node.start_mark.line + 1
                walk(value_node, path + (key,))
                lines[path + (key,)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))

    root = yaml.compose(text, Loader=_StudyLoader)
    if root is not None:
        walk(root, ())
    return lines


class _Reader:
    """Turns the parsed YAML into dataclasses, naming file, line and field in every error."""

    def __init__(self, path: Path, lines: dict[tuple, int]):
        self.path = path
        self.lines = lines

    def error(self, where: tuple, message: str) -> BarlowError:
        line = None
        probe = where
        while probe and line is None:
            line = self.lines.get(probe)
            probe = probe[:-1]
        name = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in where).replace(".[", "[")
        loc = f"{self.path}" + (f" line {line}" if line else "")
        return BarlowError(f"{loc}: {name or 'document'}: {message}")

    def get(self, data: Mapping, key: str, where: tuple, kind: type | tuple, default: Any = ...) -> Any:
        if key not in data or data[key] is None:
            if default is ...:
                raise self.error(where + (key,), "required field is missing")
            return default
        value = data[key]
        # YAML reads 1 as int where a float is fine, and True is an int in Python.
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if kind is int and isinstance(value, bool):
            raise self.error(where + (key,), f"expected an integer, got {value!r}")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.error(where + (key,), f"expected {names}, got {type(value).__name__} {value!r}")
        return value

    def unknown_keys(self, data: Mapping, allowed: set[str], where: tuple) -> None:
        extra = sorted(set(map(str, data)) - allowed)
        if extra:
            raise self.error(where + (extra[0],), f"unknown field (allowed: {', '.join(sorted(allowed))})")


def parse_study_text(text: str, path: Path) -> StudySpec:
    try:
        data = yaml.load(text, Loader=_StudyLoader)
        lines = _line_index(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BarlowError(f"{path}{where}: not valid YAML: {problem}") from None
    r = _Reader(path, lines)
    if not isinstance(data, dict):
        raise r.error((), "the study file must be a mapping with 'name', 'hit' and 'questions'")
    r.unknown_keys(data, {"version", "name", "instructions", "hit", "questions", "attention_checks", "source", "crowd"}, ())
    version = r.get(data, "version", (), int, 1)
    if version != 1:
        raise r.error(("version",), f"unsupported study file version {version} (this Barlow reads version 1)")
    name = r.get(data, "name", (), str)
    instructions = r.get(data, "instructions", (), str, DEFAULT_INSTRUCTIONS)
    settings = _read_settings(r, r.get(data, "hit", (), dict, {}))
    raw_questions = r.get(data, "questions", (), list)
    questions = [_read_question(r, q, ("questions", i)) for i, q in enumerate(raw_questions)]
    raw_checks = r.get(data, "attention_checks", (), list, [])
    checks = [_read_check(r, c, ("attention_checks", i)) for i, c in enumerate(raw_checks)]
    source = r.get(data, "source", (), dict, {})
    crowd = r.get(data, "crowd", (), dict, {})
    spec = StudySpec(
        name=name,
        settings=settings,
        questions=questions,
        instructions=instructions,
        attention_checks=checks,
        source=source,
        version=version,
        crowd=crowd,
    )
    validate_spec(spec, where=str(path), reader=r)
    return spec


def _read_settings(r: _Reader, data: dict) -> HitSettings:
    where = ("hit",)
    defaults = HitSettings()
    r.unknown_keys(data, set(asdict(defaults)), where)
    reward = data.get("reward", defaults.reward)
    if isinstance(reward, (int, float)) and not isinstance(reward, bool):
        reward = f"{reward:.2f}"
    settings = HitSettings(
        title=r.get(data, "title", where, str, defaults.title),
        description=r.get(data, "description", where, str, defaults.description),
        keywords=[str(k) for k in r.get(data, "keywords", where, list, defaults.keywords)],
        reward=str(reward),
        assignments_per_hit=r.get(data, "assignments_per_hit", where, int, defaults.assignments_per_hit),
        assignment_timeout_minutes=r.get(
            data, "assignment_timeout_minutes", where, int, defaults.assignment_timeout_minutes
        ),
        lifetime_days=r.get(data, "lifetime_days", where, int, defaults.lifetime_days),
        auto_approval_days=r.get(data, "auto_approval_days", where, int, defaults.auto_approval_days),
    )
    return settings


_QUESTION_KEYS = {
    "id",
    "type",
    "prompt",
    "required",
    "help",
    "options",
    "option_labels",
    "scale_min",
    "scale_max",
    "scale_labels",
    "min_length",
    "max_length",
    "other",
    "min_choices",
    "max_choices",
    "statements",
}


def _read_question(r: _Reader, data: Any, where: tuple) -> Question:
    if not isinstance(data, dict):
        raise r.error(where, "each question must be a mapping with id, type and prompt")
    r.unknown_keys(data, _QUESTION_KEYS, where)
    qid = r.get(data, "id", where, str)
    qtype = r.get(data, "type", where, str)
    if qtype not in QUESTION_TYPES:
        raise r.error(where + ("type",), f"unknown question type {qtype!r} (use one of {', '.join(QUESTION_TYPES)})")
    q = Question(
        id=qid,
        type=qtype,
        prompt=r.get(data, "prompt", where, str),
        required=r.get(data, "required", where, bool, True),
        help=r.get(data, "help", where, str, ""),
    )
    if qtype in ("choice", "multi"):
        options = r.get(data, "options", where, list)
        q.options = [str(o) for o in options]
        labels = r.get(data, "option_labels", where, dict, {})
        q.option_labels = {str(k): str(v) for k, v in labels.items()}
        if qtype == "multi":
            q.other = r.get(data, "other", where, bool, False)
            q.min_choices = r.get(data, "min_choices", where, int, 1 if q.required else 0)
            q.max_choices = r.get(data, "max_choices", where, int, 0)
    if qtype in ("likert", "survey"):
        q.scale_min = r.get(data, "scale_min", where, int, 1)
        q.scale_max = r.get(data, "scale_max", where, int, 5)
        labels = r.get(data, "scale_labels", where, dict, {})
        try:
            q.scale_labels = {int(k): str(v) for k, v in labels.items()}
        except (TypeError, ValueError):
            raise r.error(where + ("scale_labels",), "keys must be integers on the scale") from None
    if qtype == "survey":
        raw = r.get(data, "statements", where, list)
        for i, st in enumerate(raw):
            at = where + ("statements", i)
            if not isinstance(st, dict):
                raise r.error(at, "each statement must be a mapping with id and text")
            r.unknown_keys(st, {"id", "text"}, at)
            q.statements.append(Statement(id=str(r.get(st, "id", at, (str, int))), text=r.get(st, "text", at, str)))
    if qtype == "text":
        q.min_length = r.get(data, "min_length", where, int, 0)
        q.max_length = r.get(data, "max_length", where, int, 1000)
    return q


def _read_check(r: _Reader, data: Any, where: tuple) -> AttentionCheck:
    if not isinstance(data, dict):
        raise r.error(where, "each attention check must be a mapping with id, instruction and expected")
    r.unknown_keys(data, {"id", "instruction", "expected", "grouping", "class", "feature"}, where)
    expected = r.get(data, "expected", where, dict)
    feature = r.get(data, "feature", where, int, None)
    return AttentionCheck(
        id=str(r.get(data, "id", where, (str, int))),
        instruction=r.get(data, "instruction", where, str),
        expected={str(k): str(v) for k, v in expected.items()},
        grouping=r.get(data, "grouping", where, str, ""),
        class_name=str(r.get(data, "class", where, (str, int), "")),
        feature=feature,
    )


def validate_spec(spec: StudySpec, where: str, reader: _Reader | None = None) -> None:
    """Check the cross-field rules; errors name the question or check at fault."""

    def fail(path: tuple, message: str) -> BarlowError:
        if reader is not None:
            return reader.error(path, message)
        return BarlowError(f"{where}: {'.'.join(map(str, path))}: {message}")

    s = spec.settings
    if not spec.name.strip():
        raise fail(("name",), "must not be empty")
    if not _REWARD_PATTERN.match(s.reward):
        raise fail(("hit", "reward"), f"must be US dollars with two decimals like \"0.50\", got {s.reward!r}")
    if s.assignments_per_hit < 1:
        raise fail(("hit", "assignments_per_hit"), "must be at least 1")
    if s.assignment_timeout_minutes < 1:
        raise fail(("hit", "assignment_timeout_minutes"), "must be at least 1 minute")
    if not spec.questions:
        raise fail(("questions",), "a study needs at least one question")
    seen: set[str] = set()
    for i, q in enumerate(spec.questions):
        path = ("questions", i)
        if not _ID_PATTERN.match(q.id):
            raise fail(path + ("id",), f"{q.id!r} must start with a letter and hold only letters, digits and _")
        if q.id in RESERVED_FIELDS:
            raise fail(path + ("id",), f"{q.id!r} is reserved by the crowd platforms; choose another id")
        if q.id in seen:
            raise fail(path + ("id",), f"duplicate question id {q.id!r}")
        seen.add(q.id)
        if not q.prompt.strip():
            raise fail(path + ("prompt",), "must not be empty")
        if q.type in ("choice", "multi"):
            if len(q.options) < 2:
                raise fail(path + ("options",), f"question {q.id!r} needs at least two options")
            if len(set(q.options)) != len(q.options):
                raise fail(path + ("options",), f"question {q.id!r} lists an option twice")
            extra = set(q.option_labels) - set(q.all_options())
            if extra:
                raise fail(path + ("option_labels",), f"labels for unknown options {sorted(extra)}")
            if q.type == "multi":
                bad = [o for o in q.options if MULTI_SEPARATOR in o or not o.strip()]
                if bad:
                    raise fail(path + ("options",), f"question {q.id!r}: option {bad[0]!r} is empty or holds {MULTI_SEPARATOR!r}, which joins ticked options")
                if q.other and OTHER_OPTION in q.options:
                    raise fail(path + ("options",), f"question {q.id!r}: 'other: true' adds the option {OTHER_OPTION!r}; do not list it")
                n = len(q.all_options())
                if q.min_choices < 0 or q.max_choices < 0 or (q.max_choices and q.max_choices < q.min_choices):
                    raise fail(path + ("max_choices",), f"question {q.id!r}: need 0 <= min_choices <= max_choices (0 = no limit)")
                if q.min_choices > n:
                    raise fail(path + ("min_choices",), f"question {q.id!r}: min_choices {q.min_choices} is more than its {n} options")
                if q.required and q.min_choices < 1:
                    raise fail(path + ("min_choices",), f"question {q.id!r}: a required question needs min_choices >= 1")
        if q.type in ("likert", "survey"):
            if q.scale_max <= q.scale_min:
                raise fail(path + ("scale_max",), f"question {q.id!r}: scale_max must be greater than scale_min")
            if q.scale_max - q.scale_min > 10:
                raise fail(path + ("scale_max",), f"question {q.id!r}: at most 11 points on a scale")
            outside = [k for k in q.scale_labels if not q.scale_min <= k <= q.scale_max]
            if outside:
                raise fail(path + ("scale_labels",), f"question {q.id!r}: labels for points {outside} off the scale")
        if q.type == "survey":
            if not q.statements:
                raise fail(path + ("statements",), f"survey {q.id!r} needs at least one statement")
            ids = [st.id for st in q.statements]
            for j, st in enumerate(q.statements):
                if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_]{0,31}$", st.id):
                    raise fail(path + ("statements", j, "id"), f"statement id {st.id!r} must hold only letters, digits and _")
                if ids.count(st.id) > 1:
                    raise fail(path + ("statements", j, "id"), f"duplicate statement id {st.id!r} in survey {q.id!r}")
                if not st.text.strip():
                    raise fail(path + ("statements", j, "text"), "must not be empty")
        elif q.type == "text":
            if q.min_length < 0 or q.max_length < 1 or q.min_length > q.max_length:
                raise fail(path + ("max_length",), f"question {q.id!r}: need 0 <= min_length <= max_length, max >= 1")
            if q.max_length > 20000:
                raise fail(path + ("max_length",), f"question {q.id!r}: max_length is capped at 20000 characters")
    # Multi-select "other" boxes and survey statements store answers under derived ids;
    # none may collide with another question's.
    fields: dict[str, str] = {}
    for i, q in enumerate(spec.questions):
        for answer_id in q.answer_fields():
            if answer_id in fields and fields[answer_id] != q.id or (answer_id != q.id and answer_id in seen):
                raise fail(("questions", i, "id"), f"question {q.id!r} stores answers under {answer_id!r}, which another question uses")
            if answer_id in RESERVED_FIELDS:
                raise fail(("questions", i, "id"), f"question {q.id!r} stores answers under {answer_id!r}, reserved by the crowd platforms")
            fields[answer_id] = q.id
    check_ids: set[str] = set()
    for i, check in enumerate(spec.attention_checks):
        path = ("attention_checks", i)
        if check.id in check_ids:
            raise fail(path + ("id",), f"duplicate attention check id {check.id!r}")
        check_ids.add(check.id)
        if not check.expected:
            raise fail(path + ("expected",), f"attention check {check.id!r} needs at least one expected answer")
        for qid, value in check.expected.items():
            if qid not in seen:
                raise fail(path + ("expected", qid), f"attention check {check.id!r} expects an answer to unknown question {qid!r}")
            q = spec.question(qid)
            if q.per_worker:
                raise fail(path + ("expected", qid), f"attention check {check.id!r}: survey {qid!r} is asked once per worker, not per HIT")
            try:
                normalize_answer(q, value)
            except AnswerError as exc:
                raise fail(path + ("expected", qid), f"attention check {check.id!r}: expected answer {exc}") from None


def load_study_file(study_dir: str | Path) -> StudySpec:
    """Read and validate ``study_dir/study.yaml`` (contract 6)."""
    study_dir = Path(study_dir)
    path = study_dir / STUDY_FILE
    if not path.is_file():
        hint = "" if study_dir.is_dir() else " (the folder does not exist)"
        raise BarlowError(
            f"no study file {path}{hint}; create a study with "
            "'barlow study create --analysis DIR --out STUDY'"
        )
    spec = parse_study_text(path.read_text(encoding="utf-8"), path)
    spec.folder = study_dir
    return spec


def load_questions_file(path: str | Path) -> list[Question]:
    """Read a YAML/JSON file holding just a ``questions:`` list (for ``study create --questions``)."""
    path = Path(path)
    if not path.is_file():
        raise BarlowError(f"questions file {path} not found")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=_StudyLoader)
    except yaml.YAMLError as exc:
        raise BarlowError(f"{path}: not valid YAML/JSON: {str(exc).splitlines()[0]}") from None
    if not (isinstance(data, list) or (isinstance(data, dict) and "questions" in data)):
        raise BarlowError(f"{path}: expected a list of questions or a mapping with a 'questions' list")
    if isinstance(data, list):
        # Wrap the bare list as a study file; indenting keeps the error line numbers right.
        text = "name: questions\nquestions:\n" + "\n".join("  " + line for line in text.splitlines())
        offset = 2
    else:
        text = "name: questions\n" + text
        offset = 1
    try:
        return parse_study_text(text, path).questions
    except BarlowError as exc:
        raise BarlowError(re.sub(r" line (\d+):", lambda m: f" line {int(m.group(1)) - offset}:", str(exc), count=1)) from None


# ----------------------------------------------------------------------------- answers


class AnswerError(ValueError):
    """One answer that breaks its question's rules; the message is shown to the worker."""


def multi_values(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, (list, tuple)):
        parts = [str(v) for v in raw]
    else:
        parts = str(raw).split(MULTI_SEPARATOR)
    return [p.strip() for p in parts if p and p.strip()]


def normalize_multi(q: Question, raw: Any) -> str:
    """The ticked options of a multi-select answer, in option order, joined by ``|``."""
    ticked = multi_values(raw)
    options = q.all_options()
    unknown = [v for v in ticked if v not in options]
    if unknown:
        raise AnswerError(f"has an option that is not offered: {unknown[0][:40]!r}")
    chosen = [o for o in options if o in ticked]
    if not chosen:
        if q.required:
            raise AnswerError("is required: tick at least one option")
        return ""
    if len(chosen) < q.min_choices:
        raise AnswerError(f"needs at least {q.min_choices} ticked options")
    if q.max_choices and len(chosen) > q.max_choices:
        raise AnswerError(f"allows at most {q.max_choices} ticked options")
    return MULTI_SEPARATOR.join(chosen)


def normalize_answer(q: Question, raw: Any) -> str:
    """Return the stored form of one answer, or raise AnswerError saying what is wrong."""
    if q.type == "multi":
        return normalize_multi(q, raw)
    value = "" if raw is None else str(raw)
    if q.type == "text":
        # Browsers send CRLF; count characters the way the page's maxlength does.
        value = value.replace("\r\n", "\n").strip()
        if not value:
            if q.required:
                raise AnswerError("is required")
            return ""
        if len(value) > q.max_length:
            raise AnswerError(f"is too long ({len(value)} characters; at most {q.max_length})")
        if len(value) < q.min_length:
            raise AnswerError(f"is too short ({len(value)} characters; at least {q.min_length})")
        return value
    value = value.strip()
    if not value:
        if q.required:
            raise AnswerError("is required")
        return ""
    if q.type in ("likert", "survey"):
        try:
            number = int(value)
        except ValueError:
            raise AnswerError(f"must be a whole number from {q.scale_min} to {q.scale_max}, got {value[:20]!r}") from None
        if not q.scale_min <= number <= q.scale_max:
            raise AnswerError(f"must be from {q.scale_min} to {q.scale_max}, got {number}")
        return str(number)
    if value not in q.options:
        raise AnswerError(f"must be one of {', '.join(q.options)}; got {value[:40]!r}")
    return value


def validate_answers(questions: list[Question], form: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Check a submitted form against the questions.

    Returns ``(answers, errors)``: answers by question id (only when there are no errors)
    and one message per question at fault. Fields that are not questions are ignored.
    """
    answers: dict[str, str] = {}
    errors: dict[str, str] = {}
    for q in questions:
        try:
            if q.type == "multi":
                # A form posts one value per ticked box; MultiDict.get would keep only the first.
                raw = form.getlist(q.id) if hasattr(form, "getlist") else form.get(q.id)
                answers[q.id] = value = normalize_multi(q, raw)
                if q.other:
                    other = str(form.get(q.id + OTHER_SUFFIX) or "").replace("\r\n", "\n").strip()
                    ticked = OTHER_OPTION in value.split(MULTI_SEPARATOR)
                    if ticked and not other:
                        raise AnswerError("has \u201cOther\u201d ticked: please say what in its box")
                    if len(other) > 500:
                        raise AnswerError(f"\u201cOther\u201d is too long ({len(other)} characters; at most 500)")
                    answers[q.id + OTHER_SUFFIX] = other if ticked else ""
            elif q.type == "survey":
                missing = []
                for st, answer_id in zip(q.statements, q.answer_fields()):
                    try:
                        answers[answer_id] = normalize_answer(q, form.get(answer_id))
                    except AnswerError as exc:
                        missing.append((st, exc))
                if missing:
                    st, exc = missing[0]
                    more = f" (and {len(missing) - 1} more statement{'s' if len(missing) > 2 else ''})" if len(missing) > 1 else ""
                    raise AnswerError(f"\u201c{st.text[:60]}\u201d {exc}{more}")
            else:
                answers[q.id] = normalize_answer(q, form.get(q.id))
        except AnswerError as exc:
            errors[q.id] = f"{q.id} {exc}"
    return ({} if errors else answers), errors


def check_passed(check: AttentionCheck, answers: Mapping[str, str]) -> bool:
    return all(str(answers.get(qid, "")).strip() == str(value) for qid, value in check.expected.items())
