"""An executor's credit: how many tasks each dispatcher may send it, and its drain. Pure.

Rules (each is a method below; ``tests/unit/test_credit*.py`` check them, the stateful test
against a model dispatcher):

1. **Hello grants the room left in the link's share.** A new session (a link's ``Hello``)
   voids what the old one held and grants ``share - outstanding``: tasks still running from
   the old session keep their places. ``capacity`` (``max_async_tasks + max_prefetch``) is
   split evenly among the links (the first ones get the remainder), so a worker connected to
   several dispatchers is never sent more than its capacity in all, and each dispatcher gets
   the same share under load; a dispatcher with nothing to send leaves its share unused.
2. **Assign consumes.** Each task assigned is one more outstanding and one less granted.
3. **A result returns its place** as credit owed back (``credit_back``), sent with the next
   ``Results``; a task handed back unstarted (drain) or cancelled returns its place without
   credit: the dispatcher requeues it.
4. **Per link, outstanding + granted + credit_back <= its share**, always (so, over every
   link, <= capacity); equal when nothing was handed back and no ``max_tasks`` applies.
5. **max_tasks clamps.** With ``--max-tasks-per-child``, credit is clamped so that the tasks
   received plus the credit granted on every link never exceed it; the executor is *spent*
   once it received that many (it is then replaced by its supervisor).
6. **Draining grants nothing.** After ``drain()``, a Hello grants 0, results carry credit 0,
   and tasks assigned meanwhile (crossing our ``Bye``) are handed back at once.
7. **Credit goes only to a joined session**: a dispatcher drops credit from a session it does
   not know, so it stays owed until the Welcome.
8. **Bye and Farewell.** Every ``Bye`` sent is answered by one ``Farewell``. The executor may
   close a link once the last thing it sent there was a ``Bye`` and every ``Bye`` was
   answered: until then an ``Assign`` may still be crossing it.
"""

from __future__ import annotations


class Account:
    """One link's (one session's) share of the credit; read by the executor, changed here."""

    __slots__ = ("byes", "credit_back", "granted", "outstanding", "said_bye_last")

    def __init__(self) -> None:
        self.outstanding = 0  # tasks received on this link and not finished or handed back
        self.granted = 0  # credit the dispatcher holds for us on this session
        self.credit_back = 0  # places freed by results since the last Results
        self.byes = 0  # Byes sent on this session that no Farewell answered yet
        self.said_bye_last = False  # nothing but a Bye was sent since our last results


class CreditBook:
    """The credit of one executor over all its links."""

    def __init__(self, capacity: int, max_tasks: int | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.max_tasks = max_tasks
        self.received = 0  # tasks received in all (what max_tasks counts)
        self.draining = False
        self.accounts: list[Account] = []

    def open(self) -> Account:
        """A new link's account."""
        account = Account()
        self.accounts.append(account)
        return account

    # --- rule 1, 5, 6: what a Hello grants ------------------------------------------------

    def hello(self, account: Account) -> int:
        """A new session on ``account``'s link: the credit its ``Hello`` grants."""
        account.granted = 0  # the old session's credit is void
        account.credit_back = 0
        credit = 0 if self.draining else self._allow(self.share(account) - account.outstanding)
        account.granted = credit
        return credit

    def share(self, account: Account) -> int:
        """The part of ``capacity`` that ``account``'s link may hold (rule 1)."""
        links = len(self.accounts)
        base, extra = divmod(self.capacity, links)
        return base + (1 if self.accounts.index(account) < extra else 0)

    def connected(self, account: Account) -> None:
        """A new socket for ``account``'s link: no Bye is pending on it."""
        account.byes = 0
        account.said_bye_last = False

    # --- rule 2, 5, 6: tasks in ----------------------------------------------------------

    def assigned(self, account: Account, count: int) -> tuple[bool, bool]:
        """``count`` tasks arrived: (take them?, did this make the executor spent?).

        While draining they are not taken: the caller hands them back (rule 6).
        """
        account.granted -= count
        spent = False
        if self.max_tasks is not None:
            before = self.received
            self.received += count
            spent = before < self.max_tasks <= self.received
        if self.draining:
            return False, spent
        account.outstanding += count
        return True, spent

    # --- rule 3: places back ---------------------------------------------------------------

    def finished(self, account: Account) -> None:
        """A task of ``account``'s link has its result."""
        account.outstanding -= 1
        account.credit_back += 1

    def handed_back(self, account: Account, count: int = 1) -> None:
        """Tasks of ``account``'s link given back unstarted, or cancelled (no credit)."""
        account.outstanding -= count

    def credit_due(self, account: Account, joined: bool) -> bool:
        """Whether a ``Results`` should go out for the credit alone (rule 7)."""
        return bool(account.credit_back) and joined and not self.draining

    def results(self, account: Account, joined: bool) -> int:
        """The credit the ``Results`` now going out carries (rules 5, 6, 7)."""
        if self.draining or not joined:
            return 0
        credit = self._allow(account.credit_back)
        account.credit_back -= credit
        account.granted += credit
        return credit

    # --- rule 6, 8: draining ---------------------------------------------------------------

    def drain(self) -> None:
        """From now on, grant nothing."""
        self.draining = True

    def sent(self, account: Account, bye: bool) -> None:
        """A message other than a heartbeat went out on ``account``'s link (a Bye or not).

        Heartbeats are not counted: they do not undo "the last thing said was a Bye".
        """
        if bye:
            account.byes += 1
            account.said_bye_last = True
        else:
            account.said_bye_last = False

    def farewell(self, account: Account) -> None:
        """The dispatcher answered one ``Bye``."""
        account.byes = max(0, account.byes - 1)

    def closable(self, account: Account) -> bool:
        """Whether nothing more can come on this session: our last word was an answered Bye."""
        return account.said_bye_last and not account.byes

    # --- rule 5 ------------------------------------------------------------------------------

    @property
    def spent(self) -> bool:
        """Whether ``max_tasks`` tasks were received."""
        return self.max_tasks is not None and self.received >= self.max_tasks

    def _allow(self, credit: int) -> int:
        credit = max(0, credit)
        if self.max_tasks is None:
            return credit
        held = sum(account.granted for account in self.accounts)
        return max(0, min(credit, self.max_tasks - self.received - held))
