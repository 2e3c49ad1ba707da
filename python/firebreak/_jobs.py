"""Scheduled jobs: one run as the C++ kit's JobRun does it (workload/job.h):
metrics, check-ins (healthchecks style, e.g. firebreak watch's /ping), a
Pushgateway push at start and end, an overlap lock, log records
job_started / job_finished, and job / job_run_id in the log context.

    def main(run: firebreak.JobRun) -> None:
        for day in days:
            build_report(day)
            run.add_items(1)

    sys.exit(firebreak.run_job(main, name="shop-daily",
                               checkin_url="http://127.0.0.1:9095/ping/shop-daily"))

FIREBREAK_JOB_CHECKIN_URL, FIREBREAK_PUSHGATEWAY_URL and
FIREBREAK_JOB_LOCK_FILE override the arguments, as in C++.
"""

from __future__ import annotations

from typing import Any, Callable

from . import _core
from ._logs import _context
from ._util import describe

__all__ = ["JobLocked", "JobRun", "run_job", "JOB_EXIT_LOCKED"]

JOB_EXIT_LOCKED: int = _core.JOB_EXIT_LOCKED


class JobLocked(RuntimeError):
    """Raised by `with JobRun(...)` when another run of the job holds the
    lock: the body must not run (the run is recorded as skipped)."""


class JobRun(_core.JobRun):
    """One run of a job; starts at construction (the start check-in and push
    are sent then). End it with succeed(), fail(reason) or finish(status),
    or use it as a context manager: the block's end is a success, an
    exception a failure (the exception goes on), and the lock is released.
    `registry` may be a Service (its registry) or a Registry; by default the
    run owns one. Belongs to the thread that created it."""

    def __init__(self, name: str, *, registry: Any = None, **options: Any) -> None:
        if registry is not None:
            registry = getattr(registry, "registry", registry)
        super().__init__(name=name, registry=registry, **options)
        self._token: Any = None

    def __enter__(self) -> "JobRun":
        if not self.acquired:
            self.close()
            raise JobLocked(f"{self.name}: another run holds the lock")
        self._token = _enter_context(self)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        try:
            if not self.finished:
                if exc is None:
                    self.succeed()
                else:
                    self.fail(describe(exc))
        finally:
            if self._token is not None:
                _context.reset(self._token)
                self._token = None
            self.close()


def _enter_context(run: JobRun) -> Any:
    """job and job_run_id in the log context: the C++ run's scope is this
    thread's only, the contextvar also reaches the tasks the body starts."""
    return _context.set(_context.get() + (("job", run.name), ("job_run_id", run.run_id)))


def run_job(body: Callable[[JobRun], Any], *, name: str, **options: Any) -> int:
    """Runs `body(run)` as one run of the job `name` and returns the process
    exit status, as C++'s firebreak::run_job: body returns None (success),
    a bool (False: failure) or an int (that exit status); an exception fails
    the run with its message and returns 1 (it is logged, not raised);
    sys.exit(n) inside gives n. Locked out by another run: body is not
    called and 75 is returned. KeyboardInterrupt fails the run and goes on.
    `options` are JobRun's."""
    run = JobRun(name, **options)
    if not run.acquired:
        status = run.exit_status
        run.close()
        return status
    token = _enter_context(run)
    try:
        result = body(run)
        if run.finished:
            return run.exit_status
        if result is None:
            return run.succeed()
        if isinstance(result, bool):
            return run.succeed() if result else run.fail("job returned false")
        if isinstance(result, int):
            return run.finish(result)
        return run.fail(f"job returned {type(result).__name__}, not None, bool or int")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        return run.finish(code, "" if code == 0 else f"sys.exit({e.code!r})")
    except KeyboardInterrupt:
        run.fail("KeyboardInterrupt")
        raise
    except Exception as e:
        return run.fail(describe(e))
    finally:
        _context.reset(token)
        run.close()
