"""Postgres access: the container's connection, tenant transactions and the migration runner.

Repositories open one transaction per unit of work::

    with tenant_transaction(identity.sub) as conn:
        rows = conn.execute("SELECT ... FROM user_mcp_connections").fetchall()

Inserts name the caller's ``user_id``; reads need no filter on it for isolation: row-level
security shows each caller only its own rows.
"""

from auralink.db.connection import (
    Connection,
    Rows,
    Statement,
    dsn_from_secret,
    execute_batch,
    reset_connection,
    system_transaction,
    tenant_batch,
    tenant_statements,
    tenant_transaction,
)

__all__ = [
    "Connection",
    "Rows",
    "Statement",
    "dsn_from_secret",
    "execute_batch",
    "reset_connection",
    "system_transaction",
    "tenant_batch",
    "tenant_statements",
    "tenant_transaction",
]
