"""Phone numbers: the account identifier and the mobile-money payer address.

Parsing and validation are delegated to ``phonenumbers`` (Google's
libphonenumber metadata), which knows each operator's number ranges; we only
add the East-African habits it does not cover and our own acceptance policy.
"""

from __future__ import annotations

import re
from collections.abc import Collection

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, PhoneNumberType

from nexgate.kernel.errors import FieldProblem, ValidationFailed

DEFAULT_ALLOWED_REGIONS = ("TZ", "KE", "UG", "RW", "BI")

# FIXED_LINE_OR_MOBILE is what libphonenumber says when a range is shared, so
# it can receive an SMS / mobile-money prompt as far as we can tell.
_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})

# Only digits and the usual separators. phonenumbers itself is lenient: it
# would accept "call 0712345678", read "ext 5" as an extension and turn
# vanity letters into digits, none of which belongs in a phone field.
_SHAPE = re.compile(r"\+?[0-9 ().\-/]{6,32}")


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_phone", errors=[FieldProblem("phone", message)])


def _parse(text: str, region: str | None) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def normalize_phone(
    raw: str,
    *,
    default_region: str = "TZ",
    allowed_regions: Collection[str] = DEFAULT_ALLOWED_REGIONS,
    require_mobile: bool = True,
) -> str:
    """Return ``raw`` as E.164 (``+255712345678``) or raise ``ValidationFailed(code="invalid_phone")``."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not _SHAPE.fullmatch(text):
        raise _invalid("not a phone number")
    allowed = {r.upper() for r in allowed_regions}

    candidates = [_parse(text, default_region.upper())]
    if not text.startswith("+"):
        # People type the international form without the "+" ("2547...") or
        # with the "00" prefix; libphonenumber only recognises that for the
        # default region's own code, so retry as international when the digits
        # start with the calling code of a region we accept.
        digits = re.sub(r"\D", "", text)
        if digits.startswith("00"):
            digits = digits[2:]
        codes = {str(phonenumbers.country_code_for_region(r)) for r in allowed}
        if any(digits.startswith(c) for c in codes if c != "0"):
            candidates.append(_parse("+" + digits, None))

    valid = [n for n in candidates if n is not None and phonenumbers.is_valid_number(n)]
    if not valid:
        raise _invalid("not a valid phone number")
    in_region = [n for n in valid if phonenumbers.region_code_for_number(n) in allowed]
    if not in_region:
        region = phonenumbers.region_code_for_number(valid[0])
        raise _invalid(f"phone numbers from {region} are not accepted")
    number = in_region[0]
    if require_mobile and phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise _invalid("must be a mobile number")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def phone_region(e164: str) -> str:
    """The ISO 3166 region of an E.164 number, e.g. ``"KE"`` for ``+254712345678``."""
    number = _parse(e164, None) if isinstance(e164, str) and e164.startswith("+") else None
    region = phonenumbers.region_code_for_number(number) if number is not None else None
    if number is None or region in (None, "ZZ", "001") or not phonenumbers.is_valid_number(number):
        raise _invalid("not a valid E.164 phone number")
    return str(region)
