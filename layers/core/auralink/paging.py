"""Keyset cursors of the paged lists: the (created_at, id) of the last row of the previous page.

A cursor is opaque to clients (URL-safe base64 of JSON); one that this API did not return is a
422 naming the field, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from auralink.errors import ValidationFailed

if TYPE_CHECKING:
    from auralink.db import Connection


def encode_cursor(created_at: datetime, row_id: UUID | str) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def split_page(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """A page of at most ``limit`` rows and the cursor after it, from a query that asked for
    ``limit + 1`` rows (newest first, by ``created_at`` and ``id``): None when that one more
    row did not come."""
    page = rows[:limit]
    more = len(rows) > limit
    return page, encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more else None


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, row_id = json.loads(raw)
        return datetime.fromisoformat(created_at), UUID(row_id)
    except (binascii.Error, ValueError, TypeError):
        raise ValidationFailed(
            "cursor is not one this API returned",
            code="invalid_cursor",
            details=[{"field": "query.cursor", "message": "not a cursor of this list"}],
        ) from None


def newest_first(
    conn: Connection, select_from: str, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of ``select_from`` (a constant ``SELECT ... FROM <one table>``), newest first by
    ``created_at`` and ``id``, after ``cursor``; and the cursor after it."""
    after_at, after_id = decode_cursor(cursor) if cursor is not None else (None, None)
    rows = conn.execute(
        f"""
        {select_from}
         WHERE %(after_at)s::timestamptz IS NULL OR (created_at, id) < (%(after_at)s, %(after_id)s::uuid)
         ORDER BY created_at DESC, id DESC
         LIMIT %(limit)s
        """,
        {"after_at": after_at, "after_id": after_id, "limit": limit + 1},
    ).fetchall()
    return split_page(rows, limit)
