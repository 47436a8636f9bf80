"""Figures in the style of the paper: section 6 (Figures 6-7) and section 7 (Figures 8, 16-20)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from analysis_core.artifacts.visualization_index import LEAF_TYPICAL, leaf_selection


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --- section 6 -------------------------------------------------------------------------------


def failure_mode_examples(analysis_dir: Path) -> list[dict]:
    """Per group of a depth-1 analysis: its top-IV leaf, the leaf's sentence and its pictures.

    The top leaf and the sentence use the paper's in-sample numbers; the leaf's honest
    (cross-fitted) ER and EC, when the analysis has them, are given beside them.
    """
    from analysis_core.artifacts import AnalysisFolder
    from analysis_core.report.sentences import leaf_sentence, path_conditions

    folder = AnalysisFolder(analysis_dir)
    index = folder.visualization_index().for_trees(folder.trees.sha1)
    vis_dir = folder.visualizations_dir
    examples = []
    for group in folder.trees.groups:
        nodes = {node.id: node.to_dict() for node in group.nodes}
        top = max(group.leaf_nodes(), key=lambda n: (float(n.iv or 0.0), -n.id))
        conditions = path_conditions(nodes, top.id)
        feature = conditions[-1].feature if conditions else None
        entry, scope = index.feature_entry(group.grouping, group.class_name, feature) if feature is not None else (None, None)
        samples = index.leaf_samples(group, top.id)
        honest = next((leaf for leaf in (group.extra.get("honest") or {}).get("leaves", []) if int(leaf["leaf"]) == top.id), None)
        sentence = leaf_sentence(group.grouping, group.class_name, float(group.ber), conditions, float(top.er), float(top.ec))
        sentence += f" ALER = {float(group.aler):.4f}."
        if honest and honest.get("er") is not None:
            sentence += f" Honest (cross-fitted): ER {float(honest['er']):.4f}, EC {float(honest['ec']):.1%}."
        examples.append({
            "grouping": group.grouping, "class": group.class_name, "ber": float(group.ber),
            "aler": float(group.aler), "leaf": top.id, "er": float(top.er), "ec": float(top.ec),
            "iv": float(top.iv), "feature": feature, "rule": top.rule,
            "honest_er": float(honest["er"]) if honest and honest.get("er") is not None else float("nan"),
            "honest_ec": float(honest["ec"]) if honest and honest.get("ec") is not None else float("nan"),
            "sentence": sentence,
            "pictures": {s: str(vis_dir / entry[s]) for s in "ABC"} if entry else None,
            "scope": scope,
            "failures": str(vis_dir / samples["samples"]) if samples else None,
            "failures_selection": leaf_selection(samples) if samples else "",
        })
    return examples


def failure_mode_figure(example: dict, path: Path) -> None:
    """Rows A (most activating images), B (heatmaps), C (feature attack), failures of the leaf."""
    from PIL import Image

    plt = _pyplot()
    panels = []
    if example["pictures"]:
        panels += [
            (f"A: images with the highest feature[{example['feature']}]", example["pictures"]["A"]),
            ("B: heatmaps", example["pictures"]["B"]),
            ("C: feature attack", example["pictures"]["C"]),
        ]
    if example["failures"]:
        typical = example.get("failures_selection") == LEAF_TYPICAL
        panels.append(("the most typical failures in this leaf" if typical else "random failures in this leaf", example["failures"]))
    images = [np.asarray(Image.open(p).convert("RGB")) for _, p in panels]
    heights = [img.shape[0] / img.shape[1] for img in images] or [0.1]
    fig, axes = plt.subplots(len(images) or 1, 1, figsize=(9, 9 * sum(heights) + 1.6),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (title, _), img in zip(axes[:, 0], panels, images):
        ax.imshow(img)
        ax.set_title(title, fontsize=9, loc="left")
        ax.axis("off")
    fig.suptitle("\n".join(textwrap.wrap(example["sentence"], 110)), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --- section 7 -------------------------------------------------------------------------------


def paired_scatter(per_class, x_filter: dict, y_filter: dict, panels: list[dict], titles: list[str],
                   x_label: str, y_label: str, path: Path, suptitle: str, value: str = "aler_minus_ber") -> None:
    """Per-class ALER - BER of one setting against another, one panel per fixed setting (paper Figs 16-20)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), squeeze=False)
    top = max(0.01, float(per_class[value].max()) * 1.08) if len(per_class) else 1.0
    for ax, fixed, title in zip(axes[0], panels, titles):
        def pick(extra):
            part = per_class
            for key, val in {**fixed, **extra}.items():
                part = part[part[key] == val]
            return part.set_index("class")[value]

        x, y = pick(x_filter), pick(y_filter)
        both = x.index.intersection(y.index)
        ax.scatter(x[both], y[both], s=18, alpha=0.75)
        for name in both:
            ax.annotate(str(name), (x[name], y[name]), fontsize=6, alpha=0.7)
        ax.plot([0, top], [0, top], color="gray", linestyle="--", linewidth=1)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        above = int((y[both] > x[both]).sum())
        ax.set_title(f"{title}\n{above} of {len(both)} classes above the line", fontsize=9)
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
    fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def section7_figures(per_class, models: list[str], groupings: list[str], depths: list[int], out: Path, prefix: str = "") -> list[Path]:
    """Figure 8 (grouping), 16/19 (inspected model) and 17/20 (depth) comparisons, per class."""
    written = []
    if set(groupings) == {"label", "prediction"}:
        deepest = max(depths)
        path = out / f"{prefix}grouping_label_vs_prediction.png"
        paired_scatter(per_class, {"grouping": "label"}, {"grouping": "prediction"},
                       [{"model": m, "depth": deepest} for m in models], [f"inspected: {m}, depth {deepest}" for m in models],
                       "ALER - BER, label grouping", "ALER - BER, prediction grouping", path,
                       "Grouping strategies (paper Figure 8): points below the line favour label grouping")
        written.append(path)
    if len(models) >= 2:
        a, b = models[0], models[1]
        for depth in (min(depths), max(depths)) if len(depths) > 1 else (depths[0],):
            path = out / f"{prefix}model_{a}_vs_{b}_depth{depth}.png"
            paired_scatter(per_class, {"model": a}, {"model": b}, [{"grouping": g, "depth": depth} for g in groupings],
                           [f"{g} grouping, depth {depth}" for g in groupings], f"ALER - BER, inspected {a}",
                           f"ALER - BER, inspected {b}", path,
                           f"Inspected model (paper Figures 16, 19): points above the line favour {b}; features from the robust model in both")
            written.append(path)
    if len(depths) > 1:
        low, high = min(depths), max(depths)
        path = out / f"{prefix}depth{low}_vs_depth{high}.png"
        panels = [{"model": m, "grouping": g} for m in models for g in groupings]
        paired_scatter(per_class, {"depth": low}, {"depth": high}, panels, [f"{p['model']}, {p['grouping']}" for p in panels],
                       f"ALER - BER, depth {low}", f"ALER - BER, depth {high}", path,
                       f"Tree depth (paper Figures 17, 20): points above the line favour depth {high}")
        written.append(path)
    return written
