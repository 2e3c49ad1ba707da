"""Small pieces the package's modules share."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, ContextManager


def describe(exc: BaseException) -> str:
    """"KeyError: 'x'", or the type's name alone when the text is empty: the
    reason a failed run, message or span records."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def each_call(fn: Callable[..., Any], make: Callable[[], ContextManager[Any]]) -> Callable[..., Any]:
    """`fn` wrapped so that every call runs inside a new `make()` context
    manager, awaited through for a coroutine function (contextlib's
    ContextDecorator would leave the block before an async body runs)."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            with make():
                return await fn(*args, **kwargs)

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with make():
            return fn(*args, **kwargs)

    return wrapper
