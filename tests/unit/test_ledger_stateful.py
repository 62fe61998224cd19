"""Hypothesis drives the ledger through random event sequences and checks its invariants:
credit is never exceeded, every accepted task is in exactly one of pending / leased / done,
and nothing is lost when an executor is lost; each name's tasks go out, the first time, in the
order they came. Once as they are, once with every task past the first added at the back of a
queue waiting encoded (``zq.core.spill``), and cancels of pending tasks besides."""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from zq.core.ledger import Ledger
from zq.core.messages import TaskMsg

PEERS = [b"p0", b"p1", b"p2"]
NAMES = ["a", "b"]


class LedgerMachine(RuleBasedStateMachine):
    spill_after = 50_000

    @initialize()
    def setup(self) -> None:
        self.ledger = Ledger(delivery_limit=3, spill_after=self.spill_after)
        self.next_id = 0
        self.accepted: set[str] = set()
        self.done: set[str] = set()  # completed or dead-lettered
        self.granted: dict[bytes, int] = {}  # credit granted to the current session
        self.assigned: dict[bytes, int] = {}  # tasks sent to the current session
        self.holder: dict[str, bytes] = {}  # task -> peer it was last sent to
        self.leaving: set[bytes] = set()
        self.sent: set[str] = set()  # tasks sent at least once
        self.last_first: dict[str, int] = {}  # per name: the latest task sent for the first time

    @rule(name=st.sampled_from(NAMES))
    def submit(self, name: str) -> None:
        task_id = f"t{self.next_id}"
        self.next_id += 1
        assert self.ledger.submit(TaskMsg(task_id, name, b""))
        self.accepted.add(task_id)

    @rule(
        peer=st.sampled_from(PEERS),
        names=st.sets(st.sampled_from(NAMES), min_size=1),
        credit=st.integers(0, 5),
    )
    def join(self, peer: bytes, names: set[str], credit: int) -> None:
        if self.ledger.join(peer, sorted(names), [], credit):
            self.granted[peer] = credit
            self.assigned[peer] = 0
            self.leaving.discard(peer)

    @rule(peer=st.sampled_from(PEERS), amount=st.integers(0, 4))
    def grant(self, peer: bytes, amount: int) -> None:
        self.ledger.grant(peer, amount)
        if self.ledger.knows(peer) and peer not in self.leaving:
            self.granted[peer] += amount

    @rule()
    def dispatch(self) -> None:
        for peer, batch in self.ledger.dispatch():
            assert peer not in self.leaving
            self.assigned[peer] += len(batch)
            for task in batch:
                assert task.task_id not in self.done
                self.holder[task.task_id] = peer
                if task.task_id not in self.sent:  # first time out: in the order kicked
                    self.sent.add(task.task_id)
                    number = int(task.task_id[1:])
                    assert number > self.last_first.get(task.task_name, -1)
                    self.last_first[task.task_name] = number

    @precondition(lambda self: self.holder)
    @rule(data=st.data(), by_holder=st.booleans())
    def complete(self, data: st.DataObject, by_holder: bool) -> None:
        task_id = data.draw(st.sampled_from(sorted(self.holder)))
        peer = self.holder[task_id] if by_holder else data.draw(st.sampled_from(PEERS))
        outcome = self.ledger.complete(peer, task_id).outcome
        assert outcome == ("duplicate" if task_id in self.done else "accepted")
        self.done.add(task_id)

    @rule(peer=st.sampled_from(PEERS))
    def lose(self, peer: bytes) -> None:
        held = self.ledger.leases_of(peer)
        lost = self.ledger.lose(peer)
        assert set(lost.requeued) | {d.task.task_id for d in lost.dead} == held
        self._account_loss(lost.dead)
        self.granted.pop(peer, None)
        self.assigned.pop(peer, None)

    @rule(peer=st.sampled_from(PEERS), data=st.data())
    def leave(self, peer: bytes, data: st.DataObject) -> None:
        held = sorted(self.ledger.leases_of(peer))
        returned = data.draw(st.lists(st.sampled_from(held), unique=True)) if held else []
        assert sorted(self.ledger.leave(peer, returned).requeued) == sorted(returned)
        if self.ledger.knows(peer):
            self.leaving.add(peer)

    def _account_loss(self, dead: list) -> None:  # type: ignore[type-arg]
        for letter in dead:
            self.done.add(letter.task.task_id)

    @invariant()
    def credit_is_never_exceeded(self) -> None:
        for peer in self.ledger.executors():
            assert self.ledger.credit_of(peer) >= 0
            if peer not in self.leaving:
                assert self.assigned[peer] <= self.granted[peer]

    @invariant()
    def every_task_is_in_exactly_one_place(self) -> None:
        pending = self.ledger.pending_ids()
        leased: list[str] = []
        for peer in self.ledger.executors():
            leased.extend(self.ledger.leases_of(peer))
        assert len(leased) == len(set(leased))
        places = [pending, set(leased), self.done & self.accepted]
        assert sum(len(p) for p in places) == len(self.accepted)
        assert set().union(*places) == self.accepted
        assert self.ledger.pending_count == len(pending)
        assert self.ledger.leased_count == len(leased)


class SpillingLedgerMachine(LedgerMachine):
    spill_after = 1

    @precondition(lambda self: self.ledger.pending_count)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        task_id = data.draw(st.sampled_from(sorted(self.ledger.pending_ids())))
        assert self.ledger.cancel(task_id).outcome == "cancelled"
        self.done.add(task_id)


TestLedgerStateful = LedgerMachine.TestCase
TestLedgerStateful.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
TestSpillingLedgerStateful = SpillingLedgerMachine.TestCase
TestSpillingLedgerStateful.settings = TestLedgerStateful.settings
