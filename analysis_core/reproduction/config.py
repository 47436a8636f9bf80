"""The reproduction config: one YAML file names every choice of the paper's protocol.

``${NAME}`` and ``${NAME:-default}`` in a value are replaced from the environment, so a
config can point at a data set or checkpoint folder that differs per machine
(``IMAGENET=/data/ILSVRC2012 barlow reproduce configs/paper-imagenet.yaml``).
``--set key.sub=value`` overrides one entry (the value is read as YAML).
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from analysis_core.artifacts import parameters as p
from analysis_core.artifacts.errors import BarlowError
from analysis_core.mutual_info import METHODS

SCHEDULERS = ("in-process", "local")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class ModelEntry:
    """A model by name (used in tables and folder names) and its ``load_model`` spec."""

    name: str
    spec: str
    trust_checkpoint: bool = False
    get: str = ""  # where to obtain the checkpoint, shown when it is missing


@dataclass
class DataConfig:
    dataset: str = "fashion-mnist:test"
    subset: int | None = None  # N evenly spaced images instead of all (tests, quick looks)
    batch_size: int = 256
    # How image files are decoded: {resize, crop, channels} (default: resize 256, crop 224, RGB).
    transform: dict | None = None
    get: str = ""  # where to obtain the data set, shown when it is missing


@dataclass
class AnalysisSettings:
    """The analysis of section 7: every grouping at every depth; defaults from analysis_core.artifacts.parameters."""

    groupings: list[str] = field(default_factory=lambda: list(p.GROUPINGS))
    depths: list[int] = field(default_factory=lambda: list(range(p.MIN_DEPTH, p.MAX_DEPTH + 1)))
    top_k: int = p.TOP_K
    delta: float = p.DELTA
    tau: float = p.TAU
    mi: str = p.MI
    min_rows: int = p.MIN_ROWS
    seed: int = p.SEED
    # Honest numbers: K-fold cross-fitting of every tree, and a permutation test per group.
    folds: int = p.FOLDS
    permutations: int = p.PERMUTATIONS
    alpha: float = p.ALPHA


@dataclass
class Section6Settings:
    inspected: str = "standard"
    depth: int = 1


@dataclass
class Section8Settings:
    """The crowd study of section 8; defaults are 'barlow study create''s (analysis_core.artifacts.parameters)."""

    inspected: str = "robust"
    top_n: int = p.STUDY_TOP_N
    top_m: int = p.STUDY_TOP_M
    assignments_per_hit: int = p.ASSIGNMENTS_PER_HIT
    reward: str = p.REWARD


# Keys configs written before a setting was renamed still use: old name -> new name.
RENAMED_KEYS = {"section8": {"assignments": "assignments_per_hit"}}


@dataclass
class Section9Settings:
    inspected: str = "robust"
    depth: int = 2


@dataclass
class VisualizationSettings:
    k: int = 6
    iterations: int | None = None
    scope: str = "group"
    leaf_samples: int = 12


@dataclass
class ExecutionSettings:
    scheduler: str = "in-process"  # in-process | local | tcp://HOST:PORT
    workers: int = 2
    threads_per_worker: int = 1
    shard_size: int = 2048  # images per extraction task; a multiple of data.batch_size
    device: str = "cpu"


@dataclass
class ReproductionConfig:
    name: str
    data: DataConfig
    features_model: ModelEntry
    inspected_models: list[ModelEntry]
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    section6: Section6Settings = field(default_factory=Section6Settings)
    section8: Section8Settings = field(default_factory=Section8Settings)
    section9: Section9Settings = field(default_factory=Section9Settings)
    visualization: VisualizationSettings = field(default_factory=VisualizationSettings)
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)
    source: str = ""  # the file it was read from

    def inspected(self, name: str) -> ModelEntry:
        for entry in self.inspected_models:
            if entry.name == name:
                return entry
        raise BarlowError(f"config names inspected model '{name}' but inspected_models has only "
                          f"{', '.join(m.name for m in self.inspected_models)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> "ReproductionConfig":
        names = [m.name for m in self.inspected_models]
        if not names:
            raise BarlowError("config: inspected_models is empty; name at least one model whose failures are analysed")
        if len(set(names)) != len(names):
            raise BarlowError(f"config: inspected model names must differ, got {names}")
        for name in names:
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
                raise BarlowError(f"config: inspected model name {name!r} must be letters, digits, '.', '_' or '-' (it names folders)")
        a = self.analysis
        if not a.groupings:
            raise BarlowError(f"config: analysis.groupings must name at least one of {', '.join(p.GROUPINGS)}")
        for grouping in a.groupings:
            p.check_choice(grouping, p.GROUPINGS, "config: analysis.groupings")
        if not a.depths:
            raise BarlowError("config: analysis.depths must name at least one depth")
        for depth in a.depths:
            p.check_depth(depth, "config: analysis.depths")
        p.check_at_least(a.top_k, 1, "config: analysis.top_k")
        p.check_choice(a.mi, METHODS, "config: analysis.mi (mutual-information estimator)")
        p.check_fraction(a.delta, "config: analysis.delta")
        p.check_fraction(a.tau, "config: analysis.tau")
        p.check_at_least(a.min_rows, 2, "config: analysis.min_rows")
        p.check_at_least(a.folds, 2, "config: analysis.folds (the honest numbers need cross-fitting)")
        p.check_at_least(a.permutations, 0, "config: analysis.permutations")
        p.check_fraction(a.alpha, "config: analysis.alpha", open_low=True, open_high=True)
        for section, depth in (("section6", self.section6.depth), ("section9", self.section9.depth)):
            if depth not in a.depths:
                raise BarlowError(f"config: {section}.depth {depth} is not among analysis.depths {a.depths}")
        for section in (self.section6, self.section8, self.section9):
            self.inspected(section.inspected)
        if self.data.subset is not None and self.data.subset < 1:
            raise BarlowError(f"config: data.subset must be a positive number of images, got {self.data.subset}")
        if self.data.transform is not None:
            from analysis_core.datasets import ImageTransform

            try:
                ImageTransform(**self.data.transform)
            except TypeError as exc:
                raise BarlowError(f"config: data.transform takes resize, crop and channels: {exc}") from None
        if self.data.batch_size < 1:
            raise BarlowError(f"config: data.batch_size must be positive, got {self.data.batch_size}")
        ex = self.execution
        if ex.shard_size < self.data.batch_size or ex.shard_size % self.data.batch_size:
            raise BarlowError(
                f"config: execution.shard_size ({ex.shard_size}) must be a multiple of data.batch_size ({self.data.batch_size}), "
                "so that shards cut the data at the same batch boundaries as a single-machine run"
            )
        check_scheduler(ex.scheduler)
        if ex.workers < 1 or ex.threads_per_worker < 1:
            raise BarlowError("config: execution.workers and execution.threads_per_worker must be at least 1")
        p.check_at_least(self.section8.top_n, 1, "config: section8.top_n")
        p.check_at_least(self.section8.top_m, 1, "config: section8.top_m")
        p.check_at_least(self.section8.assignments_per_hit, 1, "config: section8.assignments_per_hit")
        if self.visualization.scope not in ("group", "dataset"):
            raise BarlowError(f"config: visualization.scope must be group or dataset, got {self.visualization.scope!r}")
        return self


def check_scheduler(value: str) -> str:
    if value in SCHEDULERS or re.fullmatch(r"(tcp|tls|inproc|ucx)://\S+", value):
        return value
    raise BarlowError(f"scheduler must be in-process, local or a Dask address like tcp://HOST:8786, got {value!r}")


def _substitute(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise BarlowError(f"config {where}: environment variable {name} is not set (the value is {value!r})")

    return _VAR.sub(replace, value)


def _apply_override(raw: dict, text: str) -> None:
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise BarlowError(f"--set must look like section.key=value, got {text!r}")
    parts = key.strip().split(".")
    node = raw
    for part in parts[:-1]:
        if isinstance(node, list):
            node = _list_item(node, part, text)
            continue
        node = node.setdefault(part, {})
        if not isinstance(node, (dict, list)):
            raise BarlowError(f"--set {text!r}: {part} is not a section")
    parsed = yaml.safe_load(value) if value.strip() else ""
    if isinstance(node, list):
        index = _list_index(node, parts[-1], text)
        node[index] = parsed
    else:
        node[parts[-1]] = parsed


def _list_index(node: list, part: str, text: str) -> int:
    if part.isdigit() and int(part) < len(node):
        return int(part)
    raise BarlowError(f"--set {text!r}: {part!r} is not an index of a {len(node)}-item list")


def _list_item(node: list, part: str, text: str):
    # inspected_models.standard.spec=... addresses a list entry by its name, too.
    for item in node:
        if isinstance(item, dict) and item.get("name") == part:
            return item
    return node[_list_index(node, part, text)]


def _build(cls, data: Any, where: str):
    if not isinstance(data, dict):
        raise BarlowError(f"config {where}: expected a mapping, got {type(data).__name__}")
    for old, new in RENAMED_KEYS.get(where, {}).items():
        if old in data:
            if new in data:
                raise BarlowError(f"config {where}: {old} is the old name of {new}; give only {new}")
            data = {new if k == old else k: v for k, v in data.items()}
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise BarlowError(f"config {where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    try:
        return cls(**data)
    except TypeError as exc:
        raise BarlowError(f"config {where}: {exc}") from None


def _model(data: Any, where: str, default_name: str | None = None) -> ModelEntry:
    if isinstance(data, str):
        data = {"spec": data}
    if isinstance(data, dict) and "name" not in data and default_name:
        data = {"name": default_name, **data}
    entry = _build(ModelEntry, data, where)
    if not entry.spec:
        raise BarlowError(f"config {where}: spec is empty")
    return entry


def config_from_dict(raw: dict, source: str = "") -> ReproductionConfig:
    raw = _substitute(copy.deepcopy(raw), "")
    required = [k for k in ("name", "data", "features_model", "inspected_models") if k not in raw]
    if required:
        raise BarlowError(f"config {source}: missing {', '.join(required)}")
    sections = {
        "analysis": AnalysisSettings, "section6": Section6Settings, "section8": Section8Settings,
        "section9": Section9Settings, "visualization": VisualizationSettings, "execution": ExecutionSettings,
    }
    known = {"name", "data", "features_model", "inspected_models", "description", *sections}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise BarlowError(f"config {source}: unknown section(s) {', '.join(unknown)}")
    if not isinstance(raw["inspected_models"], list):
        raise BarlowError(f"config {source}: inspected_models must be a list of {{name, spec}}")
    config = ReproductionConfig(
        name=str(raw["name"]),
        data=_build(DataConfig, raw["data"], "data"),
        features_model=_model(raw["features_model"], "features_model", default_name="features"),
        inspected_models=[_model(m, f"inspected_models[{i}]") for i, m in enumerate(raw["inspected_models"])],
        source=source,
        **{key: _build(cls, raw.get(key) or {}, key) for key, cls in sections.items()},
    )
    return config.validate()


def shipped_configs_dir() -> Path | None:
    """configs/ of a source checkout, or the copy a wheel carries (analysis_core/_shipped/configs)."""
    from importlib.resources import files

    for path in (Path(str(files("analysis_core"))) / "_shipped" / "configs", Path(__file__).resolve().parents[2] / "configs"):
        if path.is_dir():
            return path
    return None


def resolve_config_path(text: str) -> Path:
    """A path, or the name of a shipped config (``fashion-mnist`` -> configs/fashion-mnist.yaml)."""
    path = Path(text)
    if path.is_file():
        return path
    shipped = shipped_configs_dir()
    if shipped is not None and "/" not in text and (shipped / f"{text}.yaml").is_file():
        return shipped / f"{text}.yaml"
    available = sorted(p.stem for p in shipped.glob("*.yaml")) if shipped else []
    raise BarlowError(f"config {text} not found (a YAML file, or one of the shipped: {', '.join(available) or 'none'})")


def load_config(text: str, overrides: list[str] | None = None) -> ReproductionConfig:
    import yaml

    path = resolve_config_path(text)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BarlowError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise BarlowError(f"{path} must hold a mapping of sections")
    for text_override in overrides or []:
        _apply_override(raw, text_override)
    return config_from_dict(raw, str(path))


def robust_and_standard(config: ReproductionConfig) -> tuple[str | None, str | None]:
    """Which inspected models the section 7 claims compare: the one named like the features model is 'robust'."""
    names = [m.name for m in config.inspected_models]
    robust = next((m.name for m in config.inspected_models if m.spec == config.features_model.spec), None)
    robust = robust or ("robust" if "robust" in names else None)
    standard = "standard" if "standard" in names else next((n for n in names if n != robust), None)
    return standard, robust
