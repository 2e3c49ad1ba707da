"""Workers: firebreak.Worker on the C++ WorkerObserver: heartbeat, one scope
per message with its outcome, queue backlog read at scrape time, and the log
context of a message's lines."""

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

import firebreak
from conftest import run_logged


def scrape(registry):
    body, _ = registry.expose()
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(metrics, name, **labels):
    return metrics.get((name, tuple(sorted(labels.items()))))


def test_messages_are_recorded_by_outcome_and_the_heartbeat_moves():
    registry = firebreak.Registry()
    worker = firebreak.Worker(registry, log_messages=False)
    before = time.time()
    worker.heartbeat()
    with worker.message("orders", "m-1"):
        pass
    with worker.message("orders", "m-2") as m:
        m.retry("stock service down")
    with pytest.raises(KeyError):
        with worker.message("orders", "m-3"):
            {}["missing"]
    with worker.message("orders", "m-4") as m:
        m.dead("poison")
    metrics = scrape(registry)
    count = "messaging_process_duration_seconds_count"
    for outcome, n in (("ok", 1), ("retry", 1), ("error", 1), ("dead", 1)):
        assert value(metrics, count, messaging_destination_name="orders", outcome=outcome) == n
    assert value(metrics, "worker_active_messages", messaging_destination_name="orders") == 0
    assert value(metrics, "worker_heartbeat_timestamp_seconds") >= before - 1
    assert value(metrics, "worker_last_success_timestamp_seconds",
                 messaging_destination_name="orders") >= before - 1


# The raising callback is reported as unraisable (sys.unraisablehook), as a
# raising callback metric is.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_queue_backlog_is_read_at_each_scrape():
    registry = firebreak.Registry()
    worker = firebreak.Worker(registry)
    backlog = {"depth": 3, "oldest": time.time() - 42}
    worker.watch_queue("orders", lambda: (backlog["depth"], backlog["oldest"]))
    worker.watch_queue("broken", lambda: {}["raises"])
    worker.watch_queue("unreadable", lambda: None)
    metrics = scrape(registry)
    assert value(metrics, "queue_depth", messaging_destination_name="orders") == 3
    age = value(metrics, "queue_oldest_message_age_seconds", messaging_destination_name="orders")
    assert 41 <= age <= 60
    # A callback that raises or says "unreadable" leaves its series out.
    assert value(metrics, "queue_depth", messaging_destination_name="broken") is None
    assert value(metrics, "queue_depth", messaging_destination_name="unreadable") is None
    backlog.update(depth=0, oldest=None)
    metrics = scrape(registry)
    assert value(metrics, "queue_depth", messaging_destination_name="orders") == 0
    assert value(metrics, "queue_oldest_message_age_seconds",
                 messaging_destination_name="orders") == 0
    worker.unwatch_queue("orders")
    assert value(scrape(registry), "queue_depth", messaging_destination_name="orders") is None


def test_bad_outcomes_and_closed_messages_are_clear_errors():
    worker = firebreak.Worker(firebreak.Registry())
    with worker.message("orders", "m-1") as m:
        with pytest.raises(ValueError, match="outcome"):
            m._scope.set_outcome("maybe")
    with pytest.raises(ValueError, match="closed"):
        m.retry()


def test_a_messages_lines_carry_its_id_and_queue_and_one_record_each(tmp_path):
    lines = run_logged(tmp_path, """
        worker = firebreak.Worker(firebreak.Registry())
        for i in range(3):
            with worker.message("orders", f"m-{i}") as m:
                firebreak.log.info("charged", n=i)
                if i == 1:
                    m.retry("card declined")
        firebreak.log.info("after")
    """)
    charged = [l for l in lines if l["event"] == "charged"]
    assert [(l["message_id"], l["messaging_destination_name"]) for l in charged] == [
        ("m-0", "orders"), ("m-1", "orders"), ("m-2", "orders")]
    processed = [l for l in lines if l["event"] == "message_processed"]
    assert [(l["message_id"], l["outcome"], l["level"]) for l in processed] == [
        ("m-0", "ok", "info"), ("m-1", "retry", "warn"), ("m-2", "ok", "info")]
    assert processed[1]["reason"] == "card declined"
    [after] = [l for l in lines if l["event"] == "after"]
    assert "message_id" not in after and "messaging_destination_name" not in after
