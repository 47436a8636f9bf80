"""Everything the report shows, gathered from an analysis folder into plain dicts.

Leaf figures come from failure_modes.csv (so the page shows exactly the analysis table),
the tree's structure and inner nodes from trees.json, pictures from
visualizations/index.json and feature descriptions from feature_descriptions.csv.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from analysis_core.errors import BarlowError
from analysis_core.json_files import read_json
from analysis_core.report.judgements import JUDGEMENTS_FILE, attach_judgements, read_judgements
from analysis_core.report.sentences import condition_text, fmt_rate, leaf_sentence, merge_conditions, path_conditions
from analysis_core.visualization.inputs import read_trees
from analysis_core.visualization.pipeline import feature_entry, group_slugs, leaf_key

REQUIRED_LEAF_COLUMNS = ("grouping", "class", "n", "n_fail", "ber", "aler", "aler_minus_ber", "leaf", "n_leaf", "n_fail_leaf", "er", "ec", "iv", "valid")


@dataclass
class ReportData:
    analysis_dir: Path
    trees: dict
    groups: list[dict]  # one view dict per group, in trees.json order
    skipped: list[dict]
    visualizations: dict  # index.json ({} when none)
    descriptions: dict[int, dict]
    has_holdout: bool
    summary: dict = field(default_factory=dict)


def _bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _num(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def read_descriptions(path: Path) -> dict[int, dict]:
    import pandas as pd

    try:
        table = pd.read_csv(path, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise BarlowError(f"cannot read feature descriptions {path}: {exc}") from None
    for column in ("feature", "description"):
        if column not in table.columns:
            raise BarlowError(f"{path} lacks the column '{column}' (expected feature,description,n_descriptions,agreement)")
    out: dict[int, dict] = {}
    for row_no, row in enumerate(table.to_dict("records"), start=2):
        try:
            feature = int(row["feature"])
        except (TypeError, ValueError):
            raise BarlowError(f"{path} row {row_no}: feature '{row['feature']}' is not an integer id") from None
        text = str(row["description"]).strip()
        if text:
            out[feature] = {"description": text, "n_descriptions": row.get("n_descriptions"), "agreement": _num(row.get("agreement"))}
    return out


def _read_leaf_table(path: Path):
    import pandas as pd

    if not path.is_file():
        raise BarlowError(f"{path} not found: --analysis must be a folder written by 'barlow analyze'")
    table = pd.read_csv(path, dtype={"class": str, "grouping": str}, keep_default_na=False, na_values=[""])
    missing = [c for c in REQUIRED_LEAF_COLUMNS if c not in table.columns]
    if missing:
        raise BarlowError(f"{path} lacks column(s) {', '.join(missing)}")
    return table


def scope_text(entry: dict, scope: str, grouping: str, class_name: str) -> str:
    """Where section A's images come from, e.g. 'top 6 of the 1,000 images labelled Shirt'."""
    k = len(entry.get("top_rows", []))
    if scope != "group":
        return f"top {k} of the data set"
    n = entry.get("group_rows")
    which = "labelled" if grouping == "label" else "predicted as"
    return f"top {k} of the {n:,} images {which} {class_name}" if n is not None else f"top {k} of the images {which} {class_name}"


def _group_view(group: dict, slug: str, rows: list[dict], vis: dict, descriptions: dict[int, dict], params: dict) -> dict:
    nodes = {int(n["id"]): n for n in group.get("nodes", [])}
    by_leaf = {int(r["leaf"]): r for r in rows}
    first = rows[0] if rows else {}
    ber = float(first.get("ber", group.get("ber", 0.0)))
    short = {f: d["description"] for f, d in descriptions.items()}
    leaves = []
    for leaf_id in group.get("leaves", []):
        leaf_id = int(leaf_id)
        row = by_leaf.get(leaf_id)
        if row is None:
            raise BarlowError(f"failure_modes.csv has no row for leaf {leaf_id} of {group['grouping']} '{group['class']}' in trees.json")
        conditions = path_conditions(nodes, leaf_id) if leaf_id in nodes else []
        samples = vis.get("leaves", {}).get(leaf_key(group, leaf_id))
        leaves.append(
            {
                "id": leaf_id,
                "rule": row.get("rule") or nodes.get(leaf_id, {}).get("rule", ""),
                "n": int(row["n_leaf"]),
                "n_fail": int(row["n_fail_leaf"]),
                "er": float(row["er"]),
                "ec": float(row["ec"]),
                "iv": float(row["iv"]),
                "valid": _bool(row["valid"]),
                "er_ci": (_num(row.get("er_ci_low")), _num(row.get("er_ci_high"))),
                "p_value": _num(row.get("p_value")),
                "q_value": _num(row.get("q_value")),
                "holdout": {k[len("holdout_") :]: _num(v) for k, v in row.items() if k.startswith("holdout_")},
                "sentence_html": leaf_sentence(group["grouping"], group["class"], ber, conditions, float(row["er"]), float(row["ec"]), short, html=True),
                "sentence": leaf_sentence(group["grouping"], group["class"], ber, conditions, float(row["er"]), float(row["ec"]), short),
                "samples": samples,
                "bounds": {b.feature: b for b in merge_conditions(conditions)},
            }
        )
    leaves_by_id = {leaf["id"]: leaf for leaf in leaves}
    top = max(leaves, key=lambda leaf: leaf["iv"]) if leaves else None

    def build(node_id: int) -> dict:
        node = nodes[node_id]
        view = {
            "id": node_id,
            "is_leaf": bool(node.get("is_leaf")),
            "feature": node.get("feature"),
            "threshold": node.get("threshold"),
            "n": int(node["n"]),
            "n_fail": int(node["n_fail"]),
            "er": float(node["er"]),
            "ec": float(node["ec"]),
            "iv": float(node["iv"]),
            "valid": False,
            "children": [],
            "edge": None,
            "edge_feature": None,
            "holdout": {},
            "is_top": False,
        }
        if node_id in leaves_by_id:
            leaf = leaves_by_id[node_id]
            view.update({k: leaf[k] for k in ("n", "n_fail", "er", "ec", "iv", "valid", "holdout")})
            view["is_top"] = top is not None and leaf["id"] == top["id"]
        for side, child in (("\u2264", node.get("left")), (">", node.get("right"))):
            if child is not None and not node.get("is_leaf"):
                sub = build(int(child))
                sub["edge"] = f"feature[{node['feature']}] {side} {float(node['threshold']):.4f}"
                sub["edge_feature"] = int(node["feature"])
                view["children"].append(sub)
        return view

    roots = [n for n in nodes.values() if n.get("parent") is None]
    tree = build(int(roots[0]["id"])) if roots else None

    split_ids = []
    for node in sorted(nodes.values(), key=lambda n: n["id"]):
        if not node.get("is_leaf") and node.get("feature") is not None and int(node["feature"]) not in split_ids:
            split_ids.append(int(node["feature"]))
    mi = {int(s["feature"]): float(s["mi"]) for s in group.get("selected_features", [])}

    def feature_view(fid: int) -> dict:
        entry, scope = feature_entry(vis, group["grouping"], group["class"], fid)
        desc = descriptions.get(fid, {})
        return {
            "id": fid,
            "mi": mi.get(fid),
            "description": desc.get("description"),
            "agreement": desc.get("agreement"),
            "vis": entry,
            "vis_scope": scope_text(entry, scope, group["grouping"], group["class"]) if entry else None,
            "splits": [n["id"] for n in nodes.values() if not n.get("is_leaf") and n.get("feature") is not None and int(n["feature"]) == fid],
            # Where this feature's value puts the failures: its bound on the path of each
            # valid leaf (or of the top leaf), e.g. "feature[34] > 0.5101" for leaf 5.
            "failure_bounds": [
                {"leaf": leaf["id"], "er": leaf["er"], "valid": leaf["valid"], "text": condition_text(leaf["bounds"][fid], {}, html=False)}
                for leaf in sorted(leaves, key=lambda leaf: -leaf["iv"])
                if fid in leaf["bounds"] and (leaf["valid"] or (top is not None and leaf["id"] == top["id"]))
            ],
        }

    other = [int(s["feature"]) for s in group.get("selected_features", []) if int(s["feature"]) not in split_ids]
    return {
        "slug": slug,
        "href": f"groups/{slug}.html",
        "grouping": group["grouping"],
        "class": group["class"],
        "depth": int(first.get("depth", group.get("depth", 0))),
        "n": int(first.get("n", group.get("n", 0))),
        "n_fail": int(first.get("n_fail", group.get("n_fail", 0))),
        "ber": ber,
        "aler": float(first.get("aler", group.get("aler", 0.0))),
        "aler_minus_ber": float(first.get("aler_minus_ber", group.get("aler_minus_ber", 0.0))),
        "leaves": sorted(leaves, key=lambda leaf: -leaf["iv"]),
        "n_valid": sum(leaf["valid"] for leaf in leaves),
        "top_leaf": top,
        "tree": tree,
        "split_features": [feature_view(f) for f in split_ids],
        "other_features": [feature_view(f) for f in other],
        "holdout": group.get("holdout"),
        "delta": params.get("delta"),
        "tau": params.get("tau"),
    }


def load_report_data(analysis_dir: str | Path, descriptions: str | Path | None = None, judgements: str | Path | None = None) -> ReportData:
    """Read an analysis folder; ``descriptions`` defaults to its feature_descriptions.csv and
    ``judgements`` to its failure_judgements.csv (crowd reviews of the failure modes)."""
    import pandas as pd

    analysis_dir = Path(analysis_dir)
    trees, trees_sha1 = read_trees(analysis_dir)
    table = _read_leaf_table(analysis_dir / "failure_modes.csv")
    rows_by_group: dict[tuple[str, str], list[dict]] = {}
    for row in table.to_dict("records"):
        rows_by_group.setdefault((str(row["grouping"]), str(row["class"])), []).append(row)

    vis_path = analysis_dir / "visualizations" / "index.json"
    vis = read_json(vis_path, "rerun 'barlow visualize'") if vis_path.is_file() else {}

    if vis.get("trees_sha1") not in (None, trees_sha1):
        # Leaf samples were drawn for other trees (the analysis was rerun since): their
        # leaf ids no longer mean the same rows. Feature pictures do not depend on the trees.
        vis = dict(vis, leaves={})
    desc_path = Path(descriptions) if descriptions else analysis_dir / "feature_descriptions.csv"
    if descriptions and not desc_path.is_file():
        raise BarlowError(f"--descriptions file {desc_path} not found")
    desc = read_descriptions(desc_path) if desc_path.is_file() else {}

    params = trees.get("params", {})
    groups = trees["groups"]
    views = [
        _group_view(g, slug, rows_by_group.get((str(g["grouping"]), str(g["class"])), []), vis, desc, params)
        for g, slug in zip(groups, group_slugs(groups))
    ]
    judged_path = Path(judgements) if judgements else analysis_dir / JUDGEMENTS_FILE
    if judgements and not judged_path.is_file():
        raise BarlowError(f"--judgements file {judged_path} not found")
    judged = attach_judgements(views, read_judgements(judged_path) if judged_path.is_file() else {})
    skipped_path = analysis_dir / "skipped.csv"
    skipped = []
    if skipped_path.is_file():
        skipped = pd.read_csv(skipped_path, dtype={"class": str}, keep_default_na=False).to_dict("records")
    valid = [(g, leaf) for g in views for leaf in g["leaves"] if leaf["valid"]]
    summary = {
        "n_groups": len(views),
        "n_skipped": len(skipped),
        "n_valid": len(valid),
        "n_groups_with_valid": sum(1 for g in views if g["n_valid"]),
        "total_failures": trees.get("total_failures"),
        # Ranked as in 'barlow analyze': IV alone puts a leaf holding all 3 failures of a tiny
        # group first; the leaf holding the most failures is the one a user wants to read first.
        "top": sorted(valid, key=lambda gl: (-gl[1]["n_fail"], -gl[1]["iv"]))[:5],
        **judged,
    }
    return ReportData(analysis_dir, trees, views, skipped, vis, desc, "holdout_er" in table.columns, summary)


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
