"""Money: what a publish costs, the effective hourly pay, the top-up that reaches a wage.

Amounts are ``Decimal`` units of one currency (never floats), stored in the database as
hundredths (cents, pence). A study's currency is the platform account's: MTurk pays in US
dollars; a Prolific workspace pays in its own ``currency_code`` (GBP or USD), rewards and
bonuses alike. Every amount Barlow prints names its currency ("GBP 0.50").
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
MTURK_CURRENCY = "USD"
# Prolific's service fee on rewards and bonuses (its published rate for most studies:
# a third of what participants get; VAT comes on top where it applies, shown by Prolific).
PROLIFIC_FEE = Decimal("0.3333")
# Prolific's minimum reward per hour, by workspace currency (its researcher help pages).
PROLIFIC_MIN_HOURLY = {"GBP": Decimal("6.00"), "USD": Decimal("8.00")}


def amount(value: str | Decimal | int | float) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal, currency: str) -> str:
    """``GBP 0.50``: an amount with the currency it is in."""
    return f"{currency} {value.quantize(CENT, rounding=ROUND_HALF_UP)}"


def to_cents(value: Decimal) -> int:
    return int((value / CENT).to_integral_value(rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) * CENT).quantize(CENT)


def mturk_fee_rate(assignments_per_hit: int) -> Decimal:
    return MTURK_FEE_LARGE if assignments_per_hit >= MTURK_LARGE_HIT else MTURK_FEE


def reward_fee(platform: str | None, reward: Decimal, assignments_per_hit: int) -> Decimal:
    """The platform's fee on one approved reward of ``reward``."""
    if platform == "prolific":
        return (reward * PROLIFIC_FEE).quantize(CENT, rounding=ROUND_HALF_UP)
    return max(MTURK_MIN_FEE, (reward * mturk_fee_rate(assignments_per_hit)).quantize(CENT, rounding=ROUND_HALF_UP))


def bonus_fee_rate(platform: str | None) -> Decimal:
    return PROLIFIC_FEE if platform == "prolific" else MTURK_FEE


@dataclass(frozen=True)
class CostEstimate:
    hits: int
    assignments_per_hit: int
    reward: Decimal
    fee_rate: Decimal
    rewards: Decimal
    fees: Decimal
    currency: str = MTURK_CURRENCY

    @property
    def total(self) -> Decimal:
        return self.rewards + self.fees

    def lines(self) -> list[str]:
        n = self.hits * self.assignments_per_hit
        c = self.currency
        return [
            f"  {self.hits} HITs x {self.assignments_per_hit} assignments x {fmt(self.reward, c)} = {fmt(self.rewards, c)} to workers",
            f"  platform fee {self.fee_rate * 100:.0f}% = {fmt(self.fees, c)}",
            f"  total {fmt(self.total, c)} for {n} assignments",
        ]


def mturk_cost(hits: int, assignments_per_hit: int, reward: Decimal) -> CostEstimate:
    n = hits * assignments_per_hit
    return CostEstimate(hits, assignments_per_hit, reward, mturk_fee_rate(assignments_per_hit), reward * n, reward_fee("mturk", reward, assignments_per_hit) * n)


def prolific_cost(places: int, reward: Decimal, currency: str) -> CostEstimate:
    rewards = reward * places
    return CostEstimate(1, places, reward, PROLIFIC_FEE, rewards, (rewards * PROLIFIC_FEE).quantize(CENT, rounding=ROUND_HALF_UP), currency)


def median_seconds(seconds: Iterable[float | None]) -> float | None:
    values = [s for s in seconds if s is not None and s > 0]
    return statistics.median(values) if values else None


def hourly_pay(reward: Decimal, seconds_per_hit: float | None) -> Decimal | None:
    """What a worker earns per hour at ``reward`` per HIT taking ``seconds_per_hit``."""
    if not seconds_per_hit:
        return None
    return (reward * Decimal(3600) / Decimal(str(seconds_per_hit))).quantize(CENT, rounding=ROUND_HALF_UP)


def unit_reward(reward: Decimal, per_hit: bool, hits_per_participant: int, hits_total: int) -> Decimal:
    """What the platform pays per unit it decides: one HIT's ``reward`` per MTurk assignment; per
    Prolific submission the reward for ``hits_per_participant`` HITs, however many it holds (a
    participant who found fewer HITs left is still paid the study's whole reward)."""
    return reward if per_hit else reward * min(hits_per_participant, hits_total or 1)


def wage_top_up(paid: Decimal, seconds_worked: float, wage: Decimal) -> Decimal:
    """The bonus that brings ``paid`` for ``seconds_worked`` up to ``wage`` per hour (>= 0)."""
    owed = (wage * Decimal(str(seconds_worked)) / Decimal(3600)).quantize(CENT, rounding=ROUND_CEILING)
    return max(Decimal("0.00"), owed - paid)
