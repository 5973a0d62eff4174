"""The explainable trust score, formula version 1 (issue 5). Pure: inputs and a day in, score out.

The formula is written out word for word in the package README; the inputs are assembled from
one stored row per contributing fact (`application/trust.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

FORMULA_VERSION = 1
LEVELS = ((75, "highly_trusted"), (50, "trusted"), (25, "building"), (0, "new"))


@dataclass(frozen=True)
class TrustInputs:
    phone_verified: bool = False
    email_verified: bool = False
    registered_on: date | None = None
    #: Completed orders only: distinct counterparties.
    distinct_sellers_bought_from: int = 0
    distinct_buyers_sold_to: int = 0
    ratings: Sequence[int] = ()
    #: Days on which a report against the user was upheld (overturned ones removed).
    upheld_reports: Sequence[date] = field(default_factory=tuple)


@dataclass(frozen=True)
class Component:
    factor: str
    points: int
    max_points: int
    explanation: str


@dataclass(frozen=True)
class TrustScore:
    score: int
    level: str
    breakdown: list[Component]
    formula_version: int = FORMULA_VERSION


def _round_half_up(value: Fraction) -> int:
    return (
        int((value + Fraction(1, 2)).__floor__())
        if value >= 0
        else -int((-value + Fraction(1, 2)).__floor__())
    )


def level_of(score: int) -> str:
    return next(name for floor, name in LEVELS if score >= floor)


def trust_score(inputs: TrustInputs, today: date) -> TrustScore:
    days = max(0, (today - inputs.registered_on).days) if inputs.registered_on else 0
    n = len(inputs.ratings)
    adjusted = Fraction(5 * 3 + sum(inputs.ratings), 5 + n)
    rating_points = max(-25, min(25, _round_half_up(Fraction(25, 2) * (adjusted - 3))))
    recent = [d for d in inputs.upheld_reports if today - d <= timedelta(days=365)]
    parts = [
        Component("phone_verified", 15 if inputs.phone_verified else 0, 15, "Phone number verified"),
        Component("email_verified", 10 if inputs.email_verified else 0, 10, "Email address verified"),
        Component(
            "account_age", 15 * min(days, 365) // 365, 15, f"Member for {days} days (full points at 365)"
        ),
        Component(
            "purchases",
            min(15, 2 * inputs.distinct_sellers_bought_from),
            15,
            f"Completed purchases from {inputs.distinct_sellers_bought_from} distinct sellers (2 each)",
        ),
        Component(
            "sales",
            min(20, inputs.distinct_buyers_sold_to),
            20,
            f"Completed sales to {inputs.distinct_buyers_sold_to} distinct buyers (1 each)",
        ),
        Component(
            "ratings",
            rating_points,
            25,
            f"{n} ratings, adjusted average {float(adjusted):.2f} (5 neutral ratings of 3 added)",
        ),
        Component(
            "upheld_reports", -15 * len(recent), 0, f"{len(recent)} upheld reports in the last 365 days"
        ),
    ]
    score = max(0, min(100, sum(p.points for p in parts)))
    return TrustScore(score=score, level=level_of(score), breakdown=parts)
