"""Live room state by Server-Sent Events: the whole state first on every (re)connect, then
whenever the hub says the room changed (at most every `min_update_s`), a comment as keep-alive
every `ping_s`, and the end of the stream when the web app shuts down."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from roomctl.web.context import Web

__all__ = ["RETRY_MS", "state_stream"]

RETRY_MS = 2000  # how soon a browser reconnects after the stream drops


def _frame(data: str, event: str = "state") -> str:
    return f"event: {event}\ndata: {data}\n\n"


async def state_stream(web: Web) -> AsyncIterator[str]:
    hub = web.daemon.hub
    loop = asyncio.get_running_loop()
    yield f"retry: {RETRY_MS}\n\n"
    seen = hub.version
    yield _frame(web.state_json(seen))
    last = loop.time()
    closing = asyncio.ensure_future(web.closing.wait())
    changed: asyncio.Future[int] | None = None
    try:
        while not web.closing.is_set():
            changed = asyncio.ensure_future(hub.wait(seen))
            done, _ = await asyncio.wait(
                {changed, closing}, timeout=web.ping_s, return_when=asyncio.FIRST_COMPLETED
            )
            if changed not in done:
                changed.cancel()
                if closing in done:
                    return
                yield ": ping\n\n"
                continue
            seen = changed.result()
            # the devices first: the engine's commands leave before the tablets are told; a
            # burst of changes becomes one update
            await asyncio.sleep(max(web.settle_s, web.min_update_s - (loop.time() - last)))
            seen = hub.version
            yield _frame(web.state_json(seen))
            last = loop.time()
    finally:
        for task in (closing, changed):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
