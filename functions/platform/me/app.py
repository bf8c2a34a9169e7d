"""GET /api/v1/me: the caller's identity, as verified from the bearer token."""

from __future__ import annotations

from auralink.http import current_identity, lambda_handler_for, make_resolver
from auralink.platform import service
from auralink.platform.models import Me

app = make_resolver()


@app.get("/api/v1/me", summary="The caller's identity", tags=["platform"])
def me() -> Me:
    return service.me(current_identity(app))


lambda_handler = lambda_handler_for(app)
