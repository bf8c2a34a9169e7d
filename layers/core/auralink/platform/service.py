"""Health of the service and the caller's identity."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from auralink import __version__, prefect_api
from auralink.auth import Identity
from auralink.errors import DomainError
from auralink.observability import MetricName, MetricUnit, logger, metrics
from auralink.platform import repository
from auralink.platform.models import (
    ConfigurationCheck,
    DatabaseCheck,
    HealthDetails,
    HealthReport,
    McpServerHealth,
    Me,
)
from auralink.settings import get_settings


def _check_database() -> DatabaseCheck:
    started = time.perf_counter()
    try:
        version = repository.schema_version()
    except DomainError as exc:
        return DatabaseCheck(status="error", error_code=exc.code)
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    if version is None:
        return DatabaseCheck(status="error", error_code="schema_not_migrated", latency_ms=latency_ms)
    return DatabaseCheck(status="ok", schema_version=version, latency_ms=latency_ms)


def _check_configuration() -> ConfigurationCheck:
    # Imported here: the MCP configuration (YAML and its models) is read by the health check
    # alone, not by the other platform routes that share this module.
    from auralink.config import get_mcp_config  # noqa: PLC0415

    try:
        config = get_mcp_config()
    except DomainError as exc:
        # The message names the key path and the variable, never a value.
        return ConfigurationCheck(status="error", error=exc.message)
    return ConfigurationCheck(status="ok", servers=len(config.servers))


def _mcp_servers(database: DatabaseCheck) -> list[McpServerHealth]:
    if database.status != "ok":
        return []
    return [McpServerHealth.model_validate(row) for row in repository.mcp_server_health()]


def health(*, detailed: bool) -> HealthReport:
    """Status, version and schema for anyone; the checks behind them only when ``detailed``
    (an authenticated caller): configuration errors name variables and secrets, and upstream
    health is nobody else's business. Prefect's state is shown, never awaited: the API serves
    while Prefect starts, and only pipelines need it."""
    database = _check_database()
    configuration = _check_configuration()
    healthy = database.status == "ok" and configuration.status == "ok"
    if not healthy:
        metrics.add_metric(name=MetricName.HEALTH_CHECK_FAILURES, unit=MetricUnit.Count, value=1)
        logger.warning(
            "health check failed",
            extra={"database": database.model_dump(), "configuration": configuration.status},
        )
    details = None
    if detailed:
        details = HealthDetails(
            environment=get_settings().environment,
            database=database,
            configuration=configuration,
            mcp_servers=_mcp_servers(database),
            prefect=prefect_api.check(),
            checked_at=datetime.now(UTC),
        )
    return HealthReport(
        status="ok" if healthy else "unavailable",
        version=__version__,
        schema_version=database.schema_version,
        details=details,
    )


def me(identity: Identity) -> Me:
    seen = repository.record_user_seen(identity.sub, identity.email, identity.role)
    return Me(sub=identity.sub, email=identity.email, role=identity.role, **seen)
