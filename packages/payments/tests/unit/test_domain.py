"""Pure rules of the ledger, fees, intents and Daraja parsing (no I/O)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexgate.kernel.errors import MalformedRequest, ValidationFailed
from nexgate.kernel.money import Money
from nexgate.payments.adapters.mpesa.daraja import DarajaProvider
from nexgate.payments.application.collection import _redact, route
from nexgate.payments.domain.fees import split_fee
from nexgate.payments.domain.intents import Split, validate_intent
from nexgate.payments.domain.ledger import (
    AccountRef,
    InsufficientFunds,
    JournalEntry,
    Posting,
    UnbalancedEntry,
    check_floor,
    transfer,
)
from nexgate.payments.ports import ProviderOutcome

WALLET = AccountRef.wallet(uuid.UUID(int=1), "TZS")
CLEARING = AccountRef.clearing("mpesa", "TZS")


def entry(*postings: Posting) -> JournalEntry:
    return JournalEntry(id=uuid.uuid4(), kind="t", reference="r", idempotency_key="k", postings=postings)


def test_a_balanced_entry_is_accepted() -> None:
    e = entry(Posting(CLEARING, Money(-500, "TZS")), Posting(WALLET, Money(500, "TZS")))
    assert e.deltas() == {CLEARING.key: -500, WALLET.key: 500}


@pytest.mark.parametrize(
    "postings",
    [
        [Posting(CLEARING, Money(-500, "TZS")), Posting(WALLET, Money(400, "TZS"))],
        [Posting(WALLET, Money(500, "TZS"))],
        [Posting(CLEARING, Money(-500, "TZS")), Posting(WALLET, Money(500, "KES"))],
        [Posting(WALLET, Money(-500, "TZS")), Posting(WALLET, Money(500, "TZS"))],
    ],
)
def test_unbalanced_entries_are_refused(postings) -> None:
    with pytest.raises(UnbalancedEntry):
        entry(*postings)


@pytest.mark.parametrize("amount", [0, -100])
def test_zero_and_negative_transfers_are_refused(amount) -> None:
    with pytest.raises(ValidationFailed):
        transfer(
            id=uuid.uuid4(),
            kind="t",
            reference="r",
            idempotency_key="k",
            source=WALLET,
            targets=[(CLEARING, Money(amount, "TZS"))],
        )


def test_only_clearing_accounts_may_go_negative() -> None:
    check_floor(CLEARING, 0, -1_000)
    check_floor(WALLET, 1_000, -1_000)
    with pytest.raises(InsufficientFunds):
        check_floor(WALLET, 999, -1_000)


@given(st.integers(0, 10**9), st.integers(0, 10_000))
def test_fee_plus_net_is_gross_in_whole_shillings(shillings, bps) -> None:
    gross = Money.of(shillings, "TZS")
    fee, net = split_fee(gross, bps)
    assert fee + net == gross
    assert fee.amount % 100 == 0
    assert net.amount % 100 == 0
    assert 0 <= fee.amount <= gross.amount


def test_fee_rounds_half_up_to_the_shilling() -> None:
    assert split_fee(Money.of(10, "TZS"), 500)[0] == Money.of(1, "TZS")  # 0.5 -> 1
    assert split_fee(Money.of(9, "TZS"), 500)[0] == Money.of(0, "TZS")  # 0.45 -> 0
    assert split_fee(Money.of(10_000, "TZS"), 500) == (Money.of(500, "TZS"), Money.of(9_500, "TZS"))


def test_intent_splits_must_sum_to_the_amount() -> None:
    payee = uuid.uuid4()
    validate_intent(Money.of(100, "KES"), "order", [Split(payee, Money.of(100, "KES"), "a")])
    with pytest.raises(ValidationFailed) as info:
        validate_intent(Money.of(100, "KES"), "order", [Split(payee, Money.of(99, "KES"), "a")])
    assert [e.path for e in info.value.errors] == ["splits"]
    with pytest.raises(ValidationFailed) as info:
        validate_intent(Money.of(0, "KES"), "nonsense", [])
    assert {e.path for e in info.value.errors} == {"amount", "purpose", "splits"}


def test_routing_by_country_and_currency() -> None:
    assert route("+254712345678", "KES") == "mpesa"
    with pytest.raises(ValidationFailed, match="country"):
        route("+255712345678", "KES")
    assert route("+255712345678", "TZS") == "tembo"  # Tigo/Yas
    with pytest.raises(ValidationFailed) as info:
        route("+255732345678", "TZS")  # TTCL: no provider collects from it
    assert info.value.code == "operator_not_supported"


def daraja() -> DarajaProvider:
    return DarajaProvider(
        base_url="http://x", consumer_key="k", consumer_secret="s", shortcode="1", passkey="p"
    )


def test_daraja_callback_items_are_read_by_name_with_numeric_values() -> None:
    body = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "m",
                "CheckoutRequestID": "ws_CO_1",
                "ResultCode": 0,
                "ResultDesc": "ok",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "PhoneNumber", "Value": 254721566839},
                        {"Name": "Balance"},
                        {"Name": "MpesaReceiptNumber", "Value": "LGR7OWQX0R"},
                        {"Name": "Amount", "Value": 1},
                        {"Name": "TransactionDate", "Value": 20170727154800},
                    ]
                },
            }
        }
    }
    parsed = daraja().parse_collection_callback(body)
    assert (parsed.provider_ref, parsed.outcome, parsed.amount_major) == (
        "ws_CO_1",
        ProviderOutcome.SUCCEEDED,
        1,
    )
    assert (parsed.receipt, parsed.msisdn) == ("LGR7OWQX0R", "254721566839")
    redacted = str(_redact(body))
    assert "254721566839" not in redacted
    assert "839" in redacted


def test_a_failed_daraja_callback_has_no_metadata() -> None:
    body = {
        "Body": {
            "stkCallback": {"CheckoutRequestID": "ws_CO_2", "ResultCode": 1032, "ResultDesc": "cancelled"}
        }
    }
    parsed = daraja().parse_collection_callback(body)
    assert (parsed.outcome, parsed.code, parsed.amount_major) == (ProviderOutcome.FAILED, "1032", None)


@pytest.mark.parametrize("body", [{}, [], {"Body": {"stkCallback": {"ResultCode": 0}}}, "x", {"Body": None}])
def test_a_body_that_is_not_an_stk_callback_is_malformed(body) -> None:
    with pytest.raises(MalformedRequest):
        daraja().parse_collection_callback(body)


def test_review_reason_rules_amount_unverified_number_and_young_account() -> None:
    from datetime import UTC, datetime, timedelta

    from nexgate.payments.domain.payouts import WithdrawalLimits, review_reason

    now = datetime(2026, 11, 25, tzinfo=UTC)
    old = now - timedelta(days=30)
    limits = WithdrawalLimits(
        {"KES": 1000},
        {"KES": 10**9},
        review_above={"KES": 50_000_00},
        review_unverified=True,
        young_account_days=7,
    )

    def reason(minor: int, *, verified: bool = True, registered_at: datetime | None = old) -> str | None:
        return review_reason(
            Money(minor, "KES"), limits, number_verified=verified, registered_at=registered_at, now=now
        )

    assert reason(50_000_00) is None  # at the threshold: not above it
    assert reason(50_000_01) == "large_amount"
    assert reason(100_00, verified=False) == "unverified_number"
    assert reason(100_00, registered_at=now - timedelta(days=6)) == "young_account"
    assert reason(100_00, registered_at=now - timedelta(days=7)) is None
    assert reason(100_00, registered_at=None) == "young_account"  # unknown counts as young
    off = WithdrawalLimits({"KES": 1000}, {"KES": 10**9})
    assert review_reason(Money(10**8, "KES"), off, number_verified=False, registered_at=None, now=now) is None
