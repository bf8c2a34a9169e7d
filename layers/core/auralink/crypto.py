"""Envelope encryption of the credentials users give us (MCP tokens, LLM keys).

A stored value is the text ``v1.<key_id>.<base64url(nonce || ciphertext)>``, sealed with AES-256-GCM
under a fresh 96-bit nonce. The associated data binds the value to its version, key id, purpose,
owner and record, so a value copied to another row, user or purpose fails to decrypt.

Keys live in the Secrets Manager secret named by ``CREDENTIALS_KEY_SECRET_ID``, as a flat JSON object
(the shape CloudFormation's GenerateSecretString can produce)::

    {"active_key_id": "k1", "k1": "<random text, at least 32 characters>", "k2": "..."}

Each AES key is derived from its material with HKDF-SHA256. New values use the active key; a value
names its key, so an operator rotates by adding ``k2`` and switching ``active_key_id``, and old values
keep decrypting until they are re-encrypted (see `needs_reencryption`).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from auralink import secrets as secret_store
from auralink.errors import ConfigurationError, DecryptionError
from auralink.settings import get_settings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "decrypt_credential",
    "decrypt_credential_text",
    "encrypt_credential",
    "generate_key_material",
    "needs_reencryption",
    "reset_caches",
]

VERSION = "v1"
ACTIVE_KEY_FIELD = "active_key_id"
MIN_KEY_MATERIAL_CHARS = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KDF_LABEL = b"auralink credential key v1"
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# One message for every decryption failure: which check failed would help an attacker probe.
_UNREADABLE = "stored credential cannot be decrypted"


@dataclass(frozen=True)
class _Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class _Keyring:
    active_key_id: str
    materials: dict[str, str]


def generate_key_material() -> str:
    """Fresh key material for the key secret (64 characters of URL-safe text, 384 random bits)."""
    return secrets.token_urlsafe(48)


def encrypt_credential(plaintext: str | bytes, *, owner_id: str, record_id: str, purpose: str) -> str:
    """Seal ``plaintext`` for one owner, record and purpose with the active key."""
    data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
    keyring = _load_keyring()
    key_id = keyring.active_key_id
    nonce = secrets.token_bytes(_NONCE_BYTES)
    aad = _associated_data(key_id, owner_id=owner_id, record_id=record_id, purpose=purpose)
    ciphertext = _cipher(key_id, keyring.materials[key_id]).encrypt(nonce, data, aad)
    return f"{VERSION}.{key_id}.{_b64encode(nonce + ciphertext)}"


def decrypt_credential(token: str, *, owner_id: str, record_id: str, purpose: str) -> bytes:
    """Open a value sealed by `encrypt_credential` for the same owner, record and purpose.

    Raises `DecryptionError` for any token that is malformed, tampered with, moved, or sealed with
    a key the key secret no longer holds.
    """
    sealed = _parse(token)
    aad = _associated_data(sealed.key_id, owner_id=owner_id, record_id=record_id, purpose=purpose)
    material = _load_keyring().materials.get(sealed.key_id)
    if material is None:
        raise DecryptionError(_UNREADABLE)
    from cryptography.exceptions import InvalidTag  # noqa: PLC0415  # see _cipher

    try:
        return _cipher(sealed.key_id, material).decrypt(sealed.nonce, sealed.ciphertext, aad)
    except InvalidTag:
        raise DecryptionError(_UNREADABLE) from None


def decrypt_credential_text(token: str, *, owner_id: str, record_id: str, purpose: str) -> str:
    """`decrypt_credential` for values that were text when sealed."""
    data = decrypt_credential(token, owner_id=owner_id, record_id=record_id, purpose=purpose)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionError(_UNREADABLE) from None


def needs_reencryption(token: str) -> bool:
    """True when ``token`` was sealed with a key other than the active one; malformed: `DecryptionError`."""
    return _parse(token).key_id != _load_keyring().active_key_id


def reset_caches() -> None:
    """Forget derived keys (tests, and SnapStart's after-restore hook)."""
    _cipher.cache_clear()


def _associated_data(key_id: str, *, owner_id: str, record_id: str, purpose: str) -> bytes:
    if not (owner_id and record_id and purpose):
        raise ValueError("owner_id, record_id and purpose must not be empty")
    # Length prefixes keep field boundaries fixed: ("ab", "c") and ("a", "bc") differ.
    parts = []
    for value in (VERSION, key_id, purpose, owner_id, record_id):
        encoded = value.encode("utf-8")
        parts.append(len(encoded).to_bytes(4, "big") + encoded)
    return b"".join(parts)


def _parse(token: str) -> _Sealed:
    pieces = token.split(".")
    if len(pieces) != 3 or pieces[0] != VERSION or not _KEY_ID.fullmatch(pieces[1]):
        raise DecryptionError(_UNREADABLE)
    body = _b64decode(pieces[2])
    if len(body) < _NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError(_UNREADABLE)
    return _Sealed(key_id=pieces[1], nonce=body[:_NONCE_BYTES], ciphertext=body[_NONCE_BYTES:])


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise DecryptionError(_UNREADABLE) from None
    # The decoder skips stray characters and ignores the spare bits of the last one; accepting
    # only the canonical spelling means that every changed character is a rejected token.
    if _b64encode(data) != text:
        raise DecryptionError(_UNREADABLE)
    return data


def _load_keyring() -> _Keyring:
    secret_id = get_settings().credentials_key_secret_id
    if not secret_id:
        raise ConfigurationError("CREDENTIALS_KEY_SECRET_ID is not set", code="credentials_key_missing")
    return _parse_keyring(secret_id, secret_store.get_secret_json(secret_id))


def _parse_keyring(secret_id: str, document: dict[str, Any]) -> _Keyring:
    def invalid(reason: str) -> ConfigurationError:
        return ConfigurationError(
            f"credential key secret {secret_id!r}: {reason}", code="credentials_key_invalid"
        )

    active = document.get(ACTIVE_KEY_FIELD)
    if not isinstance(active, str) or not active:
        raise invalid(f"{ACTIVE_KEY_FIELD} is missing")
    materials: dict[str, str] = {}
    for key_id, material in document.items():
        if key_id == ACTIVE_KEY_FIELD:
            continue
        if not _KEY_ID.fullmatch(key_id):
            raise invalid("key ids may hold only letters, digits, '-' and '_' (at most 64)")
        if not isinstance(material, str) or len(material) < MIN_KEY_MATERIAL_CHARS:
            raise invalid(f"key {key_id!r} needs at least {MIN_KEY_MATERIAL_CHARS} characters of material")
        materials[key_id] = material
    if active not in materials:
        raise invalid(f"the active key {active!r} has no material")
    return _Keyring(active_key_id=active, materials=materials)


@lru_cache(maxsize=16)
def _cipher(key_id: str, material: str) -> AESGCM:
    # Imported here: `cryptography` (~25 ms of cold start) is loaded by the first request that
    # seals or opens a credential, not by every function that reaches this module.
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: PLC0415

    # Keyed by the material too, so that a key id whose material changed derives again.
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=_KDF_LABEL,
        info=_KDF_LABEL + b":" + key_id.encode("ascii"),
    )
    return AESGCM(hkdf.derive(material.encode("utf-8")))
