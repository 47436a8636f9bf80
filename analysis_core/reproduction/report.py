"""The reproduction report: one document rendered as report.md and report.html.

The document is a list of blocks (headings, paragraphs, tables, figures) so that both
renderings say exactly the same thing; the HTML goes through Jinja2 with autoescape on.
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import dataclass, field
from pathlib import Path

from analysis_core.artifacts.atomic import atomic_path
from analysis_core.artifacts.extraction import read_manifest
from analysis_core.artifacts.study_folder import StudyFolder
from analysis_core.artifacts.study_items import read_items
from analysis_core.reproduction.config import ReproductionConfig


@dataclass
class Block:
    kind: str  # heading | paragraph | table | figure | code
    text: str = ""
    level: int = 2
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    path: str = ""


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for package in ("barlow", "torch", "torchvision", "numpy", "scikit-learn", "scipy", "pandas", "dask", "distributed"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def build_document(config: ReproductionConfig, out: Path, timings: dict, recorded_seconds: dict, commit: str | None,
                   command: str | None = None) -> list[Block]:
    import pandas as pd

    from analysis_core.reproduction.claims import section7_claims, section8_claims
    from analysis_core.reproduction.config import robust_and_standard

    blocks = [Block("heading", f"Reproduction of Singla et al., CVPR 2021: {config.name}", level=1)]
    blocks.append(Block("paragraph",
                        "Every quantitative claim of the paper's sections 7 and 8 with the paper's number, ours and whether it "
                        "holds. In section 7 'standard vs robust' is the model whose failures are inspected; the features always "
                        f"come from the features model ({config.features_model.spec}). In-sample numbers are computed as the paper "
                        f"does (trees fitted and measured on all rows of a class); honest numbers come from "
                        f"{config.analysis.folds}-fold cross-fitting (every tree refitted on the other folds, each row scored once "
                        "by a tree that did not see it), and a permutation test per class asks whether there is any failure mode "
                        f"at all ({config.analysis.permutations} permutations, Benjamini-Hochberg q <= {config.analysis.alpha})."))
    blocks.append(Block("code", command or f"barlow reproduce {config.source or config.name} --out {out.name}"))

    manifests = {m.name: read_manifest(out / "extraction" / m.name) for m in config.inspected_models}
    first = next(iter(manifests.values()), {})
    subset = first.get("subset")
    setup = [
        ["data set", f"{config.data.dataset}" + (f" ({subset['n']} of {subset['of']} images, {subset['rule']})" if subset else f" ({first.get('n_images', '?')} images)")],
        ["features model", f"{config.features_model.spec} ({first.get('n_features', '?')} features)"],
    ]
    for m in config.inspected_models:
        man = manifests[m.name]
        setup.append([f"inspected model '{m.name}'", f"{m.spec}: accuracy {_fmt(man.get('accuracy'))}, {man.get('n_failures', '?')} failures"])
    a = config.analysis
    setup += [
        ["analysis", f"groupings {', '.join(a.groupings)}; depths {', '.join(map(str, a.depths))}; top-{a.top_k} features by MI ({a.mi}); "
                     f"delta = {a.delta}, tau = {a.tau}; seed {a.seed}"],
        ["execution", f"scheduler {config.execution.scheduler}; shards of {config.execution.shard_size} images; device {config.execution.device}"],
        ["commit", commit or "unknown"],
    ]
    blocks += [Block("heading", "Setup"), Block("table", header=["", ""], rows=setup)]

    section7 = out / "section7"
    per_class = pd.read_csv(section7 / "per_class.csv")
    summary = pd.read_csv(section7 / "table.csv")
    honest = pd.read_csv(section7 / "honest_per_class.csv")
    honest_summary = pd.read_csv(section7 / "honest_table.csv")
    for table in (per_class, summary, honest, honest_summary):
        if "class" in table:
            table["class"] = table["class"].astype(str)
    standard, robust = robust_and_standard(config)
    claims = section7_claims(per_class, summary, honest, honest_summary, [m.name for m in config.inspected_models],
                             list(a.groupings), sorted(a.depths), standard, robust)
    study_dir = out / "section8" / "study"
    n_hits, n_classes = _study_size(study_dir)
    claims += section8_claims(n_hits, n_classes, config.section8.top_n, config.section8.top_m, None)
    blocks.append(Block("heading", "Claims of sections 7 and 8"))
    blocks.append(Block("table", header=["section", "claim", "paper", "ours (in-sample)", "holds", "ours (honest)", "holds (honest)"],
                        rows=[[c.section, c.claim, c.paper, c.ours, c.holds, c.ours_honest or "-", c.holds_honest or "-"] for c in claims]))
    blocks.append(Block("paragraph", "p-values: one-sided Wilcoxon signed-rank test over the classes both settings analysed "
                                     "(paired by class); 'significantly' holds at p < 0.05."))

    blocks.append(Block("heading", "Section 7: Table 1 (per inspected model, grouping and depth)"))
    merged = summary.merge(honest_summary, on=["model", "grouping", "depth"], how="left", suffixes=("", "_honest"))
    blocks.append(Block("table", header=["inspected", "grouping", "depth", "classes", "mean ALER-BER (± SEM)", "top-IV leaf valid",
                                         "any leaf valid", "honest ALER-BER (± SEM)", "honest top-IV leaf valid",
                                         "classes with a failure mode (permutation test)"],
                        rows=[[r.model, r.grouping, str(r.depth), str(r.n_classes),
                               f"{_fmt(r.mean_aler_minus_ber, 4)} ± {_fmt(r.sem_aler_minus_ber, 4)}", _fmt(r.fraction_top_leaf_valid),
                               _fmt(r.fraction_any_leaf_valid), f"{_fmt(r.mean_aler_minus_ber_honest, 4)} ± {_fmt(r.sem_aler_minus_ber_honest, 4)}",
                               _fmt(r.fraction_top_leaf_valid_honest), _fmt(r.fraction_significant)]
                              for r in merged.itertuples(index=False)]))
    blocks.append(Block("paragraph", "Valid: ER > BER + delta and EC > tau (strict, as section 7). Per-class numbers: "
                                     "section7/per_class.csv and section7/honest_per_class.csv."))
    for figure in sorted(section7.glob("*.png"), key=lambda p: (p.name.startswith("honest_"), p.name != "overview.png", p.name)):
        blocks.append(Block("figure", text=figure.stem.replace("_", " "), path=f"section7/{figure.name}"))

    blocks.append(Block("heading", "Section 6: failure modes (Figures 6 and 7)"))
    blocks.append(Block("paragraph", f"Inspected model '{config.section6.inspected}', depth-{config.section6.depth} trees; per grouping "
                                     "the classes whose top-IV leaf has the highest importance value: the split feature's most activating "
                                     "images (A), heatmaps (B), feature attack (C) and failures of the leaf (its most typical ones "
                                     "where the analysis scored them, else random ones)."))
    examples = pd.read_csv(out / "section6" / "examples.csv", keep_default_na=False) if (out / "section6" / "examples.csv").is_file() else None
    if examples is not None:
        for row in examples.itertuples(index=False):
            if row.figure:
                blocks.append(Block("figure", text=row.sentence, path=f"section6/{row.figure}"))
        blocks.append(Block("paragraph", "Every class's top-IV leaf and sentence: section6/examples.csv."))

    blocks.append(Block("heading", "Section 8: crowd study"))
    blocks.append(Block("paragraph", f"{n_hits} HITs (one per visualization) in section8/study, chosen by the error rate of "
                                     f"inspected model '{config.section8.inspected}', {config.section8.assignments_per_hit} workers each, "
                                     f"${config.section8.reward} per HIT. Run it locally or on a crowd platform:"))
    blocks.append(Block("code", f"barlow study serve {out.name}/section8/study --port 8000 --admin-token CHOOSE-ONE"))

    blocks.append(Block("heading", "Section 9: practitioner study"))
    if (out / "section9" / "study" / "study.yaml").is_file():
        blocks.append(Block("paragraph", f"A failure-review study of the depth-{config.section9.depth} trees of inspected model "
                                         f"'{config.section9.inspected}' is in section9/study."))
    else:
        left_out = out / "section9" / "left_out.txt"
        reason = left_out.read_text(encoding="utf-8").strip() if left_out.is_file() else "not built by this run"
        blocks.append(Block("paragraph", f"Left out: {reason}."))

    blocks.append(Block("heading", "Time per step"))
    rows = []
    for name, seconds in recorded_seconds.items():
        now = timings.get(name)
        rows.append([name, _fmt(seconds, 1) + " s", "reused" if now and now["reused"] else ("ran" if now else "-")])
    blocks.append(Block("table", header=["step", "time when computed", "this run"], rows=rows))
    blocks.append(Block("heading", "Versions"))
    blocks.append(Block("table", header=["package", "version"], rows=[[k, v] for k, v in _versions().items()]))
    blocks.append(Block("heading", "Config"))
    blocks.append(Block("code", json.dumps(config.to_dict(), indent=1, default=str)))
    return blocks


def _study_size(study_dir: Path) -> tuple[int, dict[str, int]]:
    folder = StudyFolder(study_dir)
    if not folder.items_file.is_file():
        return 0, {}
    items = read_items(folder.items_file)
    classes: dict[str, set] = {}
    for item in items:
        classes.setdefault(item.grouping, set()).add(item.class_name)
    return len(items), {g: len(c) for g, c in classes.items()}


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for b in blocks:
        if b.kind == "heading":
            lines += ["#" * b.level + " " + b.text, ""]
        elif b.kind == "paragraph":
            lines += [b.text, ""]
        elif b.kind == "code":
            lines += ["```", b.text, "```", ""]
        elif b.kind == "figure":
            lines += [f"![{_md_cell(b.text)}]({b.path})", "", f"*{b.text}*", ""]
        elif b.kind == "table":
            lines.append("| " + " | ".join(_md_cell(h) for h in b.header) + " |")
            lines.append("|" + "---|" * len(b.header))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            lines.append("")
    return "\n".join(lines)


HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
td.yes { background: #e3f5e3; } td.no { background: #fbe3e3; } td.partly { background: #fff3d6; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
</style></head><body>
{% for b in blocks %}
{% if b.kind == "heading" %}<h{{ b.level }}>{{ b.text }}</h{{ b.level }}>
{% elif b.kind == "paragraph" %}<p>{{ b.text }}</p>
{% elif b.kind == "code" %}<pre><code>{{ b.text }}</code></pre>
{% elif b.kind == "figure" %}<figure><img src="{{ b.path }}" alt="{{ b.text }}"><figcaption>{{ b.text }}</figcaption></figure>
{% elif b.kind == "table" %}<table>{% if b.header %}<tr>{% for h in b.header %}<th>{{ h }}</th>{% endfor %}</tr>{% endif %}
{% for row in b.rows %}<tr>{% for c in row %}<td class="{{ c.split(' ')[0] if c.split(' ')[0] in ('yes', 'no', 'partly') else '' }}">{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endif %}{% endfor %}
</body></html>
"""


def to_html(blocks: list[Block]) -> str:
    from jinja2 import Environment

    env = Environment(autoescape=True)
    title = blocks[0].text if blocks else "Reproduction"
    return env.from_string(HTML).render(blocks=blocks, title=title)


def write_report(config: ReproductionConfig, out: Path, *, timings: dict, recorded_seconds: dict, commit: str | None,
                 command: str | None = None) -> Path:
    blocks = build_document(config, out, timings, recorded_seconds, commit, command)
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(to_markdown(blocks), encoding="utf-8")
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(to_html(blocks), encoding="utf-8")
    return out / "report.html"
