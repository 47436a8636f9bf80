"""Failure modes in the paper's words (Figures 6-7 of Singla et al.).

"For images with label purse, BER = 0.3085. When feature[1456] <= 0.3641, the error
rate increases to 0.4179 (+10.94 points) and 64.1% of all failures are in this node."
Feature descriptions from a crowd study, when known, stand in for the bare index.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Condition:
    feature: int
    threshold: float
    below: bool  # True: feature <= threshold (sklearn's left child)


def path_conditions(nodes: dict[int, dict], leaf_id: int) -> list[Condition]:
    """The split conditions from the root down to ``leaf_id``."""
    conditions: list[Condition] = []
    node = nodes[int(leaf_id)]
    while node.get("parent") is not None:
        parent = nodes[int(node["parent"])]
        conditions.append(Condition(int(parent["feature"]), float(parent["threshold"]), int(parent["left"]) == int(node["id"])))
        node = parent
    return conditions[::-1]


def fmt_rate(value: float) -> str:
    return f"{value:.4f}"


def fmt_threshold(value: float) -> str:
    return f"{value:.4f}"


def fmt_points(value: float) -> str:
    """Difference of two rates in percentage points, signed."""
    return f"{value * 100:+.2f} points"


def fmt_share(value: float) -> str:
    return f"{value * 100:.1f}%"


@dataclass(frozen=True)
class Bound:
    """All conditions of a path on one feature: low < feature <= high (either may be None)."""

    feature: int
    low: float | None
    high: float | None


def merge_conditions(conditions: list[Condition]) -> list[Bound]:
    """A path may split twice on one feature; say it once, with the tightest bounds."""
    bounds: dict[int, list] = {}
    for cond in conditions:
        low, high = bounds.setdefault(cond.feature, [None, None])
        if cond.below:
            bounds[cond.feature][1] = cond.threshold if high is None else min(high, cond.threshold)
        else:
            bounds[cond.feature][0] = cond.threshold if low is None else max(low, cond.threshold)
    return [Bound(f, low, high) for f, (low, high) in bounds.items()]


def condition_text(cond: Bound, descriptions: dict[int, str], html: bool) -> str | Markup:
    name = f"feature[{cond.feature}]"
    if cond.low is not None and cond.high is not None:
        bare = f"{fmt_threshold(cond.low)} < {name} \u2264 {fmt_threshold(cond.high)}"
    elif cond.high is not None:
        bare = f"{name} \u2264 {fmt_threshold(cond.high)}"
    else:
        bare = f"{name} > {fmt_threshold(cond.low)}"
    description = descriptions.get(cond.feature)
    if not description:
        return Markup(f"<code>{escape(bare)}</code>") if html else bare
    level = "weak" if cond.low is None else ("strong" if cond.high is None else "moderate")
    if html:
        return Markup(f"\u201c<em>{escape(description)}</em>\u201d is {level} (<code>{escape(bare)}</code>)")
    return f"\u201c{description}\u201d is {level} ({bare})"


def leaf_sentence(
    grouping: str,
    class_name: str,
    ber: float,
    conditions: list[Condition],
    er: float,
    ec: float,
    descriptions: dict[int, str] | None = None,
    html: bool = False,
) -> str | Markup:
    """One failure mode as a sentence; ``html`` gives escaped markup with emphasis."""
    descriptions = descriptions or {}
    who = "label" if grouping == "label" else "prediction"
    name = Markup(f"<strong>{escape(class_name)}</strong>") if html else class_name
    parts = [condition_text(b, descriptions, html) for b in merge_conditions(conditions)]
    joined = Markup(" and ").join(parts) if html else " and ".join(parts)
    change = "increases" if er > ber else ("stays" if er == ber else "decreases")
    text = (
        f"For images with {who} {name}, BER = {fmt_rate(ber)}. "
        f"When {joined}, the error rate {change} to {fmt_rate(er)} ({fmt_points(er - ber)}) "
        f"and {fmt_share(ec)} of all failures are in this node."
    )
    return Markup(text) if html else text
