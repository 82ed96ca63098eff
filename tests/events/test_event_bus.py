"""The event bus as a subscriber sees it: delivery, queues, overflow, stats, hooks, threads."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from llmspell.errors import HookCancelled, ResourceLimitExceeded, ValidationError
from llmspell.events import Event, EventBus, capture_events
from llmspell.hooks import HookRegistry


def test_a_callback_gets_each_event_in_the_publishing_thread() -> None:
    bus = EventBus()
    got: list[tuple[Event, int]] = []
    bus.subscribe("session.*", lambda event: got.append((event, threading.get_ident())))
    first = bus.publish("session.created", {"id": "s1"}, correlation_id="c1", session_id="s1",
                        source="sessions")
    second = bus.publish("session.suspended")
    assert [event for event, _ in got] == [first, second]
    assert {thread for _, thread in got} == {threading.get_ident()}
    assert first is not None and second is not None
    assert (first.type, first.data, first.correlation_id, first.session_id, first.source) == (
        "session.created", {"id": "s1"}, "c1", "s1", "sessions")
    assert second.sequence == first.sequence + 1 and first.id != second.id
    assert abs(first.timestamp - time.time()) < 60
    assert first.as_dict()["id"] == first.id and first.as_dict()["type"] == "session.created"


def test_event_ids_differ_between_buses() -> None:
    one, two = EventBus().publish("a"), EventBus().publish("a")
    assert one is not None and two is not None
    assert one.sequence == two.sequence == 1 and one.id != two.id


def test_a_queued_subscription_is_read_in_order_and_times_out_with_none() -> None:
    bus = EventBus()
    sub = bus.subscribe("*.error")
    bus.publish("agent.error", 1)
    bus.publish("agent.done", 2)
    bus.publish("tool.error", 3)
    assert sub.pending == 2
    first, second = sub.receive(timeout=1), bus.receive(sub.id, timeout=1)
    assert first is not None and second is not None
    assert [first.data, second.data] == [1, 3]
    assert sub.receive(timeout=0.05) is None
    assert sub.receive(timeout=0) is None


def test_receive_waits_for_an_event_published_by_another_thread() -> None:
    bus = EventBus()
    sub = bus.subscribe("job.done")
    timer = threading.Timer(0.05, bus.publish, args=("job.done", "result"))
    timer.start()
    event = sub.receive(timeout=10)
    timer.join()
    assert event is not None and event.data == "result"


def test_unsubscribe_stops_delivery_and_wakes_a_waiting_receiver() -> None:
    bus = EventBus()
    got: list[Event] = []
    callback_sub = bus.subscribe("x", got.append)
    queue_sub = bus.subscribe("x")
    results: list[Any] = []
    waiter = threading.Thread(target=lambda: results.append(queue_sub.receive(timeout=10)))
    waiter.start()
    time.sleep(0.05)
    assert bus.unsubscribe(queue_sub.id) is True and callback_sub.unsubscribe() is True
    waiter.join(timeout=10)
    assert results == [None]
    assert bus.unsubscribe(queue_sub) is False
    bus.publish("x")
    assert got == [] and queue_sub.pending == 0 and bus.list_subscriptions() == []
    with pytest.raises(ValidationError, match="no subscription has this id"):
        bus.receive(queue_sub.id, 0)


def test_subscribing_after_a_type_was_published_sees_the_next_events_of_that_type() -> None:
    bus = EventBus()
    early: list[Event] = []
    late: list[Event] = []
    bus.subscribe("agent.*", early.append)
    bus.publish("agent.started")
    late_sub = bus.subscribe("**", late.append)
    bus.publish("agent.started")
    bus.unsubscribe(late_sub)
    bus.publish("agent.started")
    assert len(early) == 3 and len(late) == 1


def test_drop_oldest_keeps_the_newest_and_counts_the_drops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    sub = bus.subscribe("n", max_queue=3)
    for i in range(5):
        bus.publish("n", i)
    with caplog.at_level(logging.WARNING, logger="llmspell.events"):
        received = [sub.receive(0) for _ in range(4)]
    assert [e.data for e in received if e] == [2, 3, 4] and received[3] is None
    stats = sub.stats()
    assert (stats["dropped"], stats["delivered"], stats["pending"]) == (2, 3, 0)
    assert bus.stats()["dropped"] == 2
    assert any("overflowed" in r.getMessage() and sub.id in r.getMessage()
               for r in caplog.records)


def test_drop_newest_keeps_the_oldest_and_counts_the_drops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus(overflow="drop_newest", max_queue=3)
    sub = bus.subscribe("n")
    with caplog.at_level(logging.WARNING, logger="llmspell.events"):
        for i in range(5):
            bus.publish("n", i)
    assert [sub.receive(0).data for _ in range(3)] == [0, 1, 2]  # type: ignore[union-attr]
    assert sub.stats()["dropped"] == 2 and sub.stats()["overflow"] == "drop_newest"
    assert any("overflowed" in r.getMessage() for r in caplog.records)


def test_block_waits_for_the_reader_and_gives_up_after_block_timeout() -> None:
    bus = EventBus(block_timeout=5)
    sub = bus.subscribe("n", max_queue=1, overflow="block")
    bus.publish("n", 1)
    reader = threading.Timer(0.05, sub.receive, args=(0,))
    reader.start()
    bus.publish("n", 2)  # blocks until the reader takes event 1
    reader.join()
    assert sub.receive(0).data == 2  # type: ignore[union-attr]
    assert sub.stats()["dropped"] == 0

    impatient = EventBus(block_timeout=0.05)
    full = impatient.subscribe("n", max_queue=1, overflow="block")
    impatient.publish("n", 1)
    impatient.publish("n", 2)  # nobody reads: dropped after 0.05 s
    assert full.receive(0).data == 1 and full.receive(0) is None  # type: ignore[union-attr]
    assert full.stats()["dropped"] == 1


def test_a_raising_callback_is_counted_and_logged_and_never_breaks_publish(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    got: list[Event] = []

    def broken(event: Event) -> None:
        raise ValueError("subscriber bug")

    bad = bus.subscribe("**", broken)
    bus.subscribe("**", got.append)
    with caplog.at_level(logging.WARNING, logger="llmspell.events"):
        events = [bus.publish("a.b", i) for i in range(3)]
    assert got == events
    assert bad.stats()["errors"] == 3 and bad.stats()["delivered"] == 0
    [record] = [r for r in caplog.records if r.name == "llmspell.events"]  # once, not 3 times
    assert "subscriber bug" in record.getMessage() and bad.id in record.getMessage()


def test_stats_per_subscription_and_for_the_bus() -> None:
    bus = EventBus(max_queue=2)
    calls = bus.subscribe("a.*", lambda event: None)
    queue = bus.subscribe("**")
    for event_type in ["a.x", "a.y", "b", "a.x"]:
        bus.publish(event_type)
    queue.receive(0)
    assert calls.stats() == {
        "id": calls.id, "pattern": "a.*", "kind": "callback", "active": True,
        "max_queue": None, "overflow": None, "delivered": 3, "dropped": 0, "pending": 0,
        "errors": 0,
    }
    assert queue.stats()["delivered"] == 1 and queue.stats()["dropped"] == 2
    assert queue.stats()["pending"] == 1
    assert bus.stats() == {"published": 4, "delivered": 4, "dropped": 2, "errors": 0,
                           "pending": 1, "suppressed": 0, "subscriptions": 2}
    assert [s["id"] for s in bus.list_subscriptions()] == [calls.id, queue.id]
    bus.unsubscribe(calls)
    assert bus.stats()["delivered"] == 4 and bus.stats()["subscriptions"] == 1


def test_stats_stay_exact_when_the_type_cache_overflows() -> None:
    bus = EventBus(max_cached_types=2)
    sub = bus.subscribe("**", lambda event: None)
    for i in range(10):
        bus.publish(f"t.{i % 5}")
    assert sub.stats()["delivered"] == 10 and bus.stats()["published"] == 10


def test_bad_subscriptions_are_refused() -> None:
    bus = EventBus(max_subscriptions=1)
    with pytest.raises(ValidationError, match="callback"):
        bus.subscribe("a", "print")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="queued subscriptions only"):
        bus.subscribe("a", print, max_queue=5)
    with pytest.raises(ValidationError, match="overflow"):
        bus.subscribe("a", overflow="drop_everything")
    with pytest.raises(ValidationError, match="max_queue"):
        bus.subscribe("a", max_queue=0)
    sub = bus.subscribe("a", print)
    with pytest.raises(ValidationError, match="callback subscription"):
        sub.receive(0)
    with pytest.raises(ResourceLimitExceeded, match="max_subscriptions"):
        bus.subscribe("b")


def test_capture_events_collects_what_a_block_publishes() -> None:
    bus = EventBus()
    bus.publish("before")
    with capture_events(bus, "job.*") as events:
        bus.publish("job.started")
        bus.publish("other")
        bus.publish("job.done", 1)
    bus.publish("job.after")
    assert events.types == ["job.started", "job.done"]
    assert [e.data for e in events.of_type("job.done")] == [1]
    assert bus.list_subscriptions() == []


def test_event_hooks_can_change_suppress_or_cancel_a_publish() -> None:
    bus = EventBus()
    hooks = HookRegistry(publish=bus.publish)
    bus.hooks = hooks
    hooks_publish = []

    def before(ctx: Any) -> Any:
        kind = ctx.metadata["type"]
        if kind == "secret.leak":
            return {"action": "cancel", "reason": "not allowed"}
        if kind == "noise":
            return {"action": "skip"}
        return {"action": "modified", "data": {**ctx.data, "tagged": True}}

    hooks.register("event:before_emit", before)
    hooks.register("AfterEventEmit", lambda ctx: hooks_publish.append(
        bus.publish("audit.emitted", ctx.data["id"])))  # does not fire event hooks again
    with capture_events(bus) as events:
        event = bus.publish("job.done", {"n": 1})
        assert bus.publish("noise") is None
        with pytest.raises(HookCancelled, match="not allowed"):
            bus.publish("secret.leak")
    assert event is not None and event.data == {"n": 1, "tagged": True}
    assert events.types == ["job.done", "audit.emitted"]
    assert events[1].data == event.id
    assert bus.stats()["suppressed"] == 1


def test_publishing_and_subscribing_from_many_threads() -> None:
    bus = EventBus(max_queue=100_000)
    counted = []
    lock = threading.Lock()

    def count(event: Event) -> None:
        with lock:
            counted.append(event.sequence)

    counter = bus.subscribe("work.*", count)
    queue = bus.subscribe("work.**")
    errors: list[BaseException] = []

    def publisher(i: int) -> None:
        try:
            for n in range(500):
                bus.publish(f"work.t{i % 3}", n)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def churn() -> None:
        for _ in range(100):
            bus.unsubscribe(bus.subscribe("work.*", lambda event: None))

    threads = [threading.Thread(target=publisher, args=(i,)) for i in range(6)]
    threads.append(threading.Thread(target=churn))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(counted) == 3000 and len(set(counted)) == 3000
    received = []
    while (event := queue.receive(0)) is not None:
        received.append(event.sequence)
    assert sorted(received) == sorted(counted)
    stats = bus.stats()
    assert stats["published"] == 3000 and stats["subscriptions"] == 2
    assert counter.stats()["delivered"] == 3000 and queue.stats()["delivered"] == 3000


def test_one_function_subscribed_twice_has_its_errors_counted_where_they_happened() -> None:
    bus = EventBus()
    calls = []

    def every_other_call_fails(event: Event) -> None:
        calls.append(event)
        if len(calls) % 2 == 0:
            raise RuntimeError("second call")

    first = bus.subscribe("a.*", every_other_call_fails)
    second = bus.subscribe("**", every_other_call_fails)
    bus.publish("a.x")
    assert len(calls) == 2
    assert (first.stats()["errors"], second.stats()["errors"]) == (0, 1)
    assert (first.stats()["delivered"], second.stats()["delivered"]) == (1, 0)


def test_has_subscribers_tells_publishers_whether_anyone_listens() -> None:
    bus = EventBus()
    assert not bus.has_subscribers("state.changed")
    sub = bus.subscribe("state.*")
    assert bus.has_subscribers("state.changed")
    assert not bus.has_subscribers("session.created")
    sub.unsubscribe()
    assert not bus.has_subscribers("state.changed")
    with pytest.raises(ValidationError):
        bus.has_subscribers("bad..type")


def test_a_subscription_can_leave_out_events_of_some_sources() -> None:
    bus = EventBus()
    bus.publish("artifact.stored", {"n": 0}, source="artifacts")  # a route cached before
    got: list[Event] = []
    sub = bus.subscribe("**", got.append, exclude_sources=("artifacts", "state"))
    everything = bus.subscribe("artifact.*")
    bus.publish("artifact.stored", {"n": 1}, source="artifacts")
    bus.publish("artifact.stored", {"n": 2}, source="tools")
    bus.publish("artifact.stored", {"n": 3})
    bus.publish("state.changed", source="state")
    assert [e.data for e in got] == [{"n": 2}, {"n": 3}]
    assert sub.stats()["delivered"] == 2 and everything.stats()["pending"] == 3
    assert bus.has_subscribers("state.changed") is True  # no source: not excluded
    assert bus.has_subscribers("state.changed", "tools") is True
    assert bus.has_subscribers("state.changed", "state") is False
    sub.unsubscribe()
    bus.publish("session.created", source="tools")
    assert len(got) == 2 and bus.stats()["published"] == 6


class _Refusing:
    """A redactor that fails the test when it is asked to work."""

    def redact(self, value: Any) -> Any:
        raise AssertionError("redacted an event nobody receives")


def test_an_event_only_excluded_subscribers_match_is_not_redacted() -> None:
    bus = EventBus(redactor=_Refusing())  # type: ignore[arg-type]
    bus.subscribe("**", lambda event: None, exclude_sources=["artifacts"])
    event = bus.publish("artifact.stored", {"api_key": "sk-1"}, source="artifacts",
                        redact=True)
    assert event is not None and bus.stats()["published"] == 1
    with pytest.raises(AssertionError, match="nobody receives"):
        bus.publish("artifact.stored", {"api_key": "sk-1"}, source="tools", redact=True)


def test_exclude_sources_must_be_a_list_of_names() -> None:
    bus = EventBus()
    with pytest.raises(ValidationError, match=r"exclude_sources.*list of source names"):
        bus.subscribe("**", print, exclude_sources="artifacts")
    with pytest.raises(ValidationError, match=r"exclude_sources' at \[1\]"):
        bus.subscribe("**", exclude_sources=["state", 3])  # type: ignore[list-item]
    assert bus.stats()["subscriptions"] == 0


def test_accepts_turns_events_away_per_publish_before_redaction() -> None:
    bus = EventBus(redactor=_Refusing())  # type: ignore[arg-type]
    got: list[Event] = []
    current: list[str] = []  # a session made current by the caller, as the recorder sees it
    sub = bus.subscribe("agent.*", got.append,
                        accepts=lambda sid: sid is not None or bool(current))
    queued = bus.subscribe("agent.*", accepts=lambda sid: sid == "s1")
    bus.publish("agent.done", {"api_key": "sk-1"}, redact=True)  # nobody takes it: no redaction
    with pytest.raises(AssertionError, match="nobody receives"):
        bus.publish("agent.done", {"n": 1}, session_id="s1", redact=True)
    bus.publish("agent.done", {"n": 2}, session_id="s1")
    current.append("s2")
    bus.publish("agent.done", {"n": 3})
    assert [e.data for e in got] == [{"n": 2}, {"n": 3}]
    assert sub.stats()["delivered"] == 2 and sub.stats()["errors"] == 0
    assert [queued.receive(0).data for _ in range(queued.pending)] == [{"n": 2}]  # type: ignore[union-attr]
    assert queued.stats()["dropped"] == 0 and bus.stats()["published"] == 3
    assert bus.has_subscribers("agent.done")  # may listen: decided per publish


def test_accepts_must_be_callable() -> None:
    with pytest.raises(ValidationError, match="accepts"):
        EventBus().subscribe("**", print, accepts="yes")  # type: ignore[arg-type]
