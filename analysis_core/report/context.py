"""Everything the report shows, gathered from an analysis folder into plain dicts.

Each figure has one source: every number of a group and of its leaves comes from
failure_modes.csv (so the page shows exactly the analysis table, extra columns included);
the tree's structure, rules and inner nodes from trees.json; pictures from
visualizations/index.json; feature descriptions from feature_descriptions.csv.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from analysis_core.artifacts import (
    AnalysisFolder,
    FeatureDescription,
    GroupTree,
    TreeNode,
    TreesDocument,
    VisualizationIndex,
    group_slugs,
    read_descriptions,
)
from analysis_core.artifacts.descriptions import DESCRIPTIONS_FILE
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.tables import optional_float
from analysis_core.artifacts.judgements import JUDGEMENTS_FILE, read_judgements
from analysis_core.artifacts.visualization_index import LEAF_TYPICAL, leaf_selection
from analysis_core.report.judgements import attach_judgements
from analysis_core.report.sentences import (
    condition_text,
    fmt_rate,
    leaf_sentence,
    merge_conditions,
    path_conditions,
)

# Group figures, read from the first failure_modes.csv row of the group (equal on every row).
GROUP_COLUMNS = ("depth", "n", "n_fail", "ber", "aler", "aler_minus_ber")


@dataclass
class ReportData:
    analysis_dir: Path
    trees: TreesDocument
    groups: list[dict]  # one view dict per group, in trees.json order
    skipped: list[dict]
    visualizations: VisualizationIndex
    descriptions: dict[int, FeatureDescription]
    has_holdout: bool
    summary: dict = field(default_factory=dict)


def scope_text(entry: dict, scope: str, grouping: str, class_name: str) -> str:
    """Where section A's images come from, e.g. 'top 6 of the 1,000 images labelled Shirt'."""
    k = len(entry.get("top_rows", []))
    if scope != "group":
        return f"top {k} of the data set"
    n = entry.get("group_rows")
    which = "labelled" if grouping == "label" else "predicted as"
    return f"top {k} of the {n:,} images {which} {class_name}" if n is not None else f"top {k} of the images {which} {class_name}"


def _node_dicts(group: GroupTree) -> dict[int, dict]:
    """Nodes as the plain dicts the sentence helpers walk (parent links, feature, threshold)."""
    return {node.id: node.to_dict() for node in group.nodes}


def _leaf_view(group: GroupTree, row: dict, nodes: dict[int, dict], ber: float, vis: VisualizationIndex, short: dict[int, str]) -> dict:
    """One leaf: its figures from its failure_modes.csv row, its rule and path from the tree."""
    leaf_id = int(row["leaf"])
    samples = vis.leaf_samples(group, leaf_id)
    conditions = path_conditions(nodes, leaf_id) if leaf_id in nodes else []
    er, ec = float(row["er"]), float(row["ec"])
    honest = _honest(row)
    # Sentences state the honest (cross-fitted) rates when the analysis has them.
    say_er, say_ec = (honest["er"], honest["ec"]) if honest else (er, ec)
    return {
        "id": leaf_id,
        "rule": nodes[leaf_id]["rule"] if leaf_id in nodes else str(row.get("rule") or ""),
        "n": int(row["n_leaf"]),
        "n_fail": int(row["n_fail_leaf"]),
        "er": er,
        "ec": ec,
        "iv": float(row["iv"]),
        "valid": bool(row["valid"]),
        "valid_in_sample": bool(row.get("valid_in_sample", row["valid"])),
        "rank": int(optional_float(row.get("rank")) or 0),
        "honest": honest,
        "er_ci": (optional_float(row.get("er_ci_low")), optional_float(row.get("er_ci_high"))),
        "p_value": optional_float(row.get("p_value")),
        "q_value": optional_float(row.get("q_value")),
        "holdout": {k[len("holdout_") :]: optional_float(v) for k, v in row.items() if k.startswith("holdout_")},
        "sentence_html": leaf_sentence(group.grouping, group.class_name, ber, conditions, say_er, say_ec, short, html=True),
        "sentence": leaf_sentence(group.grouping, group.class_name, ber, conditions, say_er, say_ec, short),
        "samples": samples,
        "samples_typical": samples is not None and leaf_selection(samples) == LEAF_TYPICAL,
        "bounds": {b.feature: b for b in merge_conditions(conditions)},
        "typical": [],  # filled from failure_scores.csv by _attach_typical
    }


def _tree_view(group: GroupTree, leaves: list[dict], top: dict | None) -> dict | None:
    """The tree drawn on the page: inner nodes from trees.json, leaves with their table figures."""
    nodes = group.node_map()
    leaves_by_id = {leaf["id"]: leaf for leaf in leaves}

    def build(node: TreeNode) -> dict:
        view = {
            "id": node.id,
            "is_leaf": node.is_leaf,
            "feature": node.feature,
            "threshold": node.threshold,
            "n": node.n,
            "n_fail": node.n_fail,
            "er": float(node.er if node.er is not None else math.nan),
            "ec": float(node.ec if node.ec is not None else math.nan),
            "iv": float(node.iv if node.iv is not None else math.nan),
            "valid": False,
            "children": [],
            "edge": None,
            "edge_feature": None,
            "holdout": {},
            "is_top": False,
        }
        if node.id in leaves_by_id:
            leaf = leaves_by_id[node.id]
            view.update({k: leaf[k] for k in ("n", "n_fail", "er", "ec", "iv", "valid", "holdout")})
            view["is_top"] = top is not None and leaf["id"] == top["id"]
        if node.is_split:
            for side, child in (("\u2264", node.left), (">", node.right)):
                if child is not None:
                    sub = build(nodes[child])
                    sub["edge"] = f"feature[{node.feature}] {side} {float(node.threshold):.4f}"
                    sub["edge_feature"] = node.feature
                    view["children"].append(sub)
        return view

    return build(group.root) if group.root is not None else None


def _feature_view(fid: int, group: GroupTree, leaves: list[dict], top: dict | None, vis: VisualizationIndex, descriptions: dict[int, FeatureDescription]) -> dict:
    entry, scope = vis.feature_entry(group.grouping, group.class_name, fid)
    desc = descriptions.get(fid)
    mi = {s.feature: s.mi for s in group.selected_features}
    return {
        "id": fid,
        "mi": mi.get(fid),
        "description": desc.description if desc else None,
        "agreement": desc.agreement if desc else None,
        "vis": entry,
        "vis_scope": scope_text(entry, scope, group.grouping, group.class_name) if entry else None,
        "splits": [n.id for n in group.nodes if n.is_split and n.feature == fid],
        # Where this feature's value puts the failures: its bound on the path of each
        # valid leaf (or of the top leaf), e.g. "feature[34] > 0.5101" for leaf 5.
        "failure_bounds": [
            {"leaf": leaf["id"], "er": leaf["er"], "valid": leaf["valid"], "text": condition_text(leaf["bounds"][fid], {}, html=False)}
            for leaf in sorted(leaves, key=lambda leaf: -leaf["iv"])
            if fid in leaf["bounds"] and (leaf["valid"] or (top is not None and leaf["id"] == top["id"]))
        ],
    }


def _group_figures(first: dict) -> dict:
    """A group's size, failures, BER and ALER from its first failure_modes.csv row (equal on every row)."""
    out = {}
    for column in GROUP_COLUMNS:
        value = optional_float(first.get(column))
        out[column] = (int(value) if column in ("depth", "n", "n_fail") else value) if value is not None else 0
    return out


def _group_view(group: GroupTree, slug: str, rows: list[dict], vis: VisualizationIndex, descriptions: dict[int, FeatureDescription], params: dict) -> dict:
    if not rows:
        raise BarlowError(f"failure_modes.csv has no rows for {group.grouping} '{group.class_name}' of trees.json")
    by_leaf = {int(r["leaf"]): r for r in rows}
    missing = [leaf for leaf in group.leaves if leaf not in by_leaf]
    if missing:
        raise BarlowError(f"failure_modes.csv has no row for leaf {missing[0]} of {group.grouping} '{group.class_name}' in trees.json")
    first = rows[0]
    ber = float(first["ber"])
    nodes = _node_dicts(group)
    short = {f: d.description for f, d in descriptions.items()}
    leaves = [_leaf_view(group, by_leaf[leaf_id], nodes, ber, vis, short) for leaf_id in group.leaves]
    top = max(leaves, key=_leaf_importance) if leaves else None
    split_ids = group.split_features()
    other = [s.feature for s in group.selected_features if s.feature not in split_ids]
    return {
        "slug": slug,
        "href": f"groups/{slug}.html",
        "grouping": group.grouping,
        "class": group.class_name,
        **_group_figures(first),
        "leaves": sorted(leaves, key=lambda leaf: tuple(-v for v in _leaf_importance(leaf))),
        "honest_aler_minus_ber": optional_float(first.get("honest_aler_minus_ber")),
        "group_p_value": optional_float(first.get("group_p_value")),
        "group_q_value": optional_float(first.get("group_q_value")),
        "n_valid": sum(leaf["valid"] for leaf in leaves),
        "top_leaf": top,
        "tree": _tree_view(group, leaves, top),
        "split_features": [_feature_view(f, group, leaves, top, vis, descriptions) for f in split_ids],
        "other_features": [_feature_view(f, group, leaves, top, vis, descriptions) for f in other],
        "holdout": group.holdout,
        "delta": params.get("delta"),
        "tau": params.get("tau"),
    }


def _summary(views: list[dict], skipped: list[dict], trees: TreesDocument, judged: dict | None = None) -> dict:
    valid = [(g, leaf) for g in views for leaf in g["leaves"] if leaf["valid"]]
    return {
        "n_groups": len(views),
        "n_skipped": len(skipped),
        "n_valid": len(valid),
        "n_groups_with_valid": sum(1 for g in views if g["n_valid"]),
        "total_failures": trees.total_failures,
        # Ranked as in 'barlow analyze': IV alone puts a leaf holding all 3 failures of a tiny
        # group first; the leaf holding the most failures is the one a user wants to read first.
        "top": sorted(valid, key=lambda gl: _largest_first(gl[1]))[:5],
        **(judged or {}),
    }


def load_report_data(analysis_dir: str | Path, descriptions: str | Path | None = None, judgements: str | Path | None = None) -> ReportData:
    """Read an analysis folder; ``descriptions`` defaults to its feature_descriptions.csv and
    ``judgements`` to its failure_judgements.csv (crowd reviews of the failure modes)."""
    folder = AnalysisFolder(analysis_dir)
    trees = folder.trees
    table = folder.failure_modes()
    rows_by_group: dict[tuple[str, str], list[dict]] = {}
    for row in table.to_dict("records"):
        rows_by_group.setdefault((row["grouping"], row["class"]), []).append(row)
    vis = folder.visualization_index().for_trees(trees.sha1)
    desc_path = Path(descriptions) if descriptions else folder.path / DESCRIPTIONS_FILE
    if descriptions and not desc_path.is_file():
        raise BarlowError(f"--descriptions file {desc_path} not found")
    desc = read_descriptions(desc_path) if desc_path.is_file() else {}
    views = [
        _group_view(g, slug, rows_by_group.get((g.grouping, g.class_name), []), vis, desc, trees.params)
        for g, slug in zip(trees.groups, group_slugs(trees.groups))
    ]
    judged_path = Path(judgements) if judgements else folder.path / JUDGEMENTS_FILE
    if judgements and not judged_path.is_file():
        raise BarlowError(f"--judgements file {judged_path} not found")
    judged = attach_judgements(views, read_judgements(judged_path) if judged_path.is_file() else {})
    _attach_typical(views, folder)
    skipped = folder.skipped()
    return ReportData(folder.path, trees, views, skipped, vis, desc, "holdout_er" in table.columns, _summary(views, skipped, trees, judged))


TYPICAL_IMAGES = 8


def _attach_typical(views: list[dict], folder: AnalysisFolder) -> None:
    """Each scored leaf's ``typical``: the images most typical of its failure mode (failure_scores.csv),
    with their file names when the extraction's metadata can be found."""
    from analysis_core.failure_scores import most_typical

    scores = folder.failure_scores()
    if scores is None:
        return
    filenames = _filenames(folder)
    for view in views:
        for leaf in view["leaves"]:
            rows = most_typical(scores, view["grouping"], view["class"], leaf["id"], TYPICAL_IMAGES)
            leaf["typical"] = [
                {"row": int(r["row"]), "filename": filenames.get(int(r["row"])), "failure": bool(r["failure"]),
                 "typicality": float(r["typicality"]), "margin": float(r["margin"])}
                for r in rows.to_dict("records")
            ]


def _filenames(folder: AnalysisFolder) -> dict[int, str]:
    from analysis_core.artifacts import load_metadata

    try:
        meta = load_metadata(folder.extraction().metadata_path)
    except BarlowError:
        return {}  # the extraction moved: rows are still named by their number
    return dict(enumerate(meta["Filenames"])) if "Filenames" in meta.columns else {}


def _honest(row: dict) -> dict | None:
    """The leaf's cross-fitted numbers from its failure_modes.csv row, or None when the analysis has none."""
    er = optional_float(row.get("honest_er"))
    if er is None:
        return None
    keys = ("n_leaf", "n_fail_leaf", "er", "ec", "iv", "er_ci_low", "er_ci_high", "p_value", "q_value")
    values = {k: optional_float(row.get(f"honest_{k}")) for k in keys}
    values["stability"] = optional_float(row.get("stability"))
    return values


def _leaf_importance(leaf: dict) -> tuple[float, float]:
    """Order leaves by honest IV when known (the in-sample IV breaks ties and orders the rest)."""
    honest = leaf.get("honest") or {}
    iv = honest.get("iv")
    return (iv if iv is not None else -1.0, leaf["iv"])


def _largest_first(leaf: dict) -> tuple[float, float]:
    honest = leaf.get("honest")
    if honest and honest.get("n_fail_leaf") is not None:
        return (-honest["n_fail_leaf"], -(honest.get("iv") or 0.0))
    return (-leaf["n_fail"], -leaf["iv"])


def index_rows(data: ReportData) -> list[dict]:
    """The compact per-group records that feed the sortable, paginated index."""
    rows = []
    for g in data.groups:
        top = g["top_leaf"]
        rows.append(
            {
                "href": g["href"],
                "grouping": g["grouping"],
                "class": g["class"],
                "n": g["n"],
                "n_fail": g["n_fail"],
                "ber": round(g["ber"], 4),
                "aler": round(g["aler"], 4),
                "aler_minus_ber": round(g["aler_minus_ber"], 4),
                "n_valid": g["n_valid"],
                "n_spurious": g.get("n_spurious", 0),
                "top_er": round(top["er"], 4) if top else None,
                "top_ec": round(top["ec"], 4) if top else None,
                "top_rule": top["rule"] if top else "",
            }
        )
    return rows


def summary_paragraph(data: ReportData, limit: int = 3) -> str:
    """A plain-text paragraph on the strongest failure modes, for the terminal."""
    s = data.summary
    head = (
        f"{s['n_groups']} groups analysed ({s['n_skipped']} skipped); "
        f"{s['n_valid']} valid failure modes in {s['n_groups_with_valid']} groups."
    )
    if not s["top"]:
        best = sorted(data.groups, key=lambda g: -g["aler_minus_ber"])[:limit]
        tail = " No leaf meets the validity thresholds" + (
            "; the largest ALER-BER gains are " + ", ".join(f"{g['grouping']} {g['class']} (+{g['aler_minus_ber']:.4f})" for g in best) + "."
            if best
            else "."
        )
        return head + tail
    return head + " Largest valid failure modes: " + " ".join(leaf["sentence"] for _, leaf in s["top"][:limit])


__all__ = ["ReportData", "fmt_rate", "index_rows", "load_report_data", "read_descriptions", "summary_paragraph"]
