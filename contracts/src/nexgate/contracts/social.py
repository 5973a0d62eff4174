"""Messages of the social context (exchange ``nexgate.social``).

The producer context is not built yet: these Structs are the shape it will publish, written
down by their first consumer (profiles' trust score, issue 5). Only moderation outcomes
travel: a report that was merely filed is not a fact about the reported user.
"""

from __future__ import annotations

import uuid

from nexgate.contracts.base import Contract


class ReportUpheld(Contract, tag="social.report_upheld.v1", kw_only=True):
    """Moderators upheld a report against ``reportedUserId``."""

    report_id: uuid.UUID
    reported_user_id: uuid.UUID


class ReportOverturned(Contract, tag="social.report_overturned.v1", kw_only=True):
    """An upheld report was overturned on appeal: it no longer counts."""

    report_id: uuid.UUID
    reported_user_id: uuid.UUID
