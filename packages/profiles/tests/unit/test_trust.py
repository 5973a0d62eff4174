"""Trust formula version 1: the issue's worked example, the clamps and the edges."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from nexgate.profiles.domain.trust import TrustInputs, level_of, trust_score

TODAY = date(2026, 11, 25)


def worked_example(**changes: object) -> TrustInputs:
    base = {
        "phone_verified": True,
        "email_verified": True,
        "registered_on": TODAY - timedelta(days=200),
        "distinct_sellers_bought_from": 4,
        "distinct_buyers_sold_to": 12,
        "ratings": [4, 5] * 6,  # 12 ratings averaging 4.5
    }
    return TrustInputs(**(base | changes))  # type: ignore[arg-type]


def test_trust_formula_vectors() -> None:
    result = trust_score(worked_example(), TODAY)
    assert {c.factor: c.points for c in result.breakdown} == {
        "phone_verified": 15,
        "email_verified": 10,
        "account_age": 8,
        "purchases": 8,
        "sales": 12,
        "ratings": 13,
        "upheld_reports": 0,
    }
    assert (result.score, result.level, result.formula_version) == (66, "trusted", 1)
    one_report = trust_score(worked_example(upheld_reports=[TODAY - timedelta(days=10)]), TODAY)
    assert (one_report.score, one_report.level) == (51, "trusted")
    # Reports older than 365 days no longer count.
    assert trust_score(worked_example(upheld_reports=[TODAY - timedelta(days=366)]), TODAY).score == 66

    # The clamps. Nothing at all: 0, new; no ratings means no rating points (adjusted average is 3).
    empty = trust_score(TrustInputs(), TODAY)
    assert (empty.score, empty.level) == (0, "new")
    # The sum never goes below 0 ...
    assert trust_score(TrustInputs(upheld_reports=[TODAY] * 3, ratings=[1] * 50), TODAY).score == 0
    # ... nor above 100, and each factor stops at its maximum.
    best = trust_score(
        worked_example(
            registered_on=TODAY - timedelta(days=5000),
            distinct_sellers_bought_from=100,
            distinct_buyers_sold_to=100,
            ratings=[5] * 1000,
        ),
        TODAY,
    )
    points = {c.factor: c.points for c in best.breakdown}
    assert (points["account_age"], points["purchases"], points["sales"], points["ratings"]) == (
        15,
        15,
        20,
        25,
    )
    assert (best.score, best.level) == (100, "highly_trusted")
    worst = {c.factor: c.points for c in trust_score(TrustInputs(ratings=[1] * 1000), TODAY).breakdown}
    assert worst["ratings"] == -25


@pytest.mark.parametrize(
    ("ratings", "points"),
    [
        ([5], 4),  # adjusted 20/6 = 3.333 -> 4.17 -> 4
        ([4, 4], 4),  # adjusted 23/7 = 3.286 -> 3.57 -> 4
        ([1], -4),  # adjusted 16/6 = 2.667 -> -4.17 -> -4
        ([5, 5, 5, 4, 4], 10),  # adjusted 38/10 = 3.8 -> 12.5 * 0.8 = 10
        ([5, 3, 3, 3, 3], 3),  # adjusted 3.2 -> 2.5: half rounds up
        ([1, 3, 3, 3, 3], -3),  # adjusted 2.8 -> -2.5: half rounds away from zero (Decimal ROUND_HALF_UP)
    ],
)
def test_rating_points(ratings: list[int], points: int) -> None:
    got = {c.factor: c.points for c in trust_score(TrustInputs(ratings=ratings), TODAY).breakdown}["ratings"]
    assert got == points


def test_levels() -> None:
    assert [level_of(s) for s in (0, 24, 25, 49, 50, 74, 75, 100)] == [
        "new", "new", "building", "building", "trusted", "trusted", "highly_trusted", "highly_trusted",
    ]  # fmt: skip
