"""`ChatStore` and `ContactPolicy` on PostgreSQL (Lane B: explicit row locks, fixed order)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.chat.adapters.sql.models import (
    blocks,
    conversations,
    hidden_messages,
    members,
    messages,
    reactions,
)
from nexgate.chat.domain.model import (
    ACCEPTED,
    PENDING,
    Conversation,
    ConversationView,
    Member,
    Message,
    Reaction,
    UnreadSummary,
)

_MEMBER_COLUMNS = (
    "conversation_id", "user_id", "request_state", "last_read_seq", "last_delivered_seq",
    "cleared_before_seq", "unread_count", "muted_until", "archived", "pinned",
)  # fmt: skip


def _member(row: sa.Row) -> Member:
    return Member(**{c: getattr(row, c) for c in _MEMBER_COLUMNS})


def _conversation(row: sa.Row) -> Conversation:
    return Conversation(
        id=row.id,
        kind=row.kind,
        created_by=row.created_by,
        last_seq=row.last_seq,
        last_activity_at=row.last_activity_at,
    )


def _message(row: sa.Row, found: Sequence[Reaction] = ()) -> Message:
    return Message(
        id=row.id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        sender_id=row.sender_id,
        client_message_id=row.client_message_id,
        body_hash=row.body_hash,
        text=row.text,
        reply_to_message_id=row.reply_to_message_id,
        created_at=row.created_at,
        edited_at=row.edited_at,
        deleted_for_everyone_at=row.deleted_for_everyone_at,
        reactions=tuple(found),
    )


def _unread_count(
    conversation_id: uuid.UUID, user_id: uuid.UUID, after_seq: sa.ColumnElement
) -> sa.ScalarSelect:
    return (
        sa.select(sa.func.count())
        .select_from(messages)
        .where(
            messages.c.conversation_id == conversation_id,
            messages.c.sender_id != user_id,
            messages.c.seq > after_seq,
            messages.c.deleted_for_everyone_at.is_(None),
        )
        .scalar_subquery()
    )


class SqlChatStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def open_direct(
        self, *, new_id: uuid.UUID, creator: uuid.UUID, other: uuid.UUID, now: datetime
    ) -> tuple[uuid.UUID, bool]:
        low, high = sorted((creator, other))
        created = await self._session.scalar(
            insert(conversations)
            .values(
                id=new_id,
                kind="direct",
                user_low=low,
                user_high=high,
                created_by=creator,
                last_activity_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["user_low", "user_high"])
            .returning(conversations.c.id)
        )
        if created is None:
            # A concurrent opener committed first (the insert waited on the unique index).
            existing = await self._session.scalar(
                sa.select(conversations.c.id).where(
                    conversations.c.user_low == low, conversations.c.user_high == high
                )
            )
            assert existing is not None
            return existing, False
        await self._session.execute(
            sa.insert(members),
            [
                {"conversation_id": new_id, "user_id": uid, "joined_at": now,
                 "request_state": ACCEPTED if uid == creator else PENDING}
                for uid in sorted((creator, other))
            ],
        )  # fmt: skip
        return new_id, True

    async def get_conversation(
        self, conversation_id: uuid.UUID, *, lock: bool = False
    ) -> Conversation | None:
        stmt = sa.select(conversations).where(conversations.c.id == conversation_id)
        if lock:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).first()
        return _conversation(row) if row else None

    async def get_member(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> Member | None:
        row = (
            await self._session.execute(
                sa.select(members).where(
                    members.c.conversation_id == conversation_id, members.c.user_id == user_id
                )
            )
        ).first()
        return _member(row) if row else None

    async def members_of(self, conversation_id: uuid.UUID, *, lock: bool = False) -> Sequence[Member]:
        stmt = (
            sa.select(members).where(members.c.conversation_id == conversation_id).order_by(members.c.user_id)
        )
        if lock:
            stmt = stmt.with_for_update()
        return [_member(row) for row in (await self._session.execute(stmt)).all()]

    async def find_by_client_id(
        self, conversation_id: uuid.UUID, sender_id: uuid.UUID, client_message_id: str
    ) -> Message | None:
        row = (
            await self._session.execute(
                sa.select(messages).where(
                    messages.c.conversation_id == conversation_id,
                    messages.c.sender_id == sender_id,
                    messages.c.client_message_id == client_message_id,
                )
            )
        ).first()
        return (await self._with_reactions([row]))[0] if row else None

    async def get_message(self, message_id: uuid.UUID) -> Message | None:
        row = (await self._session.execute(sa.select(messages).where(messages.c.id == message_id))).first()
        return (await self._with_reactions([row]))[0] if row else None

    async def count_sent_by(self, conversation_id: uuid.UUID, sender_id: uuid.UUID) -> int:
        return int(
            await self._session.scalar(
                sa.select(sa.func.count())
                .select_from(messages)
                .where(messages.c.conversation_id == conversation_id, messages.c.sender_id == sender_id)
            )
            or 0
        )

    async def next_seq(self, conversation_id: uuid.UUID, message_id: uuid.UUID, now: datetime) -> int:
        seq = await self._session.scalar(
            sa.update(conversations)
            .where(conversations.c.id == conversation_id)
            .values(last_seq=conversations.c.last_seq + 1, last_message_id=message_id, last_activity_at=now)
            .returning(conversations.c.last_seq)
        )
        assert seq is not None
        return int(seq)

    async def add_message(self, message: Message) -> None:
        await self._session.execute(
            sa.insert(messages).values(
                id=message.id,
                conversation_id=message.conversation_id,
                seq=message.seq,
                sender_id=message.sender_id,
                client_message_id=message.client_message_id,
                body_hash=message.body_hash,
                text=message.text,
                reply_to_message_id=message.reply_to_message_id,
                created_at=message.created_at,
            )
        )

    async def message_added(self, conversation_id: uuid.UUID, sender_id: uuid.UUID, seq: int) -> None:
        # Same transaction as the insert: the others' unread grows, the sender has read it.
        await self._session.execute(
            sa.update(members)
            .where(members.c.conversation_id == conversation_id, members.c.user_id != sender_id)
            .values(unread_count=members.c.unread_count + 1)
        )
        await self._session.execute(
            sa.update(members)
            .where(members.c.conversation_id == conversation_id, members.c.user_id == sender_id)
            .values(last_read_seq=sa.func.greatest(members.c.last_read_seq, seq), unread_count=0)
        )

    async def mark_read(self, conversation_id: uuid.UUID, user_id: uuid.UUID, up_to_seq: int) -> None:
        new_seq = sa.func.greatest(members.c.last_read_seq, up_to_seq)
        await self._session.execute(
            sa.update(members)
            .where(members.c.conversation_id == conversation_id, members.c.user_id == user_id)
            .values(
                last_read_seq=new_seq,
                last_delivered_seq=sa.func.greatest(members.c.last_delivered_seq, new_seq),
                unread_count=_unread_count(conversation_id, user_id, new_seq),
            )
        )

    async def recount_unread(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> None:
        await self._session.execute(
            sa.update(members)
            .where(members.c.conversation_id == conversation_id, members.c.user_id == user_id)
            .values(unread_count=_unread_count(conversation_id, user_id, members.c.last_read_seq))
        )

    async def set_request_state(self, conversation_id: uuid.UUID, user_id: uuid.UUID, state: str) -> None:
        await self.update_member(conversation_id, user_id, {"request_state": state})

    async def update_member(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, changes: dict[str, object]
    ) -> None:
        await self._session.execute(
            sa.update(members)
            .where(members.c.conversation_id == conversation_id, members.c.user_id == user_id)
            .values(**changes)
        )

    async def edit_message(self, message_id: uuid.UUID, text: str, now: datetime) -> None:
        await self._session.execute(
            sa.update(messages).where(messages.c.id == message_id).values(text=text, edited_at=now)
        )

    async def tombstone(self, message_id: uuid.UUID, now: datetime) -> None:
        await self._session.execute(
            sa.update(messages)
            .where(messages.c.id == message_id)
            .values(text=None, deleted_for_everyone_at=now, reply_to_message_id=None)
        )
        await self._session.execute(sa.delete(reactions).where(reactions.c.message_id == message_id))

    async def set_reaction(
        self, message_id: uuid.UUID, user_id: uuid.UUID, emoji: str, now: datetime
    ) -> None:
        stmt = insert(reactions).values(message_id=message_id, user_id=user_id, emoji=emoji, created_at=now)
        await self._session.execute(
            stmt.on_conflict_do_update(
                index_elements=["message_id", "user_id"], set_={"emoji": emoji, "created_at": now}
            )
        )

    async def remove_reaction(self, message_id: uuid.UUID, user_id: uuid.UUID) -> None:
        await self._session.execute(
            sa.delete(reactions).where(reactions.c.message_id == message_id, reactions.c.user_id == user_id)
        )

    async def _with_reactions(self, rows: Sequence[sa.Row]) -> list[Message]:
        ids = [row.id for row in rows]
        found: dict[uuid.UUID, list[Reaction]] = {i: [] for i in ids}
        if ids:
            result = await self._session.execute(
                sa.select(reactions.c.message_id, reactions.c.user_id, reactions.c.emoji)
                .where(reactions.c.message_id.in_(ids))
                .order_by(reactions.c.created_at, reactions.c.user_id)
            )
            for r in result.all():
                found[r.message_id].append(Reaction(user_id=r.user_id, emoji=r.emoji))
        return [_message(row, found[row.id]) for row in rows]

    def _views(self, user_id: uuid.UUID) -> sa.Select:
        me = members.alias("me")
        other = members.alias("other")
        last = messages.alias("last")
        return (
            sa.select(
                conversations,
                *[me.c[c].label(f"me_{c}") for c in _MEMBER_COLUMNS],
                other.c.user_id.label("other_user_id"),
                *[last.c[c.name].label(f"lm_{c.name}") for c in messages.columns],
            )
            .select_from(conversations)
            .join(me, sa.and_(me.c.conversation_id == conversations.c.id, me.c.user_id == user_id))
            .outerjoin(
                other, sa.and_(other.c.conversation_id == conversations.c.id, other.c.user_id != user_id)
            )
            .outerjoin(
                last,
                sa.and_(last.c.id == conversations.c.last_message_id, last.c.seq > me.c.cleared_before_seq),
            )
        )

    def _view(self, row: sa.Row) -> ConversationView:
        mapping = row._mapping
        me = Member(**{c: mapping[f"me_{c}"] for c in _MEMBER_COLUMNS})
        last = None
        if mapping["lm_id"] is not None:
            last = Message(**{c.name: mapping[f"lm_{c.name}"] for c in messages.columns})
        return ConversationView(
            conversation=_conversation(row), me=me, other_user_id=mapping["other_user_id"], last_message=last
        )

    async def view(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> ConversationView | None:
        row = (
            await self._session.execute(self._views(user_id).where(conversations.c.id == conversation_id))
        ).first()
        return self._view(row) if row else None

    async def list_conversations(
        self, user_id: uuid.UUID, *, folder: str, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> Sequence[ConversationView]:
        stmt = self._views(user_id)
        me_state: sa.ColumnClause[object] = sa.literal_column("me.request_state")
        me_archived: sa.ColumnClause[object] = sa.literal_column("me.archived")
        me_cleared: sa.ColumnClause[object] = sa.literal_column("me.cleared_before_seq")
        stmt = stmt.where(conversations.c.last_seq > me_cleared)
        if folder == "inbox":
            stmt = stmt.where(me_state == ACCEPTED, me_archived.is_(False))
        elif folder == "archived":
            stmt = stmt.where(me_state == ACCEPTED, me_archived.is_(True))
        else:
            stmt = stmt.where(me_state == PENDING)
        if after is not None:
            stmt = stmt.where(
                sa.tuple_(conversations.c.last_activity_at, conversations.c.id) < sa.tuple_(*after)
            )
        stmt = stmt.order_by(conversations.c.last_activity_at.desc(), conversations.c.id.desc()).limit(
            limit + 1
        )
        return [self._view(row) for row in (await self._session.execute(stmt)).all()]

    async def hide_message(self, message_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> None:
        await self._session.execute(
            insert(hidden_messages)
            .values(user_id=user_id, message_id=message_id, hidden_at=now)
            .on_conflict_do_nothing()
        )

    async def list_messages(
        self,
        conversation_id: uuid.UUID,
        *,
        viewer_id: uuid.UUID,
        before: int | None,
        after: int | None,
        not_before: int,
        limit: int,
    ) -> Sequence[Message]:
        hidden = sa.exists().where(
            hidden_messages.c.user_id == viewer_id, hidden_messages.c.message_id == messages.c.id
        )
        stmt = sa.select(messages).where(
            messages.c.conversation_id == conversation_id, messages.c.seq > not_before, ~hidden
        )
        if after is not None:
            stmt = stmt.where(messages.c.seq > after).order_by(messages.c.seq).limit(limit + 1)
            rows = list((await self._session.execute(stmt)).all())
        else:
            if before is not None:
                stmt = stmt.where(messages.c.seq < before)
            stmt = stmt.order_by(messages.c.seq.desc()).limit(limit + 1)
            rows = list(reversed((await self._session.execute(stmt)).all()))
        return await self._with_reactions(rows)

    async def unread_summary(self, user_id: uuid.UUID) -> UnreadSummary:
        accepted = sa.and_(members.c.request_state == ACCEPTED, members.c.unread_count > 0)
        pending = sa.and_(
            members.c.request_state == PENDING, conversations.c.last_seq > members.c.cleared_before_seq
        )
        row = (
            await self._session.execute(
                sa.select(
                    sa.func.count().filter(accepted),
                    sa.func.coalesce(sa.func.sum(members.c.unread_count).filter(accepted), 0),
                    sa.func.count().filter(pending),
                )
                .select_from(members.join(conversations, conversations.c.id == members.c.conversation_id))
                .where(members.c.user_id == user_id)
            )
        ).one()
        return UnreadSummary(
            unread_conversations=row[0], unread_messages=int(row[1]), pending_requests=row[2]
        )


class SqlContactPolicy:
    """Reads the blocks replica fed by ``profiles.block_created.v1`` / ``block_removed.v1``."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def may_contact(self, sender: uuid.UUID, recipient: uuid.UUID) -> bool:
        blocked = await self._session.scalar(
            sa.select(sa.literal(True)).where(
                sa.or_(
                    sa.and_(blocks.c.blocker_id == sender, blocks.c.blocked_id == recipient),
                    sa.and_(blocks.c.blocker_id == recipient, blocks.c.blocked_id == sender),
                )
            )
        )
        return not blocked

    async def block(self, blocker: uuid.UUID, blocked: uuid.UUID, now: datetime) -> None:
        await self._session.execute(
            insert(blocks)
            .values(blocker_id=blocker, blocked_id=blocked, created_at=now)
            .on_conflict_do_nothing()
        )

    async def unblock(self, blocker: uuid.UUID, blocked: uuid.UUID) -> None:
        await self._session.execute(
            sa.delete(blocks).where(blocks.c.blocker_id == blocker, blocks.c.blocked_id == blocked)
        )
