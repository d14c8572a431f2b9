"""What a training run tells people as it goes: log lines on the `training` logger.

Under Prefect these lines reach the flow run's logs (the `training` logger is one
of Prefect's extra loggers, see training.prefect_env); `forwarded_to` hands them
to a callback as well, which is how `sentinel retrain` and `sentinel up` show them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

LOGGER_NAME = "training"
log = logging.getLogger(LOGGER_NAME)
log.setLevel(logging.INFO)


def report(message: str) -> None:
    log.info(message)


def warn(message: str) -> None:
    """Something people must act on: a warning in the flow run's logs. `forwarded_to` does not forward it;
    whoever runs the step says it in their own way."""
    log.warning(message)


class _Forward(logging.Handler):
    def __init__(self, callback: Callable[[str], None]):
        super().__init__(logging.INFO)
        self._callback = callback

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.INFO:
            self._callback(record.getMessage())


@contextmanager
def forwarded_to(callback: Callable[[str], None]) -> Iterator[None]:
    """Call `callback` with every progress line (`report`) reported inside the block."""
    handler = _Forward(callback)
    log.addHandler(handler)
    try:
        yield
    finally:
        log.removeHandler(handler)
