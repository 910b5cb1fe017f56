"""schemathesis over every operation of /openapi.json, against the real app on the emulated
room (real HTTP, the daemon's own loop): with a facilitator's bearer token and with an admin's,
for valid and invalid requests alike, no request gets a 5xx, and every response whose status
the schema declares matches its schema.

schemathesis calls the API with `requests` (blocking), so it runs in a worker thread while the
daemon's loop serves.  The live stream (SSE) never ends and is left out."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.web.conftest import Site

EXAMPLES = 12  # per operation, mode (valid, not valid) and role
STREAMS = ("/api/stream",)
pytestmark = pytest.mark.timeout(240)


def _explore(schema: OpenApiSchema, base_url: str, token: str) -> list[str]:
    """Every operation with up to EXAMPLES generated requests; the failures, in words."""
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    checks = [not_a_server_error, response_schema_conformance]
    for result, mode in itertools.product(schema.get_all_operations(), GenerationMode):
        operation = result.ok()
        if operation.path in STREAMS:
            continue

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def probe(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(base_url=base_url, headers=headers, checks=checks, timeout=30)

        try:
            probe()
        except Unsatisfiable:  # nothing in this operation can be made invalid (no body, no path)
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as exc:  # one line per operation that failed, with its first reason
            failures.append(f"{operation.label} ({mode.value}): {str(exc).strip()[:600]}")
    return failures


async def test_no_operation_gives_a_server_error_or_breaks_its_schema(site: Site) -> None:
    store = site.daemon.store
    assert store is not None
    async with httpx.AsyncClient(base_url=site.url) as http:
        spec = (await http.get("/openapi.json")).json()
        # a running session, so the session commands reach their checks and the timeline
        r = await http.post("/api/sessions", json={"arc": "psilocybin"},
                            headers={"Authorization": "Bearer " + store.create_token(
                                "setup", "facilitator")[1]})  # fmt: skip
        assert r.status_code == 201, r.text
    schema = schemathesis.openapi.from_dict(spec)
    began = time.monotonic()
    failures: list[str] = []
    for role in ("facilitator", "admin"):
        _, token = store.create_token(f"fuzz-{role}", role)
        failures += await asyncio.to_thread(_explore, schema, site.url, token)
    took = time.monotonic() - began
    assert not failures, "\n\n".join(failures)
    print(f"\nschemathesis: {len(spec['paths'])} paths, 2 roles, {took:.0f} s")
