"""Twenty tablets in their own process: each holds `/api/stream` (SSE) open and prints one
line per state it is shown, `<tablet> <monotonic seconds> <cue or -> <emergency 0|1>`.

A tablet is a separate machine in the room, so the web bench runs them here rather than on the
daemon's event loop (where their own HTTP and JSON work would be counted as the daemon's).
CLOCK_MONOTONIC is one clock for every process on the machine, so the times compare.

    python -m bench.tablets URL TOKEN COUNT
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time

import httpx


async def follow(http: httpx.AsyncClient, n: int) -> None:
    async with http.stream("GET", "/api/stream") as r:
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                state = json.loads(line[6:])
                cue = (state["session"] or {}).get("cue") or "-"
                emergency = 1 if state["emergency"] else 0
                print(n, f"{time.monotonic():.6f}", cue, emergency, flush=True)


async def main(url: str, token: str, count: int) -> None:
    limits = httpx.Limits(max_connections=count + 1)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=auth, timeout=None, limits=limits) as http:
        await asyncio.gather(*(follow(http, n) for n in range(count)))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt, httpx.HTTPError, BrokenPipeError):
        asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
