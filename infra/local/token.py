"""Mint a development JWT: ``python -m infra.local.token SUB [--email E] [--role R] [--ttl 3600]``.

The token is signed with the clone's development secret (generated on first use), carries the
development issuer and audience, and is printed alone as the last line of standard output, so
``$(make -s token SUB=alice | tail -1)`` works in a shell.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jwt

from infra.local.devsecrets import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_secrets

__all__ = ["PROJECT_ROOT", "main", "mint_dev_token"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TTL_S = 3600


def mint_dev_token(
    sub: str,
    *,
    email: str | None = None,
    role: str = "user",
    ttl_s: int = DEFAULT_TTL_S,
    root: Path = PROJECT_ROOT,
) -> str:
    """An HS256 token for ``sub`` that the development settings accept for ``ttl_s`` seconds."""
    if not sub:
        raise ValueError("the subject must not be empty")
    if ttl_s <= 0:
        raise ValueError("the lifetime must be positive")
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "sub": sub,
        "iat": now,
        "exp": now + ttl_s,
        "role": role,
    }
    if email is not None:
        claims["email"] = email
    return jwt.encode(claims, ensure_dev_secrets(root).jwt_secret, algorithm="HS256")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.token", description="Mint a development JWT."
    )
    parser.add_argument("sub", help="the subject (user id) the token speaks for")
    parser.add_argument("--email", default=None, help="the email claim")
    parser.add_argument("--role", default="user", help="the role claim (default: user)")
    parser.add_argument("--ttl", type=int, default=DEFAULT_TTL_S, help="lifetime in seconds (default: 3600)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        token = mint_dev_token(args.sub, email=args.email, role=args.role, ttl_s=args.ttl, root=PROJECT_ROOT)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"development token for {args.sub!r}, valid {args.ttl} s:", file=sys.stderr)
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
