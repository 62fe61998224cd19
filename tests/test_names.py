"""Every name the taskiq API promises is importable from zq, and from taskiq-like submodules."""

import importlib

import pytest

import zq

TOP_LEVEL = [
    "AsyncBroker",
    "InMemoryBroker",
    "ZeroMQBroker",
    "async_shared_broker",
    "AsyncTaskiqDecoratedTask",
    "AsyncTaskiqTask",
    "TaskiqResult",
    "gather",
    "TaskiqMessage",
    "BrokerMessage",
    "TaskiqMiddleware",
    "SimpleRetryMiddleware",
    "SmartRetryMiddleware",
    "PrometheusMiddleware",
    "AsyncResultBackend",
    "TaskiqFormatter",
    "TaskiqEvents",
    "TaskiqState",
    "Context",
    "TaskiqDepends",
    "AckableMessage",
    "AcknowledgeType",
    "TaskiqError",
    "TaskiqResultTimeoutError",
    "SendTaskError",
    "ResultGetError",
    "ResultIsReadyError",
    "NoResultError",
    "SecurityError",
    "__version__",
]

SUBMODULES = {
    "zq.serializers": ["JSONSerializer", "MSGPackSerializer", "PickleSerializer"],
    "zq.serializers.json_serializer": ["JSONSerializer"],  # taskiq's module paths
    "zq.serializers.msgpack_serializer": ["MSGPackSerializer"],
    "zq.serializers.pickle": ["PickleSerializer"],
    "zq.schedule_sources": ["LabelScheduleSource"],
    "zq.kicker": ["AsyncKicker"],
    "zq.depends.progress_tracker": ["ProgressTracker", "TaskProgress", "TaskState"],
    "zq.brokers.shared_broker": ["shared_task", "async_shared_broker", "AsyncSharedBroker"],
    "zq.brokers.inmemory_broker": ["InMemoryBroker"],
    "zq.exceptions": [
        "UnknownTaskError",
        "TaskRejectedError",
        "TaskBrokerMismatchError",
        "BrokerError",
        "ListenError",
        "SharedBrokerListenError",
        "SharedBrokerSendTaskError",
        "ResultBackendError",
        "ResultSetError",
    ],
    "zq.middlewares": ["SimpleRetryMiddleware", "SmartRetryMiddleware", "PrometheusMiddleware"],
    "zq.abc.broker": ["AsyncBroker", "AckableMessage"],
    "zq.abc.middleware": ["TaskiqMiddleware"],
    "zq.abc.result_backend": ["AsyncResultBackend"],
    "zq.abc.serializer": ["TaskiqSerializer"],
    "zq.abc.formatter": ["TaskiqFormatter"],
    "zq.acks": ["AcknowledgeType", "AckableMessage"],
    "zq.context": ["Context"],
    "zq.state": ["TaskiqState"],
    "zq.events": ["TaskiqEvents"],
    "zq.message": ["TaskiqMessage", "BrokerMessage"],
    "zq.result": ["TaskiqResult"],
    "zq.task": ["AsyncTaskiqTask"],
    "zq.decor": ["AsyncTaskiqDecoratedTask"],
    "zq.funcs": ["gather"],
    "zq.formatters.proxy_formatter": ["ProxyFormatter"],
}


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_name(name: str) -> None:
    assert getattr(zq, name) is not None
    assert name in zq.__all__


@pytest.mark.parametrize(("module", "names"), SUBMODULES.items(), ids=list(SUBMODULES))
def test_submodule_names(module: str, names: list[str]) -> None:
    imported = importlib.import_module(module)
    for name in names:
        assert getattr(imported, name) is not None, f"{module}.{name}"


def test_pickle_serializer_warns_in_its_docstring() -> None:
    from zq.serializers import PickleSerializer

    assert "warn" in (PickleSerializer.__doc__ or "").lower()


def test_state_by_attribute_and_by_key() -> None:
    state = zq.TaskiqState()
    state.db = 1
    state["cache"] = 2
    assert (state["db"], state.cache) == (1, 2)
    del state.db
    with pytest.raises(AttributeError):
        _ = state.db


def test_the_formatter_round_trips_a_message() -> None:
    broker = zq.InMemoryBroker()
    message = zq.TaskiqMessage(
        task_id="i", task_name="n", labels={"k": 1}, args=[1, b"x"], kwargs={"a": None}
    )
    encoded = broker.formatter.dumps(message)
    assert isinstance(encoded, zq.BrokerMessage) and encoded.labels == {"k": 1}
    assert broker.formatter.loads(encoded.message) == message
