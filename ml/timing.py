"""Measuring wall-clock time: one stopwatch, and a timer of named stages built on it.

Standard library only, so that benchmarks and web code can use it without loading torch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Stopwatch:
    """Seconds since it started (at creation, or on entering a ``with`` block); frozen when
    the ``with`` block ends.

        with Stopwatch() as watch:
            work()
        samples.append(watch.seconds)
    """

    def __init__(self) -> None:
        self._started = time.perf_counter()
        self._stopped: float | None = None

    def __enter__(self) -> Stopwatch:
        self._started, self._stopped = time.perf_counter(), None
        return self

    def __exit__(self, *error: object) -> None:
        self._stopped = time.perf_counter()

    @property
    def seconds(self) -> float:
        end = time.perf_counter() if self._stopped is None else self._stopped
        return end - self._started


class StageTimer:
    """Seconds spent in each named stage of a pipeline, and the stage announced to
    ``progress`` as it starts.

        timer = StageTimer(progress)
        with timer.stage("classification"):
            classify()
        timer.seconds  # {"classification": 0.12}
    """

    def __init__(self, progress: Callable[[str], None] | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self._progress = progress

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self._progress is not None:
            self._progress(name)
        with Stopwatch() as watch:
            yield
        self.seconds[name] = self.seconds.get(name, 0.0) + watch.seconds
