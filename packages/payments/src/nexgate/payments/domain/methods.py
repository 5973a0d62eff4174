"""Payment methods: mobile-money numbers, their operator, and the refusal of card numbers (pure).

Tanzania has no number portability in practice and Kenya's is rarely used, so the operator
follows from the number's prefix (peers.md 2.0); a user who ported keeps an override.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from nexgate.kernel.errors import Conflict, FieldProblem, NotFound, ValidationFailed

#: National significant number prefix -> operator, per region; the longest prefix wins.
OPERATOR_PREFIXES: dict[str, dict[str, str]] = {
    "TZ": {
        "74": "vodacom",
        "75": "vodacom",
        "76": "vodacom",
        "68": "airtel",
        "69": "airtel",
        "78": "airtel",
        "65": "tigo",
        "67": "tigo",
        "71": "tigo",
        "77": "tigo",
        "61": "halotel",
        "62": "halotel",
        "73": "ttcl",
    },
    "KE": {
        "70": "safaricom",
        "71": "safaricom",
        "72": "safaricom",
        "74": "safaricom",
        "79": "safaricom",
        "757": "safaricom",
        "758": "safaricom",
        "759": "safaricom",
        "768": "safaricom",
        "769": "safaricom",
        "11": "safaricom",
        "73": "airtel",
        "75": "airtel",
        "762": "airtel",
        "78": "airtel",
        "10": "airtel",
        "77": "telkom",
    },
}
OPERATORS = frozenset(op for table in OPERATOR_PREFIXES.values() for op in table.values())
_CALLING_CODES = {"TZ": "+255", "KE": "+254"}


class CardNumbersNotAccepted(ValidationFailed):
    default_code = "card_numbers_not_accepted"


class PaymentMethodNotFound(NotFound):
    default_code = "payment_method_not_found"


class DuplicatePaymentMethod(Conflict):
    default_code = "payment_method_exists"


def operator_of(e164: str) -> tuple[str, str | None]:
    """``(region, operator)`` of an E.164 Tanzanian or Kenyan number; operator None if unknown."""
    for region, code in _CALLING_CODES.items():
        if e164.startswith(code):
            nsn = e164[len(code) :]
            table = OPERATOR_PREFIXES[region]
            for length in (3, 2):
                if nsn[:length] in table:
                    return region, table[nsn[:length]]
            return region, None
    return "", None


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


_SEPARATORS = re.compile(r"[\s\-.]")


def refuse_card_number(value: object, field: str = "phone") -> None:
    """422 ``card_numbers_not_accepted`` for anything shaped like a payment card number:
    13 to 19 digits (spaces and dashes ignored) passing the mod-10 checksum. The value is
    never echoed, so it cannot reach a log or a stored problem."""
    if not isinstance(value, str):
        return
    digits = _SEPARATORS.sub("", value.strip())
    if digits.isdigit() and 13 <= len(digits) <= 19 and luhn_valid(digits):
        raise CardNumbersNotAccepted(
            "Card numbers are not accepted: pay with a mobile-money number.",
            errors=[FieldProblem(field, "looks like a card number")],
        )


def mask(e164: str) -> str:
    """All but the last three digits hidden: ``*********678``."""
    return "*" * (len(e164) - 3) + e164[-3:]


@dataclass
class PaymentMethod:
    id: uuid.UUID
    user_id: uuid.UUID
    phone: str
    region: str
    operator: str | None
    operator_override: str | None
    label: str | None
    is_default: bool
    verified: bool
    created_at: datetime

    @property
    def effective_operator(self) -> str | None:
        return self.operator_override or self.operator


def validate_operator(value: str | None) -> None:
    if value is not None and value not in OPERATORS:
        raise ValidationFailed(
            "Unknown operator.",
            code="invalid_operator",
            errors=[FieldProblem("operator", f"one of {', '.join(sorted(OPERATORS))}")],
        )
