"""What every emulator shares: started and stopped, or used as `async with`."""

from __future__ import annotations

from typing import Self

__all__ = ["Emulated"]


class Emulated:
    """`async with X(...) as x:` starts x and stops it at the end, whatever happened."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
