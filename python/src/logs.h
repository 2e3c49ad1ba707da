// firebreak._core's log functions, written against the CPython API (as the
// metric handles are): a log call is a recording path, and Python's logging
// already spends a microsecond before a handler sees the record.
//
//   _core.log_emit(level, event, msg, context, fields[, span])
//     level:   0 trace .. 5 fatal (firebreak::LogLevel)
//     event:   str, the stable event name
//     msg:     str ("" for none)
//     context: tuple of (key, value) pairs or None: the caller's log context
//              (Python's contextvars), written where the C++ kit writes its
//              LogScope fields, in the schema's order
//     fields:  dict or None: the call's own fields, in their order
//     span:    a SpanContext's `packed` bytes or None: the line's trace_id,
//              span_id and trace_flags (None: the C++ thread's current span)
//   _core.log_enabled(level) -> bool
//   _core.flush_logs()
//
// Values: str, bool, int (beyond 64 bits: its decimal text), float, None;
// anything else is written as str() of it. Lines go through the C++ writer:
// JSON (or console) as docs/logs.md says, bounded queue, drop accounting,
// rate limits per event.
//
// Thread-safety: called with the GIL held; the C++ logger is thread-safe.
#pragma once

#include <Python.h>

namespace firebreak::python {

// Adds the functions above to `module`. Returns false with a Python error set.
bool add_log_functions(PyObject* module);

}  // namespace firebreak::python
