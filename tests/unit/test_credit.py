"""The executor's credit core (zq.core.credit): each rule, then a stateful test against a model."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from zq.core.credit import CreditBook


def test_hello_grants_the_room_left_and_voids_the_old_session() -> None:
    book = CreditBook(capacity=5)
    account = book.open()
    assert book.hello(account) == 5
    assert book.assigned(account, 3) == (True, False)
    assert account.outstanding == 3 and account.granted == 2
    assert book.hello(account) == 2  # a new session: the three running keep their places
    assert account.granted == 2 and account.credit_back == 0


def test_a_result_returns_its_place_with_the_next_results() -> None:
    book = CreditBook(capacity=2)
    account = book.open()
    book.hello(account)
    book.assigned(account, 2)
    book.finished(account)
    assert (account.outstanding, account.credit_back) == (1, 1)
    assert book.credit_due(account, joined=True)
    assert not book.credit_due(account, joined=False)  # rule 7: owed until welcomed
    assert book.results(account, joined=False) == 0 and account.credit_back == 1
    assert book.results(account, joined=True) == 1
    assert (account.granted, account.credit_back) == (1, 0)


def test_max_tasks_clamps_the_credit_over_every_link_and_says_when_spent() -> None:
    book = CreditBook(capacity=10, max_tasks=4)
    first, second = book.open(), book.open()
    assert book.hello(first) == 4
    assert book.hello(second) == 0  # the first link holds all four
    assert book.assigned(first, 3) == (True, False)
    assert book.assigned(first, 1) == (True, True)
    assert book.spent and book.received == 4
    book.finished(first)
    assert book.results(first, joined=True) == 0  # no more credit, ever


def test_links_to_several_dispatchers_share_the_capacity() -> None:
    book = CreditBook(capacity=31)
    links = [book.open() for _ in range(3)]
    assert [book.hello(link) for link in links] == [11, 10, 10]  # never 3 x 31 in all
    book.assigned(links[0], 11)
    book.finished(links[0])
    assert book.results(links[0], joined=True) == 1  # its own place back, not another's
    assert book.hello(links[1]) == 10  # a new session: its share again


def test_draining_grants_nothing_and_hands_back_what_crosses_the_bye() -> None:
    book = CreditBook(capacity=3)
    account = book.open()
    book.hello(account)
    book.assigned(account, 1)
    book.finished(account)
    book.drain()
    assert book.results(account, joined=True) == 0
    assert not book.credit_due(account, joined=True)
    assert book.hello(account) == 0
    taken, _ = book.assigned(account, 2)
    assert not taken and account.outstanding == 0


def test_a_link_closes_only_after_its_last_bye_was_answered() -> None:
    book = CreditBook(capacity=1)
    account = book.open()
    assert not book.closable(account)
    book.sent(account, bye=True)
    assert not book.closable(account)  # a Farewell is owed
    book.sent(account, bye=False)  # said something after the Bye: say Bye again
    book.farewell(account)
    assert not book.closable(account)
    book.sent(account, bye=True)
    book.farewell(account)
    assert book.closable(account)
    book.connected(account)  # a new socket: nothing pending, nothing said
    assert account.byes == 0 and not account.said_bye_last


class CreditAgainstADispatcher(RuleBasedStateMachine):
    """Random sessions, assignments, results and drains; a model dispatcher sends the tasks.

    The dispatcher only ever sends what it was granted, tasks in flight are lost with their
    session (it requeues them), and the executor's book must agree with it at every step.
    """

    @initialize(
        capacity=st.integers(1, 6),
        max_tasks=st.none() | st.integers(1, 12),
        links=st.integers(1, 3),
    )
    def start(self, capacity: int, max_tasks: int | None, links: int) -> None:
        self.book = CreditBook(capacity, max_tasks)
        self.accounts = [self.book.open() for _ in range(links)]
        self.granted = [0] * links  # what the dispatcher may still send on each session
        self.in_flight: list[list[int]] = [[] for _ in range(links)]
        self.running = [0] * links  # tasks the executor holds (running or prefetched)
        self.joined = [False] * links
        self.granted_after_drain = 0

    def _link(self, data: st.DataObject) -> int:
        return data.draw(st.integers(0, len(self.accounts) - 1))

    @rule(data=st.data())
    def hello(self, data: st.DataObject) -> None:
        n = self._link(data)
        credit = self.book.hello(self.accounts[n])
        self.granted[n] = credit  # a new session: the old one's credit and Assigns are void
        self.in_flight[n] = []
        self.joined[n] = True
        if self.book.draining:
            self.granted_after_drain += credit

    @rule(data=st.data())
    def dispatch(self, data: st.DataObject) -> None:
        n = self._link(data)
        if self.granted[n]:
            count = data.draw(st.integers(1, self.granted[n]))
            self.granted[n] -= count
            self.in_flight[n].append(count)

    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        n = self._link(data)
        if self.in_flight[n]:
            count = self.in_flight[n].pop(0)
            taken, _ = self.book.assigned(self.accounts[n], count)
            assert taken is not self.book.draining
            if taken:
                self.running[n] += count

    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        n = self._link(data)
        if self.running[n]:
            self.book.finished(self.accounts[n])
            self.running[n] -= 1

    @rule(data=st.data())
    def hand_back(self, data: st.DataObject) -> None:
        n = self._link(data)
        if self.running[n]:
            self.book.handed_back(self.accounts[n])
            self.running[n] -= 1

    @rule(data=st.data())
    def results(self, data: st.DataObject) -> None:
        n = self._link(data)
        credit = self.book.results(self.accounts[n], self.joined[n])
        self.granted[n] += credit
        if self.book.draining:
            self.granted_after_drain += credit

    @rule(data=st.data())
    def drop_session(self, data: st.DataObject) -> None:
        self.joined[self._link(data)] = False  # until its next hello

    @precondition(lambda self: not self.book.draining)
    @rule()
    def drain(self) -> None:
        self.book.drain()

    @invariant()
    def the_book_agrees_with_the_dispatcher(self) -> None:
        for n, account in enumerate(self.accounts):
            assert account.outstanding == self.running[n] >= 0
            assert account.granted == self.granted[n] + sum(self.in_flight[n])
            assert self.granted[n] >= 0
            held = account.outstanding + account.granted + account.credit_back
            assert held <= self.book.share(account)
        assert sum(self.book.share(a) for a in self.accounts) == self.book.capacity

    @invariant()
    def max_tasks_is_never_exceeded(self) -> None:
        if self.book.max_tasks is not None:
            held = sum(account.granted for account in self.accounts)
            assert self.book.received + held <= self.book.max_tasks

    @invariant()
    def draining_grants_nothing(self) -> None:
        assert self.granted_after_drain == 0


CreditAgainstADispatcher.TestCase.settings = settings(max_examples=300, stateful_step_count=40)
test_credit_against_a_dispatcher = CreditAgainstADispatcher.TestCase
