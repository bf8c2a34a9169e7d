"""The base of the product's pydantic models.

A model builds its validator and serializer at its first use, not when its module is imported
(pydantic's ``defer_build``). A function imports many more models than its route uses (one
module holds a feature's models), and building all of them cost every cold start: about a tenth
of the health function's. A model that is never used by a function is then never built there;
one that is, is built once, at its first request. pydantic serialises concurrent first uses
under its rebuild lock.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DeferredModel(BaseModel):
    model_config = ConfigDict(defer_build=True)
