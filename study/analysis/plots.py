"""The study's figures as PNG files (matplotlib, Agg backend): Figure 9a, Figure 9b and helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from study.analysis.pipeline import StudyAnalysis

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
DPI = 110


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 11, "axes.titlesize": 12, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _integer_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def pretty(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def likert_curves(result: StudyAnalysis, path: Path, threshold: float = 3.0) -> Path | None:
    """Figure 9a: for each Likert question, how many items reach at least each mean answer."""
    if not result.table.likert:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    lows, highs = [], []
    for k, question in enumerate(result.table.likert):
        means = result.per_item[f"{question.name}_mean"].dropna().to_numpy()
        xs = np.linspace(question.scale_min, question.scale_max, 401)
        counts = len(means) - np.searchsorted(np.sort(means), xs, side="left")
        reach = int(np.sum(means >= threshold))
        ax.step(xs, counts, where="post", color=COLORS[k % len(COLORS)], linewidth=2,
                label=f"{pretty(question.name)}: {reach:,} of {len(means):,} items ≥ {threshold:g}")
        lows.append(question.scale_min)
        highs.append(question.scale_max)
    ax.axvline(threshold, color="0.45", linestyle="--", linewidth=1)
    ax.set_xlim(min(lows), max(highs))
    ax.set_ylim(0, None)
    ax.yaxis.set_major_locator(_integer_ticks())
    ax.set_xticks(np.arange(min(lows), max(highs) + 0.5, 0.5))
    ax.set_xlabel("Mean answer of an item (Likert scale points)")
    ax.set_ylabel("Items with mean answer ≥ x")
    ax.set_title("Figure 9a · How many features reach each mean Likert answer")
    ax.grid(axis="y", color="0.9")
    ax.legend(loc="lower left", frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def choice_distribution(result: StudyAnalysis, name: str, path: Path) -> Path:
    """Figure 9b: share of answers per option, with bootstrap confidence intervals."""
    plt = _pyplot()
    summary = result.summary["choice"][name]
    options = summary["options"]
    dist = summary["distribution"]
    shares = np.array([100 * (dist[o]["fraction"] or 0) for o in options])
    low = np.array([100 * (dist[o]["ci_low"] if dist[o]["ci_low"] is not None else np.nan) for o in options])
    high = np.array([100 * (dist[o]["ci_high"] if dist[o]["ci_high"] is not None else np.nan) for o in options])
    errors = np.nan_to_num(np.vstack([shares - low, high - shares]), nan=0.0).clip(min=0)
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    bars = ax.bar(range(len(options)), shares, color="#4c72b0", width=0.65,
                  yerr=errors, capsize=5, error_kw={"elinewidth": 1.2, "ecolor": "0.2"})
    for bar, share, top in zip(bars, shares, shares + errors[1]):
        ax.text(bar.get_x() + bar.get_width() / 2, top + 1, f"{share:.1f}%", ha="center", va="bottom", fontsize=10)
    ax.set_xticks(range(len(options)), [str(o) for o in options])
    ax.set_ylim(0, max(10.0, float(np.nanmax(shares + errors[1])) * 1.18))
    ax.set_xlabel("Answer")
    ax.set_ylabel("Share of answers (%)")
    level = round(100 * result.summary["bootstrap"]["level"])
    ax.set_title(f"Figure 9b · {pretty(name)} ({summary['n_answers']:,} answers, {level}% bootstrap CI)")
    ax.grid(axis="y", color="0.9")
    ax.set_axisbelow(True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _histogram(values: np.ndarray, bins, color: str, mean_label: str, xlabel: str, ylabel: str, title: str, path: Path,
               integer_x: bool = False, xlim: tuple[float, float] | None = None) -> Path:
    """A histogram with its mean marked, as every per-worker and per-item figure draws it."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    ax.hist(values, bins=bins, color=color, edgecolor="white")
    ax.axvline(values.mean(), color="0.2", linestyle="--", linewidth=1, label=mean_label)
    if xlim is not None:
        ax.set_xlim(*xlim)
    ax.set_xlabel(xlabel)
    if integer_x:
        ax.xaxis.set_major_locator(_integer_ticks())
    ax.yaxis.set_major_locator(_integer_ticks())
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def tasks_per_worker(result: StudyAnalysis, path: Path) -> Path | None:
    workers = result.per_worker
    if workers is None or workers.empty:
        return None
    tasks = workers["n_answers"][workers["n_answers"] > 0].to_numpy()
    bins = np.arange(0.5, tasks.max() + 1.5, max(1, int(np.ceil(tasks.max() / 40))))
    return _histogram(tasks, bins, "#55a868", f"mean {tasks.mean():.2f} tasks", "Tasks answered by a worker", "Workers",
                      f"Tasks per worker ({len(tasks):,} workers)", path, integer_x=True)


def text_agreement(result: StudyAnalysis, name: str, path: Path) -> Path | None:
    scores = result.per_item[f"{name}_jaccard"].dropna().to_numpy()
    if scores.size == 0:
        return None
    return _histogram(scores, np.linspace(0, 1, 21), "#8172b2", f"mean {scores.mean():.3f}",
                      "Mean pairwise token Jaccard of an item's descriptions (0–1)", "Items",
                      f"Agreement between descriptions ({pretty(name)}, {scores.size:,} items)", path, xlim=(0, 1))


def write_plots(result: StudyAnalysis, out_dir: Path, threshold: float = 3.0) -> dict[str, str]:
    """Every figure into ``out_dir``; returns {figure key: file name}."""
    figures: dict[str, str] = {}
    if likert_curves(result, out_dir / "figure9a_likert.png", threshold):
        figures["figure9a"] = "figure9a_likert.png"
    for question in result.table.choice:
        name = f"figure9b_{question.name}.png"
        choice_distribution(result, question.name, out_dir / name)
        figures[f"figure9b_{question.name}"] = name
    if tasks_per_worker(result, out_dir / "tasks_per_worker.png"):
        figures["tasks_per_worker"] = "tasks_per_worker.png"
    for question in result.table.text:
        name = f"text_agreement_{question.name}.png"
        if text_agreement(result, question.name, out_dir / name):
            figures[f"text_agreement_{question.name}"] = name
    return figures
