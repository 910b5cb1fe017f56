"""The JSON bodies of the session command routes, fuzzed with hypothesis against the real app:
any JSON at all — the right fields with wrong values, unknown fields, deep nesting, not an
object — gets a success, a refusal in words (409), or a 422 naming the field; never a 5xx."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web.conftest import Site

ROUTES: dict[str, tuple[str, ...]] = {  # path: the body's own field names
    "/api/session/cue": ("cue",),
    "/api/session/extend": ("minutes",),
    "/api/session/jump": ("phase",),
    "/api/session/note": ("text", "shareable"),
    "/api/session/mark": ("name", "note"),
    "/api/session/set": ("device", "channel", "value", "until", "fade_s"),
    "/api/session/clear-overrides": ("device",),
    "/api/sessions": ("arc", "client_id", "t0", "without_preferences"),
}
EXAMPLES = 40
pytestmark = pytest.mark.timeout(240)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(
    max_size=30
)


def _nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)


anything = st.recursive(scalars, _nested, max_leaves=12)


def _bodies(fields: tuple[str, ...]) -> st.SearchStrategy[Any]:
    known = st.dictionaries(st.sampled_from(fields), anything, max_size=len(fields))
    mixed = st.dictionaries(st.sampled_from(fields) | st.text(max_size=8), anything, max_size=5)
    return known | mixed | anything


def _probe(http: httpx.Client, path: str, fields: tuple[str, ...]) -> Callable[[], None]:
    @given(body=_bodies(fields))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def post(body: Any) -> None:
        r = http.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})
        assert r.status_code in (200, 201, 409, 422), (path, body, r.status_code, r.text)
        answer = r.json()
        assert isinstance(answer, dict), (path, body, answer)
        if r.status_code == 422:
            field = answer["errors"][0]["field"] if "errors" in answer else None
            assert field and answer["detail"].startswith(field), (path, body, answer)
        elif r.status_code == 409:
            assert isinstance(answer["detail"], str) and answer["detail"], answer

    return post


def _fuzz(url: str, token: str) -> list[str]:
    problems: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        for path, fields in ROUTES.items():
            try:
                _probe(http, path, fields)()
            except AssertionError as exc:
                problems.append(str(exc)[:800])
    return problems


async def test_random_json_bodies_get_an_answer_never_a_server_error(site: Site) -> None:
    store = site.daemon.store
    assert store is not None
    _, token = store.create_token("fuzz", "facilitator")
    async with httpx.AsyncClient(base_url=site.url) as http:
        auth = {"Authorization": f"Bearer {token}"}
        assert (await http.post("/api/sessions", json={"arc": "psilocybin"},
                                headers=auth)).status_code == 201  # fmt: skip
    problems = await asyncio.to_thread(_fuzz, site.url, token)
    assert not problems, "\n\n".join(problems)
