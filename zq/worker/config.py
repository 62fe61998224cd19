"""What a worker child is told (``WorkerConfig``) and what it reports back (``Report``).

The supervisor depends on this module only: it never imports the app, the executor or ZeroMQ.
"""

from __future__ import annotations

import logging
import sys

import msgspec

EXIT_CONFIG = 2  # a child that cannot load the app exits with this: restarting will not help
DEFAULT_LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s][pid %(process)d] %(message)s"


class WorkerConfig(msgspec.Struct, kw_only=True):
    """Everything a worker child needs, passed from the CLI through the supervisor."""

    app: str
    modules: list[str] = []
    app_dir: str | None = None
    fs_discover: bool = False
    tasks_patterns: list[str] = msgspec.field(default_factory=lambda: ["**/tasks.py"])
    connect: list[str] = []
    discover: bool = False  # --discover: the app's dispatchers announced on the LAN (and --connect)
    queues: list[str] = []  # empty: every queue
    max_async_tasks: int = 100
    max_async_tasks_jitter: int = 0
    max_prefetch: int = 0
    max_threadpool_threads: int | None = None
    use_process_pool: bool = False
    max_process_pool_processes: int | None = None
    parse_params: bool = True
    propagate_errors: bool = True
    ack_type: str = "when_saved"
    receiver: str = ""  # MODULE:CLASS, a Receiver subclass
    receiver_args: dict[str, str] = {}
    max_tasks_per_child: int | None = None
    wait_tasks_timeout_s: float | None = None
    shutdown_timeout_s: float = 5.0
    log_level: str = "INFO"
    log_format: str = DEFAULT_LOG_FORMAT
    configure_logging: bool = True
    capture_logs: bool = True  # a task's log records travel with its result (task history)
    loop: str = "asyncio"  # "uvloop" is chosen by the CLI when available
    curve: dict[str, str] = {}  # --curve-* given: they override the broker's CURVE settings
    index: int = 0
    control_fd: int = -1  # where reports go; -1: nowhere
    state_path: str = ""  # the page shared with the supervisor (zq.worker.child_state); "": none


class Report(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A line from a child to its supervisor."""

    event: str  # "ready" | "spent" | "draining" | "stopped" | "dispatchers" (LAN changed)
    tasks: list[str] = []
    queues: list[str] = []
    addresses: list[str] = []
    count: int = 0  # draining: tasks in flight; stopped: tasks run
    limit: int = 0  # ready: tasks this process runs at once


def configure_logging(config: WorkerConfig) -> None:
    """Set up the root logger as the CLI was asked to."""
    if config.configure_logging:
        logging.basicConfig(
            level=config.log_level.upper(), format=config.log_format, stream=sys.stderr
        )
