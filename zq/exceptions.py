"""Every exception zq raises: taskiq's tree (same names, same keyword fields) plus zq's own.

taskiq's exceptions are templated: keyword arguments fill ``__template__`` and become
attributes, e.g. ``TaskiqResultTimeoutError(timeout=5)``. zq keeps that shape so that code
catching or constructing them is unchanged.
"""

from __future__ import annotations

from typing import Any

from zq.error import Error


class TaskiqError(Error):
    """Base exception for all errors (taskiq's name)."""


class TaskiqResultTimeoutError(TaskiqError):
    """Waiting for task results has timed out."""

    __template__ = "Waiting for task results has timed out, timeout={timeout}"
    timeout: float | None = None


class BrokerError(TaskiqError):
    """Base class for all broker errors."""

    __template__ = "Base exception for all broker errors"


class ListenError(TaskiqError):
    """The broker is unable to listen to the queue."""


class SharedBrokerListenError(ListenError):
    """A shared broker cannot listen."""

    __template__ = "Shared broker cannot listen"


class SendTaskError(BrokerError):
    """The broker was unable to send the task."""

    __template__ = "Cannot send task to the queue"


class SharedBrokerSendTaskError(SendTaskError):
    """``kiq`` was called on a shared task without a default broker."""

    __template__ = "You cannot use kiq directly on shared task without setting the default_broker."


class UnknownTaskError(SendTaskError):
    """The task is not known."""

    __template__ = "Cannot send unknown task to the queue, task name - {task_name}"
    task_name: str = ""


class ResultBackendError(TaskiqError):
    """Base class for all result backend errors."""

    __template__ = "Base exception for all result backend errors"


class ResultGetError(ResultBackendError):
    """The result backend was unable to get a result."""

    __template__ = "Cannot get result for the task"


class ResultSetError(ResultBackendError):
    """The result backend was unable to set a result."""

    __template__ = "Cannot set result for the task"


class ResultIsReadyError(ResultBackendError):
    """The result backend was unable to tell whether the task is ready."""

    __template__ = "Cannot find out if the task is ready"


class NoResultError(TaskiqError):
    """The task has no result (taskiq's name)."""

    __template__ = "Task has no result"


class SecurityError(TaskiqError):
    """A security check failed."""

    __template__ = "Security error occurred: {description}"
    description: str = ""


class TaskRejectedError(TaskiqError):
    """The task was rejected."""

    __template__ = "Task was rejected"


class ScheduledTaskCancelledError(TaskiqError):
    """Raised by ``ScheduleSource.pre_send`` to skip this run of the schedule."""


class TaskBrokerMismatchError(TaskiqError):
    """A task was kicked with a broker it does not belong to."""

    __template__ = "Task already has a different broker: {broker}"
    broker: Any = None


# --- zq's own -------------------------------------------------------------------------------


class ZQError(TaskiqError):
    """Base of the errors that only zq raises."""

    __template__ = "zq error"


class RemoteProtocolError(ZQError):
    """A peer sent something that is not valid zq protocol: the fault is the peer's."""


class ProtocolVersionError(RemoteProtocolError):
    """The peer speaks another version of the zq protocol."""


class PeerRefusedError(RemoteProtocolError):
    """The dispatcher refused this process (its key's role, its protocol version): fatal."""


class QueueFullError(SendTaskError):
    """``kiq()`` waited longer than its timeout for room in the dispatcher's pending queue."""


class SecurityConfigError(ZQError):
    """CURVE is misconfigured (a key file missing or unreadable, libzmq too old): nothing starts."""


class DiscoveryError(ZQError):
    """Discovery cannot run (python-zeroconf is missing) or cannot announce this address."""


class MessageTooLargeError(SendTaskError):
    """A task's message would be over ``max_msg_size``: it is refused before it is sent."""


class ResultTooLargeError(ZQError):
    """A task's result was over ``max_msg_size``: the task failed instead of sending it."""


class AddressInUseError(ZQError):
    """The dispatcher address is bound by something that is not a live zq dispatcher."""


class AddressNotLocalError(AddressInUseError):
    """The address belongs to another host: a process here can join a dispatcher there.

    It cannot bind it, so it cannot take it over either (see "When processes come and go").
    """


class ActorDeadError(ZQError):
    """The actor stopped (or crashed) before it could answer."""


class WouldBlock(ZQError):
    """A ``*_nowait`` call could not proceed without waiting (e.g. a full mailbox)."""


class DeliveryLimitError(ZQError):
    """The task was dead-lettered: its executor was lost each time it was delivered."""


class TaskLostError(ZQError):
    """The task was acknowledged early, then its executor was lost before it finished.

    It is not delivered again (that is what acknowledging means), so it is dead-lettered.
    """


class DependencyFailedError(ZQError):
    """A task kicked with ``depends_on`` never ran: a dependency did not succeed.

    It failed, was cancelled, or is unknown to the dispatcher (never kicked, or it finished
    longer ago than results are kept).
    """


class TaskCancelledError(ZQError):
    """The task was cancelled (``handle.cancel()``, ``broker.cancel()``, ``zq cancel``).

    Its waiters get this as the task's error: it was removed before it started, or stopped
    while it ran (an async task had ``CancelledError`` thrown into it; a sync task in a process
    pool had its process ended; one in a thread could only be asked, see ``Context.cancelled``).
    """


class ResultExpiredError(ResultGetError):
    """No result is kept for the task any more, and it is not running: waiting would hang.

    Results that no handle holds expire after ``result_ttl_s`` and beyond ``max_results``;
    a handle returned by ``kiq()`` keeps its task's result for as long as it lives.
    """


class StreamLostError(ZQError):
    """Items of a generator task's stream were dropped before ``stream()`` was called.

    A stream's items are kept for the handle ``kiq()`` returned while it lives; items of a
    task nobody holds a handle for, or whose result was awaited without ``stream()``, are
    dropped so that the task never waits for a reader.
    """
