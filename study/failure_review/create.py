"""Build a failure-review study folder from an analysis with visualizations.

One HIT per valid leaf (``unit="leaf"``), or one per group holding a valid leaf with its
tree cut at ``max_depth`` (``unit="tree"``, the practitioner protocol of section 9). What a
HIT shows is written to ``review.json`` (see :mod:`study.failure_review.context`); its
pictures are copied under ``images/`` like a feature study's strips.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from analysis_core.artifacts.analysis_folder import AnalysisFolder
from analysis_core.artifacts.atomic import staged_dir
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.options import option
from analysis_core.artifacts.review_file import ReviewDocument, write_review
from analysis_core.artifacts.study_folder import ITEMS_FILE
from analysis_core.artifacts.study_items import StudyItem, write_items
from study.create import (
    CreateOptions,
    hit_settings,
    make_attention_checks,
    study_folders,
    study_image_path,
)
from study.failure_review import KIND
from study.failure_review.questions import (
    JUDGEMENT,
    default_questions,
    default_settings,
)
from study.hits import HITS_FILE, SECTIONS, HitSpec, write_hits
from study.study_file import AttentionCheck, StudySpec, write_study_file

UNITS = ("leaf", "tree")


@dataclass
class ReviewOptions(CreateOptions):
    """'barlow study create --kind failure-review': the feature study's options and these."""

    unit: str = option("leaf", "failure-review: one HIT per valid leaf, or per group's failure tree", choices=UNITS)
    max_depth: int = option(2, "failure-review: tree levels a HIT draws (the paper's practitioners saw depth 2)", metavar="D")

    def validate(self) -> "ReviewOptions":
        super().validate()
        if self.unit not in UNITS:
            raise BarlowError(f"--unit must be one of {', '.join(UNITS)}, got {self.unit!r}")
        if self.max_depth < 1:
            raise BarlowError("--max-depth must be at least 1")
        return self


@dataclass
class ReviewItem:
    grouping: str
    class_name: str
    feature: int  # the feature the reviewer judges: the leaf's last split (tree unit: the root's)
    context: dict

    def study_item(self) -> StudyItem:
        """Its row of items.csv: the reviewed leaf (none for a whole tree), its rule and rates."""
        leaf = self.context["leaf"] or {}
        return StudyItem(
            self.grouping, self.class_name, self.feature, ber=self.context["group"]["ber"],
            leaf=leaf.get("id"), rule=leaf.get("rule") or "", er=leaf.get("er"), ec=leaf.get("ec"),
        )


def _prune(node: dict, max_depth: int, path: set[int], depth: int = 0) -> dict:
    out = {
        "id": node["id"],
        "edge": node.get("edge"),
        "is_leaf": bool(node["is_leaf"]),
        "n": node["n"],
        "n_fail": node["n_fail"],
        "er": node["er"],
        "ec": node["ec"],
        "valid": bool(node.get("valid")),
        "on_path": node["id"] in path,
        "cut": False,
        "children": [],
    }
    if node.get("children"):
        if depth >= max_depth:
            out["cut"] = True
        else:
            out["children"] = [_prune(c, max_depth, path, depth + 1) for c in node["children"]]
    return out


def _path_ids(tree: dict, leaf_id: int) -> list[int]:
    def walk(node: dict, trail: list[int]) -> list[int] | None:
        trail = trail + [node["id"]]
        if node["id"] == leaf_id:
            return trail
        for child in node.get("children", []):
            found = walk(child, trail)
            if found:
                return found
        return None

    return walk(tree, []) or []


def _tree_features(tree: dict, max_depth: int) -> list[int]:
    """Features splitting the nodes drawn (depth < max_depth), breadth first."""
    out: list[int] = []
    level = [tree]
    for _ in range(max_depth):
        nxt = []
        for node in level:
            for child in node.get("children", []):
                if child.get("edge_feature") is not None and child["edge_feature"] not in out:
                    out.append(int(child["edge_feature"]))
                nxt.append(child)
        level = nxt
    return out


def review_items(data, unit: str, max_depth: int) -> tuple[list[ReviewItem], list[str], list[str]]:
    """The HITs' contents from report data; also the feature strips and the sample grids not drawn.

    A leaf can be valid by its held-out (honest) estimate yet hold no failures of the
    fitting rows, which are the ones 'barlow visualize' samples from: such a grid cannot
    exist, so missing grids are reported, not refused. Missing feature strips are refused.
    """
    correct_index = data.visualizations.correct or {}
    items: list[ReviewItem] = []
    missing: list[str] = []
    no_samples: list[str] = []
    for group in data.groups:
        valid = [leaf for leaf in group["leaves"] if leaf["valid"]]
        if unit == "tree" and not valid and group.get("top_leaf") and (group["tree"] or {}).get("children"):
            # The practitioner protocol reviews a group's tree even without a valid leaf;
            # its leaf of highest importance stands in for the failures to show.
            valid = [group["top_leaf"]]
        if not valid or group["tree"] is None:
            continue
        features_by_id = {f["id"]: f for f in group["split_features"]}
        correct = correct_index.get(f"{group['grouping']}/{group['class']}")
        if correct is None:
            no_samples.append(f"correct images of {group['grouping']} {group['class']}")
        head = {
            "grouping": group["grouping"],
            "class": group["class"],
            "n": group["n"],
            "n_fail": group["n_fail"],
            "ber": group["ber"],
            "depth": group["depth"],
        }
        units = [[leaf] for leaf in valid] if unit == "leaf" else [valid]
        for leaves in units:
            if unit == "leaf":
                leaf = leaves[0]
                path = _path_ids(group["tree"], leaf["id"])
                feature_ids = list(leaf["bounds"])
                tree = _prune(group["tree"], max(max_depth, len(path) - 1), set(path))
            else:
                leaf = None
                tree = _prune(group["tree"], max_depth, set())
                feature_ids = _tree_features(group["tree"], max_depth)
            features = []
            for fid in feature_ids:
                f = features_by_id.get(fid)
                if f is None or not f["vis"]:
                    missing.append(f"A/B/C of feature {fid}")
                    continue
                bound = next((b["text"] for b in f["failure_bounds"] if leaf is not None and b["leaf"] == leaf["id"]), "")
                features.append({"id": fid, "mi": f["mi"], "description": f["description"], "vis": {s: f["vis"][s] for s in SECTIONS}, "bound": bound})
            failures = []
            for lf in leaves:
                if not lf["samples"]:
                    no_samples.append(f"failure samples of {group['grouping']} {group['class']} leaf {lf['id']}")
                    continue
                failures.append(
                    {
                        "leaf": lf["id"],
                        "rule": lf["rule"],
                        "samples": lf["samples"]["samples"],
                        "n_shown": len(lf["samples"]["rows"]),
                        "n_fail_in_leaf": lf["samples"]["n_fail_in_leaf"],
                        "typical": lf["samples_typical"],
                    }
                )
            context = {
                "unit": unit,
                "group": head,
                "leaf": None
                if leaf is None
                else {k: leaf.get(k) for k in ("id", "rule", "n", "n_fail", "er", "ec", "iv", "valid", "sentence", "honest")},
                "leaves": [{k: lf[k] for k in ("id", "rule", "n", "n_fail", "er", "ec", "sentence")} for lf in leaves],
                "tree": tree,
                "features": features,
                "failures": failures,
                "correct": None if correct is None else {"samples": correct["samples"], "n_shown": len(correct["rows"]), "n_correct": correct["n_correct"]},
            }
            judged = feature_ids[-1] if unit == "leaf" and feature_ids else (feature_ids[0] if feature_ids else -1)
            items.append(ReviewItem(group["grouping"], str(group["class"]), int(judged), context))
    return items, sorted(set(missing)), sorted(set(no_samples))


def create_review_study(
    analysis_dir: str | Path, out_dir: str | Path, options: ReviewOptions, load_report_data: Callable[[Path], Any]
) -> tuple[StudySpec, list[HitSpec]]:
    """Write a failure-review study of the analysis in ``analysis_dir``.

    ``load_report_data`` reads the analysis folder as the report shows it (groups, leaves with
    their sentences, feature views); the application layer passes
    ``analysis_core.report.context.load_report_data``, so this library needs no report code.
    """
    analysis_dir, out_dir = study_folders(analysis_dir, out_dir)
    options.validate()
    if options.items_csv is not None:
        raise BarlowError("--items lists features for feature-description studies; a failure-review study takes the analysis's valid leaves")
    folder = AnalysisFolder(analysis_dir)
    if not folder.index_path.is_file():
        raise BarlowError(f"{analysis_dir} has no visualizations; run 'barlow visualize --analysis {analysis_dir}' first")
    data = load_report_data(analysis_dir)
    items, missing, no_samples = review_items(data, options.unit, options.max_depth)
    if not items:
        raise BarlowError(f"{analysis_dir}: no group has a valid failure mode (leaf) to review"
                          + (" (--unit tree reviews every group whose tree splits)" if options.unit == "leaf" else " nor a tree that splits"))
    if missing:
        shown = "; ".join(missing[:8]) + ("; ..." if len(missing) > 8 else "")
        raise BarlowError(
            f"{len(missing)} feature view(s) a review HIT needs are not drawn: {shown}; "
            f"run 'barlow visualize --analysis {analysis_dir}' (it draws split features, leaf failures and correct images)"
        )

    questions = options.questions or default_questions()
    if not any(q.id == JUDGEMENT and q.type == "choice" for q in questions):
        raise BarlowError(f"a failure-review study needs a choice question with id '{JUDGEMENT}' (core or spurious); the analysis reads it")
    checks = _attention_checks(questions, items, options.attention_checks)
    spec = StudySpec(
        name=options.name or out_dir.resolve().name,
        settings=hit_settings(options, default_settings()),
        questions=questions,
        instructions=_instructions(),
        attention_checks=checks,
        source={
            "kind": KIND,
            "analysis": str(analysis_dir),
            "features_model": data.visualizations.features_model,
            "dataset": data.visualizations.dataset,
            "protocol": {"unit": options.unit, "max_depth": options.max_depth},
            # Sample grids 'barlow visualize' did not draw; those HITs say so on the page.
            "pictures_not_drawn": no_samples,
            **options.extra,
        },
    )

    with staged_dir(out_dir) as stage:
        vis_dir = folder.visualizations_dir

        def copy(rel: str, target: str) -> str:
            if not (stage / target).is_file():
                (stage / target).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(vis_dir / rel, stage / target)
            return target

        for item in items:
            ctx = item.context
            for f in ctx["features"]:
                f["vis"] = {s: copy(p, study_image_path(p, f["id"], s)) for s, p in f["vis"].items()}
            for fail in ctx["failures"]:
                fail["samples"] = copy(fail["samples"], "images/" + fail["samples"])
            if ctx["correct"]:
                ctx["correct"]["samples"] = copy(ctx["correct"]["samples"], "images/" + ctx["correct"]["samples"])
        hits, contexts = _build_hits(items, checks)
        write_study_file(spec, stage)
        write_hits(hits, stage / HITS_FILE)
        write_review(ReviewDocument(unit=options.unit, hits=contexts, kind=KIND), stage)
        write_items([it.study_item() for it in items], stage / ITEMS_FILE)
    return spec, hits


def _instructions() -> str:
    from study.failure_review.questions import INSTRUCTIONS

    return INSTRUCTIONS


def _attention_checks(questions, items: list[ReviewItem], n: int) -> list[AttentionCheck]:
    return make_attention_checks(questions, [it.study_item() for it in items], n)


def _build_hits(items: list[ReviewItem], checks: list[AttentionCheck]) -> tuple[list[HitSpec], dict[str, dict]]:
    """HITs (checks spread through them, as in feature studies) and each HIT's context."""
    hits: list[HitSpec] = []
    contexts: dict[str, dict] = {}
    for i, it in enumerate(items):
        key = f"h{i + 1:04d}"
        hits.append(HitSpec(key=key, grouping=it.grouping, class_name=it.class_name, feature=it.feature, images=_main_images(it)))
        contexts[key] = it.context
    for j, check in enumerate(checks):
        # make_attention_checks picks its item as items[(j * 7) % len(items)].
        source = items[(j * 7) % len(items)]
        key = f"c{j + 1:03d}"
        at = round((j + 1) * len(items) / (len(checks) + 1)) + j
        hits.insert(
            min(at, len(hits)),
            HitSpec(key=key, grouping=check.grouping, class_name=check.class_name, feature=int(check.feature),
                    images=_main_images(source), is_attention_check=True, check_id=check.id),
        )
        contexts[key] = source.context
    return hits, contexts


def _main_images(item: ReviewItem) -> dict[str, str]:
    """The judged feature's strips, so hits.csv stays a valid feature-study HIT list."""
    for f in item.context["features"]:
        if f["id"] == item.feature:
            return dict(f["vis"])
    return dict(item.context["features"][0]["vis"]) if item.context["features"] else {}
