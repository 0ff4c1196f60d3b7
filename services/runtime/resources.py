"""Per-process resources built lazily, inside the running event loop."""

import asyncio
from collections.abc import Awaitable, Callable


class SharedResource:
    """Something built once per process on first use, by whichever part of the process needs it first."""

    def __init__(self, factory: Callable[[], Awaitable]) -> None:
        self._factory = factory
        self._value = None
        self._lock = asyncio.Lock()

    async def get(self):
        if self._value is None:
            async with self._lock:
                if self._value is None:
                    self._value = await self._factory()
        return self._value

    def built(self):
        """The value if it was built, else None (for closing only what was opened)."""
        return self._value
