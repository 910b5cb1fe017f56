"""Who may call what on the web app: every protected route (listed from the app itself, as
tests/web/test_routes.py lists them) refuses a client's credentials, the link's bearer token and
the cookie it gives, also with the client's own CSRF token: a client reaches nothing but their
own page and record.  Failed logins slow down per address as well as per user: many usernames
tried from one address lock that address (a header claiming another address does not help),
while the same login from another address is served."""

from __future__ import annotations

import re

import httpx

from tests.proof.test_security import client_phone
from tests.web.conftest import PASSWORD, Site, site
from tests.web.test_routes import DUMMY, PUBLIC, routes

__all__ = ["site"]  # the web tests' fixture: the demo room's daemon with its web app

# What a client's credentials reach, and why.
CLIENT_OWN = {("GET", "/client"): "their own page (the client id comes from the credentials)"}
# Bodies that validate, so a refusal is about who calls, not what was sent.
BODIES = {
    "/api/clients/{client_id}/preferences": {"preferences": {"volume_max": 30}, "consent": True},
    "/api/clients/{client_id}/preview": {"hue": 225},
    "/api/clients/{client_id}/sample": {"volume": 20},
}
PAGES = ("/", "/overview")  # staff pages: a client is sent elsewhere or refused


async def test_every_protected_route_refuses_a_clients_credentials(site: Site) -> None:
    store = site.daemon.store
    assert store is not None
    mine, other = store.create_client(), store.create_client()
    phone = await client_phone(site, mine)  # the client's cookie and CSRF token
    async with site.login() as staff:
        link = (await staff.post(f"/api/clients/{mine}/link")).json()
    token = link["url"].rsplit("/c/", 1)[1]
    bearer = {"Authorization": f"Bearer {token}"}
    ids = {**DUMMY, "client_id": other}
    checked = 0
    try:
        assert (await phone.get(f"/api/clients/{mine}")).status_code == 200  # it works at all
        for method, path in routes(site):
            if (method, path) in PUBLIC or (method, path) in CLIENT_OWN:
                continue
            url = re.sub(r"{(\w+)}", lambda m: ids[m[1]], path)
            for how, headers in (("cookie", {}), ("bearer", bearer)):
                body = BODIES.get(path, {})
                if how == "cookie":
                    r = await phone.request(method, url, json=body)
                else:
                    async with httpx.AsyncClient(base_url=site.url, timeout=30) as bare:
                        r = await bare.request(method, url, json=body, headers=headers)
                refused = (303, 401, 403) if path in PAGES else (401, 403)
                assert r.status_code in refused, (how, method, path, r.status_code, r.text[:200])
                checked += 1
    finally:
        await phone.aclose()
    assert checked > 80, checked
    assert store.preference_history(other) == []


async def failed_login(http: httpx.AsyncClient, username: str, password: str = "wrong") -> int:
    page = await http.get("/login")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    r = await http.post("/login", data={"username": username, "password": password, "csrf": csrf})
    return r.status_code


def from_address(site: Site, address: str, **headers: str) -> httpx.AsyncClient:
    """A client whose connections come from `address` (any 127.x.y.z is this machine)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=site.url, transport=transport, headers=headers, timeout=30)


async def test_logins_slow_down_per_address_across_usernames(site: Site) -> None:
    throttle = site.web.throttle
    async with from_address(site, "127.0.0.61", **{"X-Forwarded-For": "10.9.8.7"}) as guesser:
        codes = [await failed_login(guesser, f"user{i}") for i in range(5)]
        # each username was tried once: only the address's count can lock
        assert codes == [401, 401, 401, 401, 429], codes
        assert throttle.wait_s(["addr:127.0.0.61"]) > 0
        assert throttle.wait_s(["addr:10.9.8.7"]) == 0  # the header was not believed
        # a right password from the locked address is refused too (it must not test guesses)
        assert await failed_login(guesser, "ana", PASSWORD) == 429
    async with from_address(site, "127.0.0.62") as tablet:  # the room's tablet is not locked out
        assert await failed_login(tablet, "ana", PASSWORD) == 303
    first = throttle.wait_s(["addr:127.0.0.61"])
    throttle._counts["addr:127.0.0.61"].locked_until = 0.0  # the lock has run out
    async with from_address(site, "127.0.0.61") as guesser:
        assert await failed_login(guesser, "user9") == 401
        assert throttle.wait_s(["addr:127.0.0.61"]) > first  # each lock twice the last
