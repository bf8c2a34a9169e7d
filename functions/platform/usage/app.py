"""GET /api/v1/usage: the caller's standing on each quota (limit, used, remaining, reset time)."""

from __future__ import annotations

from auralink.clock import SYSTEM_CLOCK
from auralink.http import current_identity, lambda_handler_for, make_resolver
from auralink.quotas import service
from auralink.quotas.models import UsageReport

app = make_resolver()


@app.get("/api/v1/usage", summary="The caller's quotas and how much of each is used", tags=["platform"])
def usage() -> UsageReport:
    return service.usage(current_identity(app), now=SYSTEM_CLOCK.now())


lambda_handler = lambda_handler_for(app)
