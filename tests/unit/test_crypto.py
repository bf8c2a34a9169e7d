"""Credential encryption: AES-256-GCM bound to owner, record and purpose, with rotating keys."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from auralink.crypto import (
    decrypt_credential,
    decrypt_credential_text,
    encrypt_credential,
    generate_key_material,
    needs_reencryption,
)
from auralink.errors import ConfigurationError, DecryptionError
from auralink.settings import reset_settings

KEY_SECRET = "test/credentials-key"
BINDING = {"owner_id": "user-a", "record_id": "conn-1", "purpose": "mcp_token"}
K1 = generate_key_material()
K2 = generate_key_material()

KeyWriter = Callable[[dict[str, Any]], None]


@pytest.fixture
def keys(service_environment: pytest.MonkeyPatch) -> Iterator[KeyWriter]:
    """Writes the key secret; values are read fresh (no secret cache) so rotation shows at once."""
    service_environment.setenv("CREDENTIALS_KEY_SECRET_ID", KEY_SECRET)
    service_environment.setenv("SECRETS_MAX_AGE_S", "0")
    reset_settings()
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(Name=KEY_SECRET, SecretString=json.dumps({"active_key_id": "k1", "k1": K1}))

        def write(document: dict[str, Any]) -> None:
            client.put_secret_value(SecretId=KEY_SECRET, SecretString=json.dumps(document))

        yield write


def _unreadable(token: str, **binding: str) -> DecryptionError:
    with pytest.raises(DecryptionError) as info:
        decrypt_credential(token, **{**BINDING, **binding})
    return info.value


def test_round_trip_of_text_and_bytes(keys: KeyWriter) -> None:
    sealed_text = encrypt_credential("sk-live-123", **BINDING)
    sealed_bytes = encrypt_credential(b"\x00\xffraw", **BINDING)

    assert decrypt_credential_text(sealed_text, **BINDING) == "sk-live-123"
    assert decrypt_credential(sealed_bytes, **BINDING) == b"\x00\xffraw"


def test_token_shape_and_a_fresh_nonce_per_value(keys: KeyWriter) -> None:
    first = encrypt_credential("same", **BINDING)
    second = encrypt_credential("same", **BINDING)

    assert first != second
    version, key_id, body = first.split(".")
    assert (version, key_id) == ("v1", "k1")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert len(raw) == 12 + len("same") + 16  # nonce, ciphertext, tag
    assert "same" not in first


@pytest.mark.parametrize("plaintext", ["sk-live-123", "sk-live-1234", "sk-live-12345"])
def test_flipping_any_character_of_the_token_fails(keys: KeyWriter, plaintext: str) -> None:
    # Three lengths, so that the base64 text ends with 0, 2 and 4 spare bits.
    sealed = encrypt_credential(plaintext, **BINDING)

    for index, char in enumerate(sealed):
        tampered = sealed[:index] + chr(ord(char) ^ 1) + sealed[index + 1 :]
        _unreadable(tampered)


def test_flipping_any_bit_of_nonce_ciphertext_or_tag_fails(keys: KeyWriter) -> None:
    sealed = encrypt_credential("sk-live-123", **BINDING)
    prefix, body = sealed.rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))

    for bit in range(len(raw) * 8):
        changed = bytearray(raw)
        changed[bit // 8] ^= 1 << (bit % 8)
        encoded = base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode()
        _unreadable(f"{prefix}.{encoded}")


@pytest.mark.parametrize(
    "moved",
    [
        {"record_id": "conn-2"},
        {"owner_id": "user-b"},
        {"purpose": "llm_api_key"},
    ],
    ids=["swapped row", "swapped user", "swapped purpose"],
)
def test_a_value_moved_elsewhere_fails(keys: KeyWriter, moved: dict[str, str]) -> None:
    sealed = encrypt_credential("sk-live-123", **BINDING)

    _unreadable(sealed, **moved)


def test_fields_cannot_shift_across_boundaries(keys: KeyWriter) -> None:
    sealed = encrypt_credential("x", owner_id="ab", record_id="c", purpose="p")

    with pytest.raises(DecryptionError):
        decrypt_credential(sealed, owner_id="a", record_id="bc", purpose="p")


def test_rotation_keeps_old_values_readable_and_seals_new_ones_with_the_new_key(keys: KeyWriter) -> None:
    # Given a value sealed under k1
    old = encrypt_credential("sk-old", **BINDING)
    assert not needs_reencryption(old)
    # When the operator adds k2 and makes it active
    keys({"active_key_id": "k2", "k1": K1, "k2": K2})
    # Then the old value still opens, is flagged for re-encryption, and new values use k2
    assert decrypt_credential_text(old, **BINDING) == "sk-old"
    assert needs_reencryption(old)
    new = encrypt_credential("sk-new", **BINDING)
    assert new.startswith("v1.k2.")
    assert not needs_reencryption(new)
    assert decrypt_credential_text(new, **BINDING) == "sk-new"


def test_a_retired_or_unknown_key_id_fails(keys: KeyWriter) -> None:
    old = encrypt_credential("sk-old", **BINDING)
    keys({"active_key_id": "k2", "k2": K2})

    _unreadable(old)
    _unreadable(old.replace("v1.k1.", "v1.k9.", 1))


def test_keys_with_the_same_material_under_other_ids_are_different_keys(keys: KeyWriter) -> None:
    sealed = encrypt_credential("sk", **BINDING)
    keys({"active_key_id": "k1", "k1": K1, "k3": K1})

    _unreadable(sealed.replace("v1.k1.", "v1.k3.", 1))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1",
        "v1.k1",
        "v2.k1.AAAA",
        "v1.k1.",
        "v1.k1.!!!!",
        "v1.k.1.AAAA",
        "v1.k1.AAAAAAAA",
        "v1.k1.AAAA.x",
    ],
)
def test_malformed_tokens_fail_alike(keys: KeyWriter, token: str) -> None:
    error = _unreadable(token)

    assert error.code == "credential_unreadable"
    assert str(error) == "stored credential cannot be decrypted"


@pytest.mark.parametrize(
    "document",
    [
        {"k1": K1},
        {"active_key_id": "k2", "k1": K1},
        {"active_key_id": "k1", "k1": "too-short"},
        {"active_key_id": "k1", "k1": K1, "k2": 12345},
        {"active_key_id": "k1", "k1": K1, "bad.id": K2},
    ],
    ids=["no active key", "active id without material", "short material", "material not text", "bad key id"],
)
def test_a_bad_key_secret_is_a_configuration_error(keys: KeyWriter, document: dict[str, Any]) -> None:
    keys(document)

    with pytest.raises(ConfigurationError) as info:
        encrypt_credential("sk", **BINDING)

    assert info.value.code == "credentials_key_invalid"
    assert K1 not in str(info.value)
    assert "too-short" not in str(info.value)


def test_no_key_secret_configured_is_a_configuration_error(
    keys: KeyWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_KEY_SECRET_ID")
    reset_settings()

    with pytest.raises(ConfigurationError):
        encrypt_credential("sk", **BINDING)


def test_empty_binding_fields_are_refused(keys: KeyWriter) -> None:
    with pytest.raises(ValueError):
        encrypt_credential("sk", owner_id="", record_id="r", purpose="p")


def test_generated_key_material_is_long_and_random() -> None:
    first, second = generate_key_material(), generate_key_material()

    assert first != second
    assert len(first) >= 64


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    plaintext=st.binary(max_size=256),
    owner_id=st.text(min_size=1, max_size=20),
    record_id=st.text(min_size=1, max_size=20),
)
def test_round_trip_for_any_value_and_binding(
    keys: KeyWriter, plaintext: bytes, owner_id: str, record_id: str
) -> None:
    binding = {"owner_id": owner_id, "record_id": record_id, "purpose": "p"}

    assert decrypt_credential(encrypt_credential(plaintext, **binding), **binding) == plaintext
