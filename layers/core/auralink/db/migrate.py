"""Apply the schema migrations and the seeds, as the owner role.

Migrations are the files ``NNNN_<name>.sql`` of ``migrations/``, applied in order, each once and in
its own transaction, and recorded in ``schema_migrations`` with a checksum: editing a file that
was already applied is an error (write a new migration instead). Seeds (``seeds/*.sql``) are
idempotent upserts applied after every run, so that a price or an endpoint changed in a seed
reaches every deployment; so are the data files of LLM models (``llm-models.yaml`` joined with
``llm-model-prices.yaml``, see `auralink.llm.models_file`), after the SQL seeds that create their
providers. A session advisory lock
makes concurrent runners wait for each other.

``python -m auralink.db.migrate`` runs it with the owner's URL from ``DATABASE_OWNER_URL`` (or the
secret named by ``DATABASE_OWNER_SECRET_ID``).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow

from auralink.db.connection import dsn_from_secret
from auralink.errors import ConfigurationError, DomainError, ServiceUnavailable
from auralink.llm.models_file import RegistryModel, load_models
from auralink.llm.registry import seed_models
from auralink.observability import logger

APP_ROLE = "auralink_app"

_MIGRATION_FILE = re.compile(r"^(?P<version>\d{4})_[a-z0-9_]+\.sql$")
# Any constant shared by every runner of this schema; the bytes of "auralink".
_LOCK_KEY = 0x617572616C696E6B
_PACKAGED_SQL = Path(__file__).parent / "sql"
_REPO_SQL = Path(__file__).resolve().parents[4] / "infra" / "db"

_BOOKKEEPING = b"""
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text PRIMARY KEY CHECK (version ~ '^[0-9]{4}$'),
    name        text NOT NULL UNIQUE,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON schema_migrations FROM PUBLIC;
"""


class MigrationError(ConfigurationError):
    code = "migration_failed"


@dataclass(frozen=True)
class SqlFile:
    name: str
    version: str
    sql: bytes
    checksum: str

    @classmethod
    def read(cls, path: Path, version: str = "") -> SqlFile:
        # Line endings are normalised so that a checkout with CRLF does not look like an edit.
        text = path.read_bytes().replace(b"\r\n", b"\n")
        return cls(name=path.stem, version=version, sql=text, checksum=hashlib.sha256(text).hexdigest())


def default_sql_root() -> Path:
    """The folder holding ``migrations/`` and ``seeds/``: packaged in the layer, else the repository's."""
    return _PACKAGED_SQL if _PACKAGED_SQL.is_dir() else _REPO_SQL


def load_migrations(directory: Path) -> list[SqlFile]:
    migrations: list[SqlFile] = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_FILE.match(path.name)
        if match is None:
            raise MigrationError(f"migration file {path.name} is not named NNNN_<lowercase_name>.sql")
        migrations.append(SqlFile.read(path, match["version"]))
    versions = [migration.version for migration in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return migrations


def apply_migrations(
    owner_dsn: str,
    *,
    app_dsn: str | None = None,
    sql_root: Path | None = None,
    models_file: Path | None = None,
    prices_file: Path | None = None,
) -> list[str]:
    """Apply the pending migrations, then the seeds; return the names of the migrations applied.

    ``app_dsn``: when it names the application role with a password, that password is set on the
    role (as a SCRAM verifier computed here, so that the clear password never reaches the server).
    ``models_file``, ``prices_file``: the LLM models' data files (default: the shipped ones, see
    `auralink.llm.models_file`).
    """
    root = sql_root or default_sql_root()
    migrations = load_migrations(root / "migrations")
    seeds = [SqlFile.read(path) for path in sorted((root / "seeds").glob("*.sql"))]
    # Read before connecting: a malformed data file fails the run before anything is applied.
    models = load_models(models_file, prices_file)
    try:
        conn = psycopg.connect(owner_dsn, autocommit=True, prepare_threshold=None, connect_timeout=10)
    except psycopg.Error:
        raise ServiceUnavailable("the database is unavailable", code="database_unavailable") from None
    with conn:
        # Objects go to public whatever the owner's own search_path says.
        conn.execute("SET search_path TO public")
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            applied = _apply_pending(conn, migrations)
            for seed in seeds:
                _run(conn, seed, record=False)
            _seed_models(conn, models)
            if app_dsn is not None:
                _set_app_password(conn, app_dsn)
        finally:
            if not conn.broken:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied


def _apply_pending(conn: psycopg.Connection[TupleRow], migrations: list[SqlFile]) -> list[str]:
    conn.execute(_BOOKKEEPING)
    recorded = {
        version: (name, checksum)
        for version, name, checksum in conn.execute("SELECT version, name, checksum FROM schema_migrations")
    }
    applied: list[str] = []
    for migration in migrations:
        if migration.version in recorded:
            if recorded[migration.version] != (migration.name, migration.checksum):
                raise MigrationError(
                    f"migration {migration.name} was changed after it was applied;"
                    " add a new migration instead"
                )
            continue
        _run(conn, migration, record=True)
        logger.info("migration applied", extra={"migration": migration.name})
        applied.append(migration.name)
    unknown = sorted(set(recorded) - {migration.version for migration in migrations})
    if unknown:
        # The database is ahead of this code (a rolled back deploy): tolerated, but visible.
        logger.warning("database has migrations this code does not know", extra={"versions": unknown})
    return applied


def _run(conn: psycopg.Connection[TupleRow], script: SqlFile, *, record: bool) -> None:
    try:
        with conn.transaction():
            # No parameters: psycopg sends the file as one simple query, several statements allowed.
            conn.execute(script.sql)
            if record:
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (script.version, script.name, script.checksum),
                )
    except psycopg.DatabaseError as exc:
        problem = exc.diag.message_primary or type(exc).__name__
        raise MigrationError(f"{script.name} failed: {problem}") from exc


def _seed_models(conn: psycopg.Connection[TupleRow], models: list[RegistryModel]) -> None:
    try:
        with conn.transaction():
            seed_models(conn, models)
    except psycopg.DatabaseError as exc:
        problem = exc.diag.message_primary or type(exc).__name__
        raise MigrationError(f"seeding the LLM models failed: {problem}") from exc


def _set_app_password(conn: psycopg.Connection[TupleRow], app_dsn: str) -> None:
    try:
        params = conninfo_to_dict(app_dsn)
    except psycopg.ProgrammingError:
        raise ConfigurationError("the application database URL is malformed") from None
    user, password = params.get("user"), params.get("password")
    if user != APP_ROLE or not password:
        return
    verifier = conn.pgconn.encrypt_password(str(password).encode(), APP_ROLE.encode(), b"scram-sha-256")
    try:
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(APP_ROLE), sql.Literal(verifier.decode())
            )
        )
    except psycopg.DatabaseError as exc:
        # E.g. the role was created by someone else and the owner holds no ADMIN option on it.
        problem = exc.diag.message_primary or type(exc).__name__
        raise MigrationError(f"cannot set the password of {APP_ROLE}: {problem}") from None


def _dsn_from_environment(url_variable: str, secret_variable: str) -> str | None:
    if os.environ.get(url_variable):
        return os.environ[url_variable]
    if os.environ.get(secret_variable):
        return dsn_from_secret(os.environ[secret_variable], max_age=0, force_fetch=True)
    return None


def main() -> int:
    try:
        owner_dsn = _dsn_from_environment("DATABASE_OWNER_URL", "DATABASE_OWNER_SECRET_ID")
        if owner_dsn is None:
            sys.stderr.write(
                "set DATABASE_OWNER_URL (or DATABASE_OWNER_SECRET_ID) to the owner's database URL\n"
            )
            return 2
        app_dsn = _dsn_from_environment("DATABASE_URL", "DATABASE_SECRET_ID")
        applied = apply_migrations(owner_dsn, app_dsn=app_dsn)
    except DomainError as exc:
        sys.stderr.write(f"migration failed: {exc.message}\n")
        return 1
    sys.stdout.write("".join(f"applied {name}\n" for name in applied) or "schema is up to date\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
