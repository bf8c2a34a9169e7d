"""A user's LLM preferences: the default model and bring-your-own provider keys.

Keys are sealed with `auralink.crypto` before they reach the database, bound to the user, to the
preferences row and to the provider (a key copied to another provider's slot does not open), and
are opened only in `resolve_access`, for one call. Answers show a hint of a key, never the key.

An OpenAI-compatible provider may get a ``base_url`` (Ollama, vLLM, a proxy): it passes the SSRF
guard (https to public addresses; loopback too where ALLOW_LOOPBACK_ENDPOINTS allows it) and is stored in
clear. The service's own key is never sent to such a URL: a user's endpoint gets the user's key
or none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from pydantic import SecretStr

from auralink import crypto, secrets, ssrf
from auralink.auth import Identity
from auralink.db import system_transaction, tenant_transaction
from auralink.errors import ValidationFailed
from auralink.llm import preferences_repository, registry, registry_repository
from auralink.llm.api_models import (
    Preferences,
    PreferencesUpdate,
    ProviderSettings,
    ProviderSettingsUpdate,
)
from auralink.llm.providers.base import ProviderAccess
from auralink.observability import logger
from auralink.settings import get_settings

KEY_PURPOSE = "llm-provider-key"
# Providers whose API takes a base URL of the user's choosing.
_BASE_URL_STYLES = frozenset({"openai"})
# Providers reached with the deployment's own AWS credentials, never with a user's key.
_KEYLESS_STYLES = frozenset({"bedrock"})
_KEY_PREFIX = re.compile(r"^[A-Za-z]{1,4}-")
_MIN_KEY_FOR_TAIL = 16


def key_hint(api_key: str) -> str:
    """``sk-...abcd``: a well-known prefix and at most the last 4 characters; none of a short key."""
    match = _KEY_PREFIX.match(api_key)
    prefix = match.group(0) if match else ""
    tail = api_key[-4:] if len(api_key) - len(prefix) >= _MIN_KEY_FOR_TAIL else ""
    return f"{prefix}...{tail}"


def get_preferences(identity: Identity) -> Preferences:
    with tenant_transaction(identity.sub) as conn:
        row = preferences_repository.get(conn)
    return _to_preferences(row)


def put_preferences(identity: Identity, update: PreferencesUpdate) -> Preferences:
    """Apply an update (see `PreferencesUpdate` for what is kept, replaced or removed)."""
    styles = _provider_styles()
    base_urls = {name: _checked_settings(name, entry, styles) for name, entry in update.providers.items()}
    new_default = update.default_model if "default_model" in update.model_fields_set else None
    in_registry = new_default is None or _check_default_model(new_default)
    with tenant_transaction(identity.sub) as conn:
        row = preferences_repository.lock_or_create(conn, identity.sub)
        record_id = str(row["id"])
        stored: dict[str, Any] = dict(row["providers"])
        for name, entry in update.providers.items():
            seal = partial(_seal, user_id=identity.sub, record_id=record_id, provider=name)
            settings = None if entry is None else _settings(stored.get(name), entry, base_urls[name], seal)
            if settings is None:
                stored.pop(name, None)
            else:
                stored[name] = settings
        if not in_registry:
            _check_endpoint_default(str(new_default), stored, styles)
        default_model = (
            update.default_model if "default_model" in update.model_fields_set else row["default_model"]
        )
        saved = preferences_repository.update(conn, default_model=default_model, providers=stored)
    logger.info(
        "llm preferences updated",
        extra={"providers_changed": sorted(update.providers), "providers_with_keys": _with_keys(stored)},
    )
    return _to_preferences(saved)


def resolve_model(user_id: str, model_id: str) -> registry.ModelEntry:
    """The model ``model_id`` for ``user_id``: one of the registry, or any model of the user's own
    OpenAI-compatible endpoint (``<provider>/<name>`` where the user set that provider's base_url).

    `ValidationFailed`: model_not_found when neither, model_disabled for a disabled one,
    model_retired (`registry.ModelRetired`, naming the successor) for a retired one.
    """
    found = registry.find_model(model_id)
    if found is not None:
        return registry.enabled(found)
    provider, name = registry.split_model_id(model_id)
    with tenant_transaction(user_id) as conn:
        provider_row = registry_repository.provider_row(conn, provider)
        row = preferences_repository.get(conn)
    stored = (row["providers"] if row is not None else {}).get(provider) or {}
    if (
        provider_row is None
        or provider_row["api_style"] not in _BASE_URL_STYLES
        or not stored.get("base_url")
    ):
        raise ValidationFailed(
            f"no model {model_id!r} in the registry (models of your own endpoint need its base_url"
            f" in providers.{provider})",
            code="model_not_found",
        )
    return registry.endpoint_model(provider, name, provider_row["api_style"])


def default_model(user_id: str) -> str | None:
    """The user's default model id, if they chose one."""
    with tenant_transaction(user_id) as conn:
        row = preferences_repository.get(conn)
    return None if row is None else row["default_model"]


def resolve_access(user_id: str, provider: str) -> ProviderAccess:
    """How to reach ``provider`` for one call on behalf of ``user_id``.

    The user's key (opened for this call only) and base URL; else, unless the user named an
    endpoint of their own, the service's key from Secrets Manager; else `ValidationFailed` with
    code ``llm_key_missing``. Bedrock's providers use the deployment's AWS credentials. The
    access says whether the service pays (its key, or Bedrock), which the daily quotas bound.
    """
    with tenant_transaction(user_id) as conn:
        provider_row = registry_repository.provider_row(conn, provider)
        row = preferences_repository.get(conn)
    if provider_row is None:
        raise _unknown_provider(provider)
    if provider_row["api_style"] in _KEYLESS_STYLES:
        return ProviderAccess(service_pays=True)
    entry: dict[str, Any] = (row["providers"] if row is not None else {}).get(provider) or {}
    base_url = entry.get("base_url")
    if entry.get("api_key") and row is not None:
        api_key = crypto.decrypt_credential_text(
            entry["api_key"], owner_id=user_id, record_id=str(row["id"]), purpose=_purpose(provider)
        )
        return ProviderAccess(api_key=SecretStr(api_key), base_url=base_url)
    if base_url:
        # A keyless compatible server (a local Ollama, say): the service's key stays ours.
        return ProviderAccess(base_url=base_url)
    service_key = _service_key(provider)
    if service_key is not None:
        return ProviderAccess(api_key=SecretStr(service_key), service_pays=True)
    raise ValidationFailed(
        f"no API key for provider {provider}: store one with PUT /api/v1/llm/preferences",
        code="llm_key_missing",
        details=[
            {"field": f"providers.{provider}.api_key", "message": "no key stored", "provider": provider}
        ],
    )


def usable_providers(user_id: str) -> frozenset[str]:
    """The providers that `resolve_access` finds a way to for ``user_id``, without opening a key:
    those reached through AWS, those the user has a key or a base URL for, and those the service
    has a key for."""
    with tenant_transaction(user_id) as conn:
        providers = registry_repository.provider_rows(conn)
        row = preferences_repository.get(conn)
    stored: dict[str, Any] = row["providers"] if row is not None else {}
    usable = set()
    for provider in providers:
        name = provider["name"]
        entry = stored.get(name) or {}
        if (
            provider["api_style"] in _KEYLESS_STYLES
            or entry.get("api_key")
            or entry.get("base_url")
            or _service_key(name) is not None
        ):
            usable.add(name)
    return frozenset(usable)


def _purpose(provider: str) -> str:
    return f"{KEY_PURPOSE}:{provider}"


def _provider_styles() -> dict[str, str]:
    with system_transaction() as conn:
        return {row["name"]: row["api_style"] for row in registry_repository.provider_rows(conn)}


def _invalid(field: str, message: str, *, code: str, **extra: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", code=code, details=[{"field": field, "message": message, **extra}]
    )


def _unknown_provider(name: str) -> ValidationFailed:
    return _invalid(f"providers.{name}", f"unknown provider {name}", code="llm_provider_unknown")


def _checked_settings(name: str, entry: ProviderSettingsUpdate | None, styles: dict[str, str]) -> str | None:
    """The entry's base URL as checked by the SSRF guard; refuses what the provider cannot take."""
    if name not in styles:
        raise _unknown_provider(name)
    if entry is None:
        return None
    if entry.api_key is not None and styles[name] in _KEYLESS_STYLES:
        raise _invalid(
            f"providers.{name}.api_key",
            f"{name} is reached through the deployment's AWS account and takes no key",
            code="api_key_not_supported",
        )
    if entry.base_url is None:
        return None
    field = f"providers.{name}.base_url"
    if styles[name] not in _BASE_URL_STYLES:
        raise _invalid(
            field, "only OpenAI-compatible providers take a base_url", code="base_url_not_supported"
        )
    try:
        return ssrf.check_endpoint(entry.base_url, allow_loopback=get_settings().allow_loopback_endpoints).url
    except ssrf.EndpointNotAllowed as exc:
        raise _invalid(field, exc.message, code=exc.code, reason=exc.reason) from None


def _check_default_model(model_id: str) -> bool:
    """True for an enabled model of the registry; False for one it does not list (it may be on the
    user's own endpoint); 422 for a disabled or retired one."""
    try:
        found = registry.find_model(model_id)
    except registry.ModelRetired as exc:
        successor = {"successor": exc.successor} if exc.successor else {}
        raise _invalid("default_model", exc.message, code=exc.code, **successor) from None
    if found is None:
        return False
    if not found.enabled:
        raise _invalid("default_model", f"model {model_id} is disabled", code="model_disabled")
    return True


def _check_endpoint_default(model_id: str, stored: dict[str, Any], styles: dict[str, str]) -> None:
    provider = model_id.partition("/")[0]
    if styles.get(provider) not in _BASE_URL_STYLES or not (stored.get(provider) or {}).get("base_url"):
        raise _invalid(
            "default_model",
            f"no model {model_id} in the registry; a model of your own endpoint needs"
            f" providers.{provider}.base_url",
            code="model_not_found",
        )


def _seal(api_key: str, *, user_id: str, record_id: str, provider: str) -> str:
    return crypto.encrypt_credential(
        api_key, owner_id=user_id, record_id=record_id, purpose=_purpose(provider)
    )


def _settings(
    previous: dict[str, Any] | None,
    entry: ProviderSettingsUpdate,
    base_url: str | None,
    seal: Callable[[str], str],
) -> dict[str, Any] | None:
    """A provider's new stored values; None when nothing is left of it."""
    settings: dict[str, Any] = {}
    if entry.api_key is not None:
        settings["api_key"] = seal(entry.api_key)
        settings["api_key_hint"] = key_hint(entry.api_key)
    elif "api_key" not in entry.model_fields_set and previous and previous.get("api_key"):
        settings["api_key"] = previous["api_key"]
        settings["api_key_hint"] = previous.get("api_key_hint")
    if base_url is not None:
        settings["base_url"] = base_url
    return settings or None


def _with_keys(stored: dict[str, Any]) -> list[str]:
    return sorted(name for name, entry in stored.items() if entry.get("api_key"))


def _to_preferences(row: dict[str, Any] | None) -> Preferences:
    if row is None:
        return Preferences(default_model=None, providers={}, updated_at=None)
    providers = {
        name: ProviderSettings(
            has_api_key=bool(entry.get("api_key")),
            api_key_hint=entry.get("api_key_hint") if entry.get("api_key") else None,
            base_url=entry.get("base_url"),
        )
        for name, entry in sorted(row["providers"].items())
    }
    return Preferences(default_model=row["default_model"], providers=providers, updated_at=row["updated_at"])


def _service_key(provider: str) -> str | None:
    """The deployment's own key for ``provider``, from the secret ``LLM_SERVICE_KEYS_SECRET_ID``
    (a JSON object ``{"openai": "...", "anthropic": "..."}``); None when there is none."""
    secret_id = get_settings().llm_service_keys_secret_id
    if not isinstance(secret_id, str) or not secret_id:
        return None
    value = secrets.get_secret_json(secret_id).get(provider)
    return value if isinstance(value, str) and value else None
