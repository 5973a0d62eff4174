"""The daily comparison of a provider's statement with our records (Tembo: its collection and
disbursement statements, fee rows included). Drift is reported, never corrected here: a
correction is an admin's reversal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from nexgate.payments.domain.intents import AttemptStatus
from nexgate.payments.domain.payouts import PayoutStatus
from nexgate.payments.ports import UnitOfWork

_FEE_SUFFIX = "-PAYIN"


@dataclass
class StatementDrift:
    rows: int = 0
    #: The provider's service fees on the statement, in whole shillings (its own DR rows).
    fees_major: int = 0
    problems: list[str] = field(default_factory=list)


def _whole(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and float(value).is_integer() else None


async def compare_tembo_statement(
    *,
    uow: UnitOfWork,
    collection_rows: list[dict[str, Any]],
    disbursement_rows: list[dict[str, Any]],
) -> StatementDrift:
    """Each statement row must be one of our transactions, final on our side with the same
    amount: a collection CR row an attempt that succeeded, a disbursement DR row a payout that
    succeeded. Fee rows (``<ref>-PAYIN``) are summed, not matched."""
    drift = StatementDrift(rows=len(collection_rows) + len(disbursement_rows))
    async with uow() as tx:
        for row in collection_rows:
            ref = str(row.get("tranRefNo", ""))
            if ref.endswith(_FEE_SUFFIX):
                drift.fees_major += _whole(row.get("amountDebited")) or 0
                continue
            attempt = await tx.store.attempt_by_provider_ref("tembo", ref)
            amount = _whole(row.get("amountCredited"))
            if attempt is None:
                drift.problems.append(f"collection {ref}: not ours")
            elif attempt.status is not AttemptStatus.SUCCEEDED:
                drift.problems.append(f"collection {ref}: {attempt.status.value} on our side")
            elif amount != attempt.amount.to_major_units_whole():
                drift.problems.append(f"collection {ref}: statement {amount}, ours {attempt.amount}")
        for row in disbursement_rows:
            ref = str(row.get("tranRefNo", ""))
            try:
                payout = await tx.payouts.get(uuid.UUID(ref))
            except ValueError:
                payout = None
            amount = _whole(row.get("amountDebited"))
            if payout is None:
                drift.problems.append(f"payout {ref}: not ours")
            elif payout.status is not PayoutStatus.SUCCEEDED:
                drift.problems.append(f"payout {ref}: {payout.status.value} on our side")
            elif amount != payout.amount.to_major_units_whole():
                drift.problems.append(f"payout {ref}: statement {amount}, ours {payout.amount}")
    return drift
