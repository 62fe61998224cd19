"""What this process's own producer calls on its dispatcher: a kiq()'s hand-over, adoption.

A mixin of ``Dispatcher`` (kept apart so that the actor's module stays about peers and the
ledger's effects).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from zq.actors.admission import Admission
from zq.actors.records import Records
from zq.actors.standby import Standby
from zq.core.messages import Handoff, TaskMsg
from zq.exceptions import WouldBlock
from zq.storage.journal import Journal


class LocalProducer:
    """The dispatcher's side of ``kiq()`` in the process that bound the address."""

    admission: Admission
    journal: Journal | None
    records: Records
    standby: Standby
    _loop: asyncio.AbstractEventLoop | None

    if TYPE_CHECKING:  # the actor's (``zq.actors.base``)

        async def tell(self, message: Any) -> None: ...

        def tell_nowait(self, message: Any) -> None: ...

    async def submit(self, task: TaskMsg) -> None:
        """A ``kiq()`` of this process, already admitted (``admission``): hand it over.

        With a journal it returns once the task is on disk. Its place is given back if the
        hand-over fails.
        """
        try:
            try:
                self.tell_nowait(task)  # room in the mailbox (the common case): no coroutine
            except WouldBlock:
                await self.tell(task)
        except BaseException:
            self.admission.leave()
            raise
        if self.journal is not None:
            await self.committed()
        if self.standby.peer is not None and (copied := self.standby.copied()):
            await copied  # the standby holds it too

    def adopt(self, tasks: list[TaskMsg], handoff: Handoff | None = None) -> None:
        """Take over tasks this process kicked through its submitter (``Submitter.surrender``).

        ``handoff``: the records of the dispatcher before this one, if this process was its
        standby (dead letters, scheduled runs seen).
        """
        self.tell_nowait(list(tasks))
        if handoff is not None:
            self.tell_nowait(handoff)

    def committed(self) -> asyncio.Future[None]:
        """Resolved once what was told before this call is on disk (with a journal)."""
        assert self._loop is not None
        return self.records.committed(self._loop)
