"""Time-ordered 64-bit ids, so that sorting by id sorts by creation time (newest first is `ORDER BY id DESC`)."""

import os
import socket
import threading
import time
import zlib

# 2026-01-01T00:00:00Z in milliseconds since the Unix epoch.
EPOCH_MS = 1_767_225_600_000
WORKER_BITS = 10
SEQUENCE_BITS = 12
MAX_WORKER_ID = (1 << WORKER_BITS) - 1
_SEQUENCE_MASK = (1 << SEQUENCE_BITS) - 1


def default_worker_id() -> int:
    """Derive a worker id from host and process, for one-off processes and development."""
    return zlib.crc32(f"{socket.gethostname()}:{os.getpid()}".encode()) & MAX_WORKER_ID


def first_id_at(unix_ms: int) -> int:
    """The smallest id any generator can make at or after a moment: `id >= first_id_at(t)` means made since t."""
    return max(0, unix_ms - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS)


def timestamp_ms_of(snowflake: int) -> int:
    """The creation time, in Unix milliseconds, encoded in an id."""
    return (snowflake >> (WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS


class SnowflakeIds:
    """41 bits of milliseconds since EPOCH_MS, 10 bits of worker id, 12 bits of sequence: 4096 ids/ms per worker."""

    def __init__(self, worker_id: int, clock_ms=lambda: time.time_ns() // 1_000_000) -> None:
        if not 0 <= worker_id <= MAX_WORKER_ID:
            raise ValueError(f"worker id must be between 0 and {MAX_WORKER_ID}, got {worker_id}")
        self._worker_id = worker_id
        self._clock_ms = clock_ms
        self._last_ms = -1
        self._sequence = 0
        self._lock = threading.Lock()

    def next_id(self) -> int:
        with self._lock:
            now = self._clock_ms()
            # A clock that steps back must not produce ids older than ones already given out.
            now = max(now, self._last_ms)
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & _SEQUENCE_MASK
                if self._sequence == 0:
                    now += 1  # sequence exhausted in this millisecond: borrow the next one
            else:
                self._sequence = 0
            self._last_ms = now
            return (
                ((now - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS))
                | (self._worker_id << SEQUENCE_BITS)
                | self._sequence
            )
