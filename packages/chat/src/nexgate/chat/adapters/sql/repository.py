"""`ChatStore` and `ContactPolicy` on PostgreSQL (Lane B: explicit row locks, fixed order)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.chat.adapters.sql.models import (
    blocks,
    conversations,
    follows,
    hidden_messages,
    members,
    message_media,
    messages,
    privacy,
    profiles,
    reactions,
    user_cursors,
    user_events,
    user_settings,
)
from nexgate.chat.domain.model import (
    ACCEPTED,
    EVERYONE,
    NOBODY,
    PENDING,
    Admission,
    Conversation,
    ConversationView,
    MediaItem,
    Member,
    Message,
    Participant,
    Reaction,
    UnreadSummary,
)

_PROFILE_COLUMNS = (
    "username", "display_name", "avatar_url", "avatar_blurhash", "deactivated", "account_deactivated",
)  # fmt: skip

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


def _media(row: sa.Row) -> MediaItem:
    return MediaItem(
        file_id=row.file_id, kind=row.kind, status=row.status, mime_type=row.mime_type, width=row.width,
        height=row.height, duration_ms=row.duration_ms, blurhash=row.blurhash,
    )  # fmt: skip


def _media_values(item: MediaItem) -> dict[str, object]:
    return {
        "file_id": item.file_id, "kind": item.kind, "status": item.status, "mime_type": item.mime_type,
        "width": item.width, "height": item.height, "duration_ms": item.duration_ms,
        "blurhash": item.blurhash,
    }  # fmt: skip


def _message(row: sa.Row, found: Sequence[Reaction] = (), media: Sequence[MediaItem] = ()) -> Message:
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
        media=tuple(media),
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

    async def direct_between(self, a: uuid.UUID, b: uuid.UUID) -> uuid.UUID | None:
        low, high = sorted((a, b))
        return await self._session.scalar(
            sa.select(conversations.c.id).where(
                conversations.c.user_low == low, conversations.c.user_high == high
            )
        )

    async def open_direct(
        self, *, new_id: uuid.UUID, creator: uuid.UUID, other: uuid.UUID, other_state: str, now: datetime
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
                 "request_state": ACCEPTED if uid == creator else other_state}
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

    async def find_by_client_id(self, sender_id: uuid.UUID, client_message_id: str) -> Message | None:
        row = (
            await self._session.execute(
                sa.select(messages).where(
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
        attached: dict[uuid.UUID, list[MediaItem]] = {i: [] for i in ids}
        if ids:
            result = await self._session.execute(
                sa.select(reactions.c.message_id, reactions.c.user_id, reactions.c.emoji)
                .where(reactions.c.message_id.in_(ids))
                .order_by(reactions.c.created_at, reactions.c.user_id)
            )
            for r in result.all():
                found[r.message_id].append(Reaction(user_id=r.user_id, emoji=r.emoji))
            media_rows = await self._session.execute(
                sa.select(message_media)
                .where(message_media.c.message_id.in_(ids))
                .order_by(message_media.c.position)
            )
            for m in media_rows.all():
                attached[m.message_id].append(_media(m))
        return [_message(row, found[row.id], attached[row.id]) for row in rows]

    async def shared_with(self, user_id: uuid.UUID, others: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        me = members.alias("me")
        found = await self._session.scalars(
            sa.select(members.c.user_id)
            .join(me, sa.and_(me.c.conversation_id == members.c.conversation_id, me.c.user_id == user_id))
            .where(members.c.user_id.in_(list(others)))
            .distinct()
        )
        return set(found)

    async def contacts_of(self, user_id: uuid.UUID) -> set[uuid.UUID]:
        me = members.alias("me")
        found = await self._session.scalars(
            sa.select(members.c.user_id)
            .join(me, sa.and_(me.c.conversation_id == members.c.conversation_id, me.c.user_id == user_id))
            .where(members.c.user_id != user_id)
            .distinct()
        )
        return set(found)

    async def add_media(self, message_id: uuid.UUID, media: Sequence[MediaItem]) -> None:
        await self._session.execute(
            sa.insert(message_media),
            [{"message_id": message_id, "position": i, **_media_values(m)} for i, m in enumerate(media)],
        )

    async def remove_media(self, message_id: uuid.UUID) -> list[uuid.UUID]:
        removed = await self._session.scalars(
            sa.delete(message_media)
            .where(message_media.c.message_id == message_id)
            .returning(message_media.c.file_id)
        )
        return list(removed)

    async def media_ready(self, file_id: uuid.UUID, item: MediaItem) -> list[uuid.UUID]:
        values = _media_values(item)
        del values["file_id"]
        updated = await self._session.scalars(
            sa.update(message_media)
            .where(message_media.c.file_id == file_id)
            .values(**values)
            .returning(message_media.c.message_id)
        )
        return sorted(updated)

    async def media_status(self, file_id: uuid.UUID, status: str) -> list[uuid.UUID]:
        updated = await self._session.scalars(
            sa.update(message_media)
            .where(message_media.c.file_id == file_id, message_media.c.status != status)
            .values(status=status)
            .returning(message_media.c.message_id)
        )
        return sorted(updated)

    async def erase_user(
        self, user_id: uuid.UUID, now: datetime
    ) -> tuple[list[tuple[uuid.UUID, uuid.UUID]], list[sa.Row]]:
        """``auth.user_deleted.v1``: their messages become tombstones, their rows go.

        Returns the (message id, file id) attachments to release in files and the remaining
        members of the user's conversations (to tell them).
        """
        sent = sa.select(messages.c.id).where(messages.c.sender_id == user_id).scalar_subquery()
        released = await self._session.execute(
            sa.delete(message_media)
            .where(message_media.c.message_id.in_(sent))
            .returning(message_media.c.message_id, message_media.c.file_id)
        )
        attachments = [(row.message_id, row.file_id) for row in released.all()]
        await self._session.execute(
            sa.delete(reactions).where(
                sa.or_(reactions.c.message_id.in_(sent), reactions.c.user_id == user_id)
            )
        )
        await self._session.execute(
            sa.update(messages)
            .where(messages.c.sender_id == user_id)
            .values(
                text=None,
                reply_to_message_id=None,
                deleted_for_everyone_at=sa.func.coalesce(messages.c.deleted_for_everyone_at, now),
            )
        )
        await self._session.execute(sa.delete(hidden_messages).where(hidden_messages.c.user_id == user_id))
        theirs = sa.select(members.c.conversation_id).where(members.c.user_id == user_id).scalar_subquery()
        others = list(
            (
                await self._session.execute(
                    sa.select(members.c.conversation_id, members.c.user_id)
                    .where(members.c.conversation_id.in_(theirs), members.c.user_id != user_id)
                    .order_by(members.c.conversation_id, members.c.user_id)
                )
            ).all()
        )
        await self._session.execute(sa.delete(members).where(members.c.user_id == user_id))
        for row in others:
            await self.recount_unread(row.conversation_id, row.user_id)
        for table in (user_events, user_cursors, user_settings, privacy, profiles):
            await self._session.execute(sa.delete(table).where(table.c.user_id == user_id))
        await self._session.execute(
            sa.delete(follows).where(
                sa.or_(follows.c.follower_id == user_id, follows.c.followee_id == user_id)
            )
        )
        await self._session.execute(
            sa.delete(blocks).where(sa.or_(blocks.c.blocker_id == user_id, blocks.c.blocked_id == user_id))
        )
        return attachments, others

    async def purge_cleared(self, batch: int = 1000) -> tuple[int, list[tuple[uuid.UUID, uuid.UUID]]]:
        """History every member cleared: messages at or below the lowest ``clearedBeforeSeq`` go.

        Returns how many messages went and the (message id, file id) attachments to release.
        """
        floors = (
            sa.select(members.c.conversation_id, sa.func.min(members.c.cleared_before_seq).label("floor"))
            .group_by(members.c.conversation_id)
            .having(sa.func.min(members.c.cleared_before_seq) > 0)
            .subquery()
        )
        doomed = (
            sa.select(messages.c.id)
            .join(floors, floors.c.conversation_id == messages.c.conversation_id)
            .where(messages.c.seq <= floors.c.floor)
            .limit(batch)
            .scalar_subquery()
        )
        ids = list(await self._session.scalars(sa.select(messages.c.id).where(messages.c.id.in_(doomed))))
        if not ids:
            return 0, []
        released = await self._session.execute(
            sa.delete(message_media)
            .where(message_media.c.message_id.in_(ids))
            .returning(message_media.c.message_id, message_media.c.file_id)
        )
        attachments = [(row.message_id, row.file_id) for row in released.all()]
        await self._session.execute(sa.delete(reactions).where(reactions.c.message_id.in_(ids)))
        await self._session.execute(sa.delete(hidden_messages).where(hidden_messages.c.message_id.in_(ids)))
        await self._session.execute(sa.delete(messages).where(messages.c.id.in_(ids)))
        return len(ids), attachments

    async def mark_delivered(self, conversation_id: uuid.UUID, user_id: uuid.UUID, up_to_seq: int) -> bool:
        # Conditional: a late or replayed receipt never moves the marker back.
        moved = await self._session.scalar(
            sa.update(members)
            .where(
                members.c.conversation_id == conversation_id,
                members.c.user_id == user_id,
                members.c.last_delivered_seq < up_to_seq,
            )
            .values(last_delivered_seq=up_to_seq)
            .returning(members.c.user_id)
        )
        return moved is not None

    async def read_receipts(self, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, bool]:
        rows = await self._session.execute(
            sa.select(user_settings.c.user_id, user_settings.c.read_receipts).where(
                user_settings.c.user_id.in_(list(user_ids))
            )
        )
        found = {row.user_id: row.read_receipts for row in rows}
        return {u: found.get(u, True) for u in user_ids}

    async def set_read_receipts(self, user_id: uuid.UUID, enabled: bool) -> None:
        await self._session.execute(
            insert(user_settings)
            .values(user_id=user_id, read_receipts=enabled)
            .on_conflict_do_update(index_elements=["user_id"], set_={"read_receipts": enabled})
        )

    def _views(self, user_id: uuid.UUID) -> sa.Select:
        me = members.alias("me")
        other = members.alias("other")
        source = messages.alias("lm_source")
        # The preview is the newest message the caller can still see: after their cleared
        # history and not hidden with delete-for-me (a tombstone still counts).
        last = (
            sa.select(source)
            .where(
                source.c.conversation_id == conversations.c.id,
                source.c.seq > me.c.cleared_before_seq,
                ~sa.exists().where(
                    hidden_messages.c.user_id == user_id, hidden_messages.c.message_id == source.c.id
                ),
            )
            .order_by(source.c.seq.desc())
            .limit(1)
            .lateral("last")
        )
        return (
            sa.select(
                conversations,
                *[me.c[c].label(f"me_{c}") for c in _MEMBER_COLUMNS],
                *[other.c[c].label(f"other_{c}") for c in _MEMBER_COLUMNS],
                *[last.c[c.name].label(f"lm_{c.name}") for c in messages.columns],
                *[profiles.c[c].label(f"p_{c}") for c in _PROFILE_COLUMNS],
            )
            .select_from(conversations)
            .join(me, sa.and_(me.c.conversation_id == conversations.c.id, me.c.user_id == user_id))
            .outerjoin(
                other, sa.and_(other.c.conversation_id == conversations.c.id, other.c.user_id != user_id)
            )
            .outerjoin(last, sa.true())
            .outerjoin(profiles, profiles.c.user_id == other.c.user_id)
        )

    def _view(self, row: sa.Row) -> ConversationView:
        mapping = row._mapping
        me = Member(**{c: mapping[f"me_{c}"] for c in _MEMBER_COLUMNS})
        last = None
        if mapping["lm_id"] is not None:
            last = Message(**{c.name: mapping[f"lm_{c.name}"] for c in messages.columns})
        other = profile = None
        if mapping["other_user_id"] is not None:
            other = Member(**{c: mapping[f"other_{c}"] for c in _MEMBER_COLUMNS})
            profile = Participant(
                user_id=other.user_id,
                username=mapping["p_username"],
                display_name=mapping["p_display_name"],
                avatar_url=mapping["p_avatar_url"],
                avatar_blurhash=mapping["p_avatar_blurhash"],
                deactivated=bool(mapping["p_deactivated"] or mapping["p_account_deactivated"]),
            )
        return ConversationView(
            conversation=_conversation(row),
            me=me,
            other_user_id=mapping["other_user_id"],
            last_message=last,
            other=other,
            other_profile=profile,
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


class SqlEventLog:
    """`EventLog` on ``chat.user_events``: one gap-free ``user_seq`` per user.

    Cursor rows are taken one statement per user in ascending user id, after the conversation
    and member rows (the context's fixed lock order), so two writers never wait on each other
    in a cycle.
    """

    def __init__(
        self, session: AsyncSession, encode: Callable[[object], object], now: Callable[[], datetime]
    ) -> None:
        self._session, self._encode, self._now = session, encode, now
        self.appended: list[tuple[uuid.UUID, int, str, object]] = []

    async def append(self, user_ids: Sequence[uuid.UUID], type: str, data: object) -> dict[uuid.UUID, int]:
        payload = self._encode(data)
        seqs: dict[uuid.UUID, int] = {}
        now = self._now()
        for user_id in sorted(set(user_ids)):
            stmt = insert(user_cursors).values(user_id=user_id, last_user_seq=1)
            seq = await self._session.scalar(
                stmt.on_conflict_do_update(
                    index_elements=["user_id"], set_={"last_user_seq": user_cursors.c.last_user_seq + 1}
                ).returning(user_cursors.c.last_user_seq)
            )
            assert seq is not None
            seqs[user_id] = int(seq)
        if seqs:
            await self._session.execute(
                sa.insert(user_events),
                [{"user_id": u, "user_seq": q, "type": type, "payload": payload, "created_at": now}
                 for u, q in seqs.items()],
            )  # fmt: skip
            self.appended.extend((u, q, type, payload) for u, q in seqs.items())
        return seqs

    async def delivered_up_to(self, user_id: uuid.UUID, up_to_user_seq: int) -> dict[uuid.UUID, int]:
        cursor = (
            await self._session.execute(sa.select(user_cursors).where(user_cursors.c.user_id == user_id))
        ).first()
        if cursor is None:
            return {}
        up_to = min(up_to_user_seq, cursor.last_user_seq)
        if up_to <= cursor.delivered_user_seq:
            return {}
        conversation = user_events.c.payload["conversationId"].astext
        rows = await self._session.execute(
            sa.select(conversation, sa.func.max(user_events.c.payload["seq"].astext.cast(sa.BigInteger)))
            .where(
                user_events.c.user_id == user_id,
                user_events.c.user_seq > cursor.delivered_user_seq,
                user_events.c.user_seq <= up_to,
                user_events.c.type == "message.created",
            )
            .group_by(conversation)
        )
        reached = {uuid.UUID(c): int(seq) for c, seq in rows.all()}
        await self._session.execute(
            sa.update(user_cursors)
            .where(user_cursors.c.user_id == user_id, user_cursors.c.delivered_user_seq < up_to)
            .values(delivered_user_seq=up_to)
        )
        return reached

    async def latest(self, user_id: uuid.UUID) -> int:
        seq = await self._session.scalar(
            sa.select(user_cursors.c.last_user_seq).where(user_cursors.c.user_id == user_id)
        )
        return int(seq or 0)

    async def since(self, user_id: uuid.UUID, since: int, limit: int) -> list[sa.Row]:
        rows = await self._session.execute(
            sa.select(
                user_events.c.user_seq, user_events.c.type, user_events.c.payload, user_events.c.created_at
            )
            .where(user_events.c.user_id == user_id, user_events.c.user_seq > since)
            .order_by(user_events.c.user_seq)
            .limit(limit)
        )
        return list(rows.all())

    async def purge_older_than(self, cutoff: datetime, batch: int = 5000) -> int:
        """Retention: deletes events older than ``cutoff`` in batches (short transactions)."""
        doomed = (
            sa.select(user_events.c.user_id, user_events.c.user_seq)
            .where(user_events.c.created_at < cutoff)
            .limit(batch)
        )
        result = await self._session.execute(
            sa.delete(user_events).where(sa.tuple_(user_events.c.user_id, user_events.c.user_seq).in_(doomed))
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class SqlContactPolicy:
    """Blocks, follows, privacy and profile replicas fed by profiles' (and auth's) messages."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def may_contact(self, sender: uuid.UUID, recipient: uuid.UUID) -> bool:
        """Refused across a block (either way) or to a deactivated recipient."""
        gone = await self._session.scalar(
            sa.select(sa.literal(True)).where(
                profiles.c.user_id == recipient,
                sa.or_(profiles.c.deactivated, profiles.c.account_deactivated),
            )
        )
        if gone:
            return False
        blocked = await self._session.scalar(
            sa.select(sa.literal(True)).where(
                sa.or_(
                    sa.and_(blocks.c.blocker_id == sender, blocks.c.blocked_id == recipient),
                    sa.and_(blocks.c.blocker_id == recipient, blocks.c.blocked_id == sender),
                )
            )
        )
        return not blocked

    async def admission(self, sender: uuid.UUID, recipient: uuid.UUID) -> Admission:
        if not await self.may_contact(sender, recipient):
            return Admission(allowed=False, needs_request=False)
        who = await self._session.scalar(
            sa.select(privacy.c.who_can_message).where(privacy.c.user_id == recipient)
        )
        followed = await self._session.scalar(
            sa.select(sa.literal(True)).where(
                follows.c.follower_id == recipient, follows.c.followee_id == sender
            )
        )
        if who == NOBODY or (who not in (None, EVERYONE) and not followed):
            return Admission(allowed=False, needs_request=False)
        return Admission(allowed=True, needs_request=not followed)

    async def shows_activity(self, user_id: uuid.UUID) -> bool:
        shown = await self._session.scalar(
            sa.select(privacy.c.show_activity).where(privacy.c.user_id == user_id)
        )
        return shown is not False

    async def follow(self, follower: uuid.UUID, followee: uuid.UUID, now: datetime) -> None:
        await self._session.execute(
            insert(follows)
            .values(follower_id=follower, followee_id=followee, created_at=now)
            .on_conflict_do_nothing()
        )

    async def unfollow(self, follower: uuid.UUID, followee: uuid.UUID) -> None:
        await self._session.execute(
            sa.delete(follows).where(follows.c.follower_id == follower, follows.c.followee_id == followee)
        )

    async def set_privacy(
        self, user_id: uuid.UUID, who_can_message: str, show_activity: bool, version: int
    ) -> None:
        """Version-checked: an older settings message arriving late changes nothing."""
        stmt = insert(privacy).values(
            user_id=user_id, who_can_message=who_can_message, show_activity=show_activity, version=version
        )
        await self._session.execute(
            stmt.on_conflict_do_update(
                index_elements=["user_id"],
                set_={"who_can_message": who_can_message, "show_activity": show_activity, "version": version},
                where=privacy.c.version < version,
            )
        )

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

    async def set_profile(
        self,
        user_id: uuid.UUID,
        *,
        username: str,
        display_name: str,
        avatar_url: str | None,
        avatar_blurhash: str | None,
        deactivated: bool,
        version: int,
    ) -> None:
        """Version-checked: a stale or redelivered snapshot changes nothing."""
        values = {
            "username": username, "display_name": display_name, "avatar_url": avatar_url,
            "avatar_blurhash": avatar_blurhash, "deactivated": deactivated, "version": version,
        }  # fmt: skip
        await self._session.execute(
            insert(profiles)
            .values(user_id=user_id, **values)
            .on_conflict_do_update(
                index_elements=["user_id"], set_=values, where=profiles.c.version < version
            )
        )

    async def drop_profile(self, user_id: uuid.UUID) -> None:
        await self._session.execute(sa.delete(profiles).where(profiles.c.user_id == user_id))

    async def set_account_deactivated(self, user_id: uuid.UUID, deactivated: bool) -> None:
        await self._session.execute(
            insert(profiles)
            .values(user_id=user_id, account_deactivated=deactivated)
            .on_conflict_do_update(index_elements=["user_id"], set_={"account_deactivated": deactivated})
        )
