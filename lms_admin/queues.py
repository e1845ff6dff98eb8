"""Holding back what would go on the RQ queues, for a block of code that must leave them untouched.

`seed_demo --no-enqueue` writes a whole history through the archive engine, whose commits ask for certificate
renders and for the notification sender; inside `enqueues_held()` those requests are dropped and the rows they
concern stay as they are (unrendered, unsent) until a running worker's reconciler asks for them.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_held = contextvars.ContextVar("enqueues_held", default=False)


@contextlib.contextmanager
def enqueues_held() -> Iterator[None]:
    token = _held.set(True)
    try:
        yield
    finally:
        _held.reset(token)


def enqueues_are_held() -> bool:
    return _held.get()
