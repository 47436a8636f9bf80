"""Figures of a failure-review study: action items (Figure 10 style) and survey (Figure 11 style)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from study.analysis.plots import DPI, _pyplot
from study.analysis.review import ReviewAnalysis

# Disagree (reds) through neutral (grey) to agree (blues), as diverging Likert charts use.
DIVERGING = {5: ["#b2182b", "#ef8a62", "#bdbdbd", "#67a9cf", "#2166ac"]}


def action_items(review: ReviewAnalysis, path: Path) -> Path | None:
    """Figure 10: how many reviews named each action item, most named first."""
    frame = review.action_items
    if frame.empty or frame["n_reviews"].sum() == 0:
        return None
    plt = _pyplot()
    frame = frame.sort_values("n_reviews", kind="stable")
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(frame) + 1.6))
    bars = ax.barh(range(len(frame)), frame["n_reviews"], color="#4c72b0", height=0.6)
    for bar, n, share in zip(bars, frame["n_reviews"], frame["fraction"]):
        ax.text(bar.get_width() + 0.05 * max(1, frame["n_reviews"].max()) / 5, bar.get_y() + bar.get_height() / 2,
                f"{n} ({100 * (share or 0):.0f}%)", va="center", fontsize=10)
    ax.set_yticks(range(len(frame)), [str(label).rstrip(": ") for label in frame["label"]])
    ax.set_xlim(0, frame["n_reviews"].max() * 1.25 + 0.5)
    ax.set_xlabel("Reviews naming the action item")
    answered = int(round(frame["n_reviews"].iloc[-1] / frame["fraction"].iloc[-1])) if frame["fraction"].iloc[-1] else 0
    ax.set_title(f"Action items for mitigating the failures\n({answered} reviews; a review may name several)")
    ax.grid(axis="x", color="0.9")
    ax.set_axisbelow(True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def survey(review: ReviewAnalysis, path: Path, scale: tuple[int, int], labels: dict[int, str]) -> Path | None:
    """Figure 11: a diverging bar per statement, disagreement left of zero and agreement right.

    The neutral answers straddle zero, half on each side, so that bars of statements with
    many neutral answers are not pushed to one side.
    """
    frame = review.survey
    if frame.empty or frame["n"].sum() == 0:
        return None
    plt = _pyplot()
    low, high = scale
    points = list(range(low, high + 1))
    colors = DIVERGING.get(len(points)) or [plt.get_cmap("RdBu")(x) for x in np.linspace(0.1, 0.9, len(points))]
    mid = (low + high) / 2
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(frame) + 1.9))
    order = list(range(len(frame)))[::-1]
    for row_pos, (_, row) in zip(order, frame.iterrows()):
        n = max(1, int(row["n"]))
        shares = [100 * row[f"n_{v}"] / n for v in points]
        neutral = sum(s for v, s in zip(points, shares) if v == mid)
        left = -sum(s for v, s in zip(points, shares) if v < mid) - neutral / 2
        for v, share, color in zip(points, shares, colors):
            if share:
                ax.barh(row_pos, share, left=left, color=color, height=0.62, edgecolor="white")
                if share >= 8:
                    ax.text(left + share / 2, row_pos, f"{share:.0f}%", ha="center", va="center", fontsize=9,
                            color="white" if v != mid else "black")
            left += share
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_yticks(order, [f"{s} (n={int(n)})" for s, n in zip(frame["statement"], frame["n"])])
    ax.set_xlim(-100, 100)
    ax.set_xticks([-100, -50, 0, 50, 100], ["100%", "50%", "0", "50%", "100%"])
    ax.set_xlabel("Share of reviewers: disagree \u2190 | \u2192 agree")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors]
    ax.legend(handles, [labels.get(v, str(v)) for v in points], ncol=len(points), loc="upper center",
              bbox_to_anchor=(0.5, -0.22 if len(frame) < 4 else -0.12), frameon=False, fontsize=9)
    ax.set_title("Agreement with the survey statements")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def write_review_plots(review: ReviewAnalysis, out_dir: Path, scale: tuple[int, int], labels: dict[int, str]) -> dict[str, str]:
    figures = {}
    if action_items(review, out_dir / "figure10_action_items.png"):
        figures["figure10"] = "figure10_action_items.png"
    if survey(review, out_dir / "figure11_survey.png", scale, labels):
        figures["figure11"] = "figure11_survey.png"
    return figures
