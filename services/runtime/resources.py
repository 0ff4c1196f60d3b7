"""Per-process resources built lazily, inside the running event loop."""

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar, cast

T = TypeVar("T")


class SharedResource(Generic[T]):
    """Something built once per process on first use, by whichever part of the process needs it first."""

    def __init__(self, factory: Callable[[], T | Awaitable[T]]) -> None:
        """`factory` returns the value, or an awaitable of it."""
        self._factory = factory
        self._value: T | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> T:
        if self._value is None:
            async with self._lock:
                if self._value is None:
                    value = self._factory()
                    self._value = await value if inspect.isawaitable(value) else cast(T, value)
        return self._value

    def built(self) -> T | None:
        """The value if it was built, else None (for closing only what was opened)."""
        return self._value
