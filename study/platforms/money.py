"""Money: what a publish costs, the effective hourly pay, the top-up that reaches a wage.

Amounts are ``Decimal`` dollars (never floats) and are stored in the database as cents.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Iterable

CENT = Decimal("0.01")
# MTurk's commission: 20 % of what workers are paid, 40 % on HITs with 10 or more
# assignments, at least one cent per assignment (bonuses: 20 %).
MTURK_FEE = Decimal("0.20")
MTURK_FEE_LARGE = Decimal("0.40")
MTURK_LARGE_HIT = 10
MTURK_MIN_FEE = Decimal("0.01")
# Prolific's service fee on rewards and bonuses (its published rate for most studies).
PROLIFIC_FEE = Decimal("0.3333")


def dollars(value: str | Decimal | int | float) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents(amount: Decimal) -> int:
    return int((amount / CENT).to_integral_value(rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) * CENT).quantize(CENT)


def mturk_fee_rate(assignments_per_hit: int) -> Decimal:
    return MTURK_FEE_LARGE if assignments_per_hit >= MTURK_LARGE_HIT else MTURK_FEE


@dataclass(frozen=True)
class CostEstimate:
    hits: int
    assignments_per_hit: int
    reward: Decimal
    fee_rate: Decimal
    rewards: Decimal
    fees: Decimal

    @property
    def total(self) -> Decimal:
        return self.rewards + self.fees

    def lines(self) -> list[str]:
        n = self.hits * self.assignments_per_hit
        return [
            f"  {self.hits} HITs x {self.assignments_per_hit} assignments x ${self.reward} = ${self.rewards} to workers",
            f"  platform fee {self.fee_rate * 100:.0f}% = ${self.fees}",
            f"  total ${self.total} for {n} assignments",
        ]


def mturk_cost(hits: int, assignments_per_hit: int, reward: Decimal) -> CostEstimate:
    rate = mturk_fee_rate(assignments_per_hit)
    fee_each = max(MTURK_MIN_FEE, (reward * rate).quantize(CENT, rounding=ROUND_HALF_UP))
    n = hits * assignments_per_hit
    return CostEstimate(hits, assignments_per_hit, reward, rate, reward * n, fee_each * n)


def prolific_cost(places: int, reward: Decimal) -> CostEstimate:
    rewards = reward * places
    return CostEstimate(1, places, reward, PROLIFIC_FEE, rewards, (rewards * PROLIFIC_FEE).quantize(CENT, rounding=ROUND_HALF_UP))


def median_seconds(seconds: Iterable[float | None]) -> float | None:
    values = [s for s in seconds if s is not None and s > 0]
    return statistics.median(values) if values else None


def hourly_pay(reward: Decimal, seconds_per_hit: float | None) -> Decimal | None:
    """What a worker earns per hour at ``reward`` per HIT taking ``seconds_per_hit``."""
    if not seconds_per_hit:
        return None
    return (reward * Decimal(3600) / Decimal(str(seconds_per_hit))).quantize(CENT, rounding=ROUND_HALF_UP)


def wage_top_up(paid: Decimal, seconds_worked: float, wage: Decimal) -> Decimal:
    """The bonus that brings ``paid`` for ``seconds_worked`` up to ``wage`` per hour (>= 0)."""
    owed = (wage * Decimal(str(seconds_worked)) / Decimal(3600)).quantize(CENT, rounding=ROUND_CEILING)
    return max(Decimal("0.00"), owed - paid)
