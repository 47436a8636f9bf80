"""Write an AnalysisResult to its folder (failure_modes.csv, trees.json, skipped.csv) and summarise it.

All three files are written into a staging folder and moved into place together, so a
failed run leaves the output folder as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

from analysis_core.artifacts.analysis_folder import write_analysis_files
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.tables import skipped_frame
from analysis_core.artifacts.trees import GroupTree, TreesDocument
from analysis_core.failure_analysis import AnalysisResult, config_dict


def trees_document(result: AnalysisResult) -> TreesDocument:
    """The typed trees.json of an analysis."""
    return TreesDocument(
        groups=[_table_validity(group.to_group(), result.failure_modes) for group in result.groups],
        params=config_dict(result.config),
        inputs={
            "features": str(result.features_path) if result.features_path else None,
            "metadata": str(result.metadata_path) if result.metadata_path else None,
        },
        n_rows=result.n_rows,
        n_features=result.n_features,
        total_failures=result.total_failures,
        summary=result.summary(),
    )


def _table_validity(group: GroupTree, table) -> GroupTree:
    """Leaf nodes carry the table's ``valid`` (honest when cross-fitted) and the paper's ``valid_in_sample``,
    so readers of trees.json (e.g. ``visualize --leaves valid``) pick the same leaves as the table."""
    if table is None or not len(table):
        return group
    rows = table[(table["grouping"] == group.grouping) & (table["class"] == group.class_name)]
    valid = dict(zip(rows["leaf"].astype(int), rows["valid"].astype(bool)))
    for node in group.nodes:
        if node.is_leaf and node.id in valid:
            node.extra["valid_in_sample"] = bool(node.valid)
            node.valid = bool(valid[node.id])
    return group


def skipped_table(result: AnalysisResult):
    return skipped_frame((s.grouping, s.class_name, s.n, s.n_fail, s.reason) for s in result.skipped)


def write_analysis(result: AnalysisResult, out_dir: str | os.PathLike) -> Path:
    """Write failure_modes.csv, trees.json and skipped.csv into out_dir (all or nothing)."""
    return write_analysis_files(
        out_dir, trees_document(result), result.failure_modes, skipped_table(result), result.failure_scores
    )


def format_summary(result: AnalysisResult) -> str:
    """A few lines for stdout: per grouping, classes analysed, valid-leaf fractions (honest),
    ALER-BER in-sample (the paper's) and honest, groups with a significant failure mode."""
    cfg = result.config
    honest = cfg.folds >= 2
    lines = []
    warning = _provenance_warning(result)
    if warning:
        lines.append(warning)
    lines += [
        f"Analysed {result.n_rows} rows x {result.n_features} features, {result.total_failures} failures "
        f"(depth {cfg.depth}, top-{cfg.top_k} features by {cfg.mi} MI, delta {cfg.delta:g}, tau {cfg.tau:g}"
        + (f", {cfg.folds}-fold cross-fitted estimates" if honest else ", in-sample estimates only")
        + (f", {cfg.permutations} permutations per group" if cfg.permutations else "")
        + ")."
    ]
    for grouping, s in result.summary().items():
        line = (
            f"  {grouping} grouping: {s['analysed']} classes analysed, {s['skipped']} skipped; "
            f"{_pct(s['fraction_with_valid_leaf'])} have a valid leaf "
            f"({_pct(s['fraction_top_leaf_valid'])} their top leaf); "
        )
        if honest:
            line += (
                f"mean ALER-BER honest {_num(s['mean_honest_aler_minus_ber'])} "
                f"(in-sample, as in the paper, {_num(s['mean_aler_minus_ber'])})"
            )
        else:
            line += f"mean ALER-BER {_num(s['mean_aler_minus_ber'])} (in-sample)"
        if "mean_holdout_aler_minus_ber" in s:
            line += f", held-out {_num(s['mean_holdout_aler_minus_ber'])}"
        if cfg.permutations:
            line += f"; {_pct(s['fraction_significant'])} with a failure mode at q <= {cfg.alpha:g}"
        lines.append(line)
    table = result.failure_modes
    valid = table[table["valid"]] if len(table) else table
    if len(valid):
        # IV alone favours groups with a handful of failures (one leaf holding all 3 gets IV 1);
        # the valid leaf holding the most failures is the one a user most wants to read first.
        if honest:
            best = valid.sort_values(["honest_n_fail_leaf", "honest_iv"], ascending=False).iloc[0]
            lines.append(
                f"  largest valid failure mode: {best['grouping']} '{best['class']}': {best['rule'] or '(root)'} -> "
                f"honest ER {best['honest_er']:.3f} vs BER {best['ber']:.3f}, EC {best['honest_ec']:.3f}, "
                f"q {best['honest_q_value']:.2g} (in-sample: {int(best['n_fail_leaf'])} failures in "
                f"{int(best['n_leaf'])} rows, ER {best['er']:.3f}, EC {best['ec']:.3f})"
            )
        else:
            best = valid.sort_values(["n_fail_leaf", "iv"], ascending=False).iloc[0]
            lines.append(
                f"  largest valid failure mode (in-sample): {best['grouping']} '{best['class']}': "
                f"{best['rule'] or '(root)'} -> {int(best['n_fail_leaf'])} failures in {int(best['n_leaf'])} rows, "
                f"ER {best['er']:.3f} vs BER {best['ber']:.3f}, EC {best['ec']:.3f}"
            )
    return "\n".join(lines)


def _provenance_warning(result: AnalysisResult) -> str | None:
    """Refuse to present features of an untrained network as robust (manifest beside features.npy)."""
    from analysis_core.artifacts import read_manifest
    from analysis_core.feature_provenance import random_weights_warning

    if result.features_path is None:
        return None
    try:
        manifest = read_manifest(result.features_path.parent)
    except BarlowError:  # a features file without a readable manifest says nothing about its model
        return None
    return random_weights_warning(manifest)


def _pct(value: float) -> str:
    return "n/a" if value != value else f"{100 * value:.1f}%"


def _num(value: float) -> str:
    return "n/a" if value != value else f"{value:+.4f}"
