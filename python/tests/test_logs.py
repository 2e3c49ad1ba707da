"""Logs: firebreak.LogHandler and firebreak.log write the kit's JSON schema
through the C++ writer; context from contextvars, right under threads and
asyncio. Each case runs in a child interpreter, since the logger's
configuration (file, format, level) is per process."""

import pytest

from conftest import run_logged as run

FIXED_KEYS = ["timestamp", "level", "event"]
IDENTITY_KEYS = ["service", "version", "env", "workload"]


def by_event(records, event):
    return [r for r in records if r["event"] == event]


def test_a_logging_call_with_extra_comes_out_in_the_schema(tmp_path):
    records = run(tmp_path, """
        service = firebreak.Service(name="checkout", version="1.4.2", environment="prod",
                                    workload="worker", admin_address="127.0.0.1:0")
        logging.getLogger().addHandler(firebreak.LogHandler())
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("shop.orders").info(
            "Order %s stored", "o-17",
            extra={"event": "order_created", "order_id": "o-17", "quantity": 3,
                   "amount": 12.5, "paid": True, "coupon": None, "big": 2**70})
    """)
    [line] = by_event(records, "order_created")
    keys = list(line)
    assert keys[:4] == FIXED_KEYS + ["msg"]
    assert keys[4:8] == IDENTITY_KEYS
    assert line["level"] == "info"
    assert line["msg"] == "Order o-17 stored"
    assert (line["service"], line["version"], line["env"], line["workload"]) == (
        "checkout", "1.4.2", "prod", "worker")
    # The call's fields, typed, in order: logger first, then extra.
    assert keys[8:] == ["logger", "order_id", "quantity", "amount", "paid", "coupon", "big"]
    assert line["logger"] == "shop.orders"
    assert line["quantity"] == 3 and line["amount"] == 12.5 and line["paid"] is True
    assert line["coupon"] is None
    assert line["big"] == str(2**70)
    assert line["timestamp"].endswith("Z") and len(line["timestamp"]) == 27


def test_levels_map_and_the_handler_level_and_firebreak_level_both_filter(tmp_path):
    records = run(tmp_path, """
        logging.basicConfig(level=logging.DEBUG, handlers=[firebreak.LogHandler()])
        log = logging.getLogger("x")
        log.debug("d", extra={"event": "e_debug"})
        log.info("i", extra={"event": "e_info"})
        log.warning("w", extra={"event": "e_warn"})
        log.error("e", extra={"event": "e_error"})
        log.critical("c", extra={"event": "e_fatal"})
    """, env={"FIREBREAK_LOG_LEVEL": "info"})
    levels = {r["event"]: r["level"] for r in records if r["event"].startswith("e_")}
    assert levels == {"e_info": "info", "e_warn": "warn", "e_error": "error", "e_fatal": "fatal"}


def test_a_record_without_an_event_uses_the_default_and_third_party_logs_come_out(tmp_path):
    records = run(tmp_path, """
        logging.getLogger().addHandler(firebreak.LogHandler(default_event="python_log"))
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("urllib3.connectionpool").warning("Retrying (%d)", 2)
    """)
    [line] = by_event(records, "python_log")
    assert line["level"] == "warn"
    assert line["msg"] == "Retrying (2)"
    assert line["logger"] == "urllib3.connectionpool"


def test_an_exception_is_written_as_error_type_and_stack(tmp_path):
    records = run(tmp_path, """
        logging.getLogger().addHandler(firebreak.LogHandler())
        try:
            {}["missing"]
        except KeyError:
            logging.getLogger("job").exception("run failed", extra={"event": "job_failed"})
    """)
    [line] = by_event(records, "job_failed")
    assert line["level"] == "error"
    assert line["error"] == "'missing'"
    assert line["error_type"] == "KeyError"
    assert "Traceback" in line["stack"] and "KeyError" in line["stack"]


def test_context_goes_where_the_kits_scopes_go_in_schema_order(tmp_path):
    records = run(tmp_path, """
        with firebreak.log_context(tenant="acme", http_route="/orders/{id}"):
            with firebreak.log_context(request_id="req-9", tenant="globex"):
                firebreak.log.info("order_created", "stored", order_id="o-17")
            firebreak.log.info("after_inner")
        firebreak.log.info("outside")
    """)
    [line] = by_event(records, "order_created")
    keys = list(line)
    tail = keys[keys.index("workload") + 1:]
    # request_id before http_*, then other keys; the call's fields last.
    assert tail == ["request_id", "http_route", "tenant", "order_id"]
    assert line["tenant"] == "globex"  # the inner value wins
    [after] = by_event(records, "after_inner")
    assert after["tenant"] == "acme" and "request_id" not in after
    [outside] = by_event(records, "outside")
    assert "tenant" not in outside and "http_route" not in outside


def test_context_is_per_asyncio_task_and_per_thread(tmp_path):
    records = run(tmp_path, """
        import asyncio, threading

        async def handle(rid):
            with firebreak.log_context(request_id=rid):
                await asyncio.sleep(0.01)           # the other tasks run meanwhile
                firebreak.log.info("task_done", rid_seen=rid)

        async def main():
            await asyncio.gather(*(handle(f"req-{i}") for i in range(20)))
        asyncio.run(main())

        def work(i):
            with firebreak.log_context(message_id=f"m-{i}"):
                for _ in range(50):
                    firebreak.log.info("thread_step", expected=f"m-{i}")
        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
    """)
    tasks = by_event(records, "task_done")
    assert len(tasks) == 20
    assert all(r["request_id"] == r["rid_seen"] for r in tasks)
    steps = by_event(records, "thread_step")
    assert len(steps) == 200
    assert all(r["message_id"] == r["expected"] for r in steps)


def test_log_context_decorates_sync_and_async_functions(tmp_path):
    records = run(tmp_path, """
        import asyncio

        @firebreak.log_context(job="nightly")
        def run_job():
            firebreak.log.info("sync_inside")

        @firebreak.log_context(job="nightly-async")
        async def run_async():
            firebreak.log.info("async_inside")

        run_job()
        asyncio.run(run_async())
        firebreak.log.info("outside")
        assert firebreak.current_log_context() == {}
    """)
    assert by_event(records, "sync_inside")[0]["job"] == "nightly"
    assert by_event(records, "async_inside")[0]["job"] == "nightly-async"
    assert "job" not in by_event(records, "outside")[0]


def test_hostile_values_stay_one_valid_line(tmp_path):
    records = run(tmp_path, """
        class Weird:
            def __str__(self):
                return 'he said "hi"\\n\\x00'
        firebreak.log.warn("hostile", "line\\nbreak \\"quoted\\" \\ud800", obj=Weird(),
                           nan=float("nan"), **{"key with \\"quote": 1})
    """)
    [line] = by_event(records, "hostile")
    assert line["msg"] == 'line\nbreak "quoted" ?'  # a lone surrogate is not UTF-8
    assert line["obj"] == 'he said "hi"\n\x00'
    assert line["nan"] == "NaN"
    assert line['key with "quote'] == 1


def test_event_names_past_the_bound_share_one_site(tmp_path):
    records = run(tmp_path, """
        for i in range(4200):
            firebreak.log.info(f"ev_{i}")
    """)
    assert len(records) == 4200
    overflow = [r for r in records if r["event"] == "log"]
    assert len(overflow) == 4200 - 4096
    assert overflow[0]["event_name"] == "ev_4096"


def test_bad_arguments_raise_clear_errors():
    import firebreak

    with pytest.raises(ValueError, match="level"):
        firebreak._core.log_emit(9, "e", "", None, None)
    with pytest.raises(TypeError, match="context"):
        firebreak._core.log_emit(2, "e", "", ["not", "a", "tuple"], None)
    with pytest.raises(TypeError, match="fields"):
        firebreak._core.log_emit(2, "e", "", None, ["x"])
    with pytest.raises(ValueError, match="empty"):
        firebreak._core.log_emit(2, "", "", None, None)
    with pytest.raises(ValueError):
        firebreak.LogHandler(default_event="")


def test_a_broken_record_goes_to_handle_error_not_to_the_caller(tmp_path):
    # A record whose message cannot be formatted: logging's own policy
    # (handleError prints to stderr) applies, the program goes on.
    records = run(tmp_path, """
        logging.raiseExceptions = False
        logging.getLogger().addHandler(firebreak.LogHandler())
        logging.getLogger("x").warning("%d items", "not a number", extra={"event": "bad"})
        firebreak.log.info("still_running")
    """)
    assert by_event(records, "still_running")
    assert not by_event(records, "bad")
