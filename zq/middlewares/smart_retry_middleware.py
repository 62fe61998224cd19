"""``SmartRetryMiddleware``: retries with a delay, exponential backoff and jitter.

The delay is honoured by zq itself: the retry is kicked with a ``delay`` label and the
dispatcher holds it until it is due (no scheduler needed). Unlike taskiq, whose "exponent"
multiplies the delay by the retry number, the backoff here is exponential:
``delay * 2**(retry - 1)``, capped at ``max_delay_exponent``; jitter spreads it by up to half
either way ("equal jitter"), so that retries of a failing batch do not arrive together.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from zq.core.backoff import backoff_s
from zq.message import TaskiqMessage
from zq.middlewares.simple_retry_middleware import SimpleRetryMiddleware


class SmartRetryMiddleware(SimpleRetryMiddleware):
    """taskiq's parameters.

    ``schedule_source`` is accepted for compatibility and unused: zq's dispatcher holds
    delayed tasks itself.
    """

    def __init__(
        self,
        default_retry_count: int = 3,
        default_retry_label: bool = False,
        no_result_on_retry: bool = True,
        default_delay: float = 5,
        use_jitter: bool = False,
        use_delay_exponent: bool = False,
        max_delay_exponent: float = 60,
        schedule_source: Any = None,
        types_of_exceptions: Iterable[type[BaseException]] | None = None,
    ) -> None:
        super().__init__(
            default_retry_count, default_retry_label, no_result_on_retry, types_of_exceptions
        )
        self.default_delay = default_delay
        self.use_jitter = use_jitter
        self.use_delay_exponent = use_delay_exponent
        self.max_delay_exponent = max_delay_exponent
        self.schedule_source = schedule_source

    def base_delay(self, message: TaskiqMessage) -> float:
        """The task's retry delay: its ``delay`` label as first kicked, else the default.

        Each retry carries its own (computed) ``delay`` label; the base is kept in
        ``_retry_delay`` so that delays do not compound.
        """
        labels = message.labels
        return float(labels.get("_retry_delay", labels.get("delay", self.default_delay)))

    def make_delay(self, message: TaskiqMessage, retries: int) -> float:
        """Seconds to wait before retry number ``retries`` (1-based)."""
        base = self.base_delay(message)
        return backoff_s(
            retries - 1 if self.use_delay_exponent else 0,
            base_s=base,
            max_s=self.max_delay_exponent if self.use_delay_exponent else base,
            jitter=0.5 if self.use_jitter else 0.0,
            draw=random.random(),
        )

    def retry_labels(self, message: TaskiqMessage, retries: int) -> dict[str, Any]:
        """The retry's ``delay`` (held by the dispatcher) and the base it was computed from."""
        return {
            "delay": self.make_delay(message, retries),
            "_retry_delay": self.base_delay(message),
        }
