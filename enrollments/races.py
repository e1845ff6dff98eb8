"""Running a transaction again when it lost a race (SPEC §4.10): a deadlock or a serialization failure is another
transaction's timing, not the request's fault. Every path that changes a learner's state takes its locks in one
order (`status.lock_learning_state`), so races are rare; the few left are retried here, 3 times."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError

logger = logging.getLogger(__name__)

RACE_SQLSTATES = {"40P01", "40001"}
RACE_RETRIES = 3
# Run again at once, the loser takes its first row back before the winner wakes up to lock it, and loses the same
# deadlock again (seen in tests/archive/test_concurrency.py): a short, growing, jittered pause first.
RACE_PAUSE_SECONDS = 0.05

P = ParamSpec("P")
R = TypeVar("R")


def lost_a_race(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) in RACE_SQLSTATES


def retried_on_race(func: Callable[P, R]) -> Callable[P, R]:
    """`func` (which opens its own transaction) run again up to RACE_RETRIES times when it lost a race."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(1, RACE_RETRIES + 1):
            try:
                return func(*args, **kwargs)
            except OperationalError as exc:
                if not lost_a_race(exc):
                    raise
                logger.warning("%s lost a race; attempt %s of %s.", func.__qualname__, attempt + 1, RACE_RETRIES + 1)
                time.sleep(RACE_PAUSE_SECONDS * attempt * random.uniform(1, 2))
        return func(*args, **kwargs)

    return run
