"""Bringing the database schema up to date, as the deploy does after `sam deploy`."""

from __future__ import annotations

from pydantic import SecretStr

from auralink.db import dsn_from_secret
from auralink.db.migrate import apply_migrations
from auralink.errors import ConfigurationError
from auralink.model import DeferredModel
from auralink.observability import logger
from auralink.platform import repository
from auralink.settings import get_settings


class MigrationReport(DeferredModel):
    applied: list[str]
    schema_version: str | None


def _dsn(url: SecretStr | None, secret_id: str | None) -> str | None:
    if url is not None:
        return url.get_secret_value()
    if secret_id:
        # Fresh, not cached: a deploy may just have rotated the secret.
        return dsn_from_secret(secret_id, max_age=0, force_fetch=True)
    return None


def migrate() -> MigrationReport:
    settings = get_settings()
    owner_dsn = _dsn(settings.database_owner_url, settings.database_owner_secret_id)
    if owner_dsn is None:
        raise ConfigurationError("DATABASE_OWNER_URL or DATABASE_OWNER_SECRET_ID must be set to migrate")
    app_dsn = _dsn(settings.database_url, settings.database_secret_id)
    applied = apply_migrations(owner_dsn, app_dsn=app_dsn)
    report = MigrationReport(applied=applied, schema_version=repository.schema_version())
    logger.info("schema migrated", extra=report.model_dump())
    return report
