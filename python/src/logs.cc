#include "logs.h"

#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "firebreak/log.h"
#include "firebreak/trace.h"

namespace firebreak::python {
namespace {

// Call sites by event name. A C++ call site is static; a Python event name is
// known at run time, so its site is made on first use and kept (its rate
// limit and cached JSON pieces live as long as the process). Bounded: past
// kMaxEvents names (a program that puts ids in event names), lines go to one
// site, "log", with the name in an `event_name` field.
constexpr std::size_t kMaxEvents = 4096;

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Sites {
 public:
  // The site of `event`, or nullptr when the table is full.
  detail::LogSite* find(std::string_view event) {
    std::lock_guard lock(mu_);
    if (auto it = sites_.find(event); it != sites_.end()) return it->second.get();
    if (sites_.size() >= kMaxEvents) return nullptr;
    auto it = sites_.try_emplace(std::string(event)).first;
    // The site views the map's key, which never moves (a node-based map).
    it->second = std::make_unique<detail::LogSite>(it->first);
    return it->second.get();
  }
  detail::LogSite& overflow() { return overflow_; }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<detail::LogSite>, StringHash, std::equal_to<>>
      sites_;
  detail::LogSite overflow_{"log"};
};

Sites& sites() {
  static auto* s = new Sites;  // never destroyed: lines may be logged during exit
  return *s;
}

// Python objects turned into log fields for one call. Strings are viewed in
// place (CPython caches an object's UTF-8 form); str() of other objects is
// kept here until the line is formatted.
class FieldBuilder {
 public:
  ~FieldBuilder() {
    for (PyObject* o : temporaries_) Py_DECREF(o);
  }

  // Appends key=value; false with a Python error set.
  bool add(PyObject* key, PyObject* value) {
    std::string_view k;
    return utf8(key, k) && add(k, value);
  }
  bool add(std::string_view k, PyObject* value) {
    if (PyUnicode_Check(value)) {
      std::string_view v;
      if (!utf8(value, v)) return false;
      fields_.emplace_back(LogKey(k), v);
    } else if (PyBool_Check(value)) {
      fields_.emplace_back(LogKey(k), value == Py_True);
    } else if (PyLong_Check(value)) {
      int overflow = 0;
      const long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
      if (overflow != 0) return add_text(k, value);
      if (v == -1 && PyErr_Occurred()) return false;
      fields_.emplace_back(LogKey(k), static_cast<std::int64_t>(v));
    } else if (PyFloat_Check(value)) {
      fields_.emplace_back(LogKey(k), PyFloat_AS_DOUBLE(value));
    } else if (value == Py_None) {
      fields_.emplace_back(LogKey(k), nullptr);
    } else {
      return add_text(k, value);
    }
    return true;
  }

  bool add_pairs(PyObject* pairs) {
    if (pairs == Py_None) return true;
    if (!PyTuple_Check(pairs)) {
      PyErr_SetString(PyExc_TypeError, "context: a tuple of (key, value) pairs or None");
      return false;
    }
    fields_.reserve(fields_.size() + static_cast<std::size_t>(PyTuple_GET_SIZE(pairs)));
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(pairs); ++i) {
      PyObject* pair = PyTuple_GET_ITEM(pairs, i);
      if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        PyErr_SetString(PyExc_TypeError, "context: a tuple of (key, value) pairs or None");
        return false;
      }
      if (!add(PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1))) return false;
    }
    return true;
  }

  bool add_dict(PyObject* dict) {
    if (dict == Py_None) return true;
    if (!PyDict_Check(dict)) {
      PyErr_SetString(PyExc_TypeError, "fields: a dict or None");
      return false;
    }
    fields_.reserve(fields_.size() + static_cast<std::size_t>(PyDict_GET_SIZE(dict)));
    Py_ssize_t pos = 0;
    PyObject* key;
    PyObject* value;
    while (PyDict_Next(dict, &pos, &key, &value))
      if (!add(key, value)) return false;
    return true;
  }

  std::span<const LogField> fields() const { return fields_; }
  std::size_t size() const { return fields_.size(); }

  // The UTF-8 text of `s` (str() of it when it is not a str), valid while
  // this builder lives. False with a Python error set.
  bool utf8(PyObject* s, std::string_view& out) {
    if (!PyUnicode_Check(s)) {
      PyObject* text = PyObject_Str(s);
      if (!text) return false;
      temporaries_.push_back(text);
      s = text;
    }
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(s, &size);
    if (!data) {
      // A lone surrogate: written with the replacement character instead.
      PyErr_Clear();
      PyObject* bytes = PyUnicode_AsEncodedString(s, "utf-8", "replace");
      if (!bytes) return false;
      temporaries_.push_back(bytes);
      out = std::string_view(PyBytes_AS_STRING(bytes),
                             static_cast<std::size_t>(PyBytes_GET_SIZE(bytes)));
      return true;
    }
    out = std::string_view(data, static_cast<std::size_t>(size));
    return true;
  }

 private:
  bool add_text(std::string_view key, PyObject* value) {
    std::string_view v;
    if (!utf8(value, v)) return false;
    fields_.emplace_back(LogKey(key), v);
    return true;
  }

  std::vector<LogField> fields_;
  std::vector<PyObject*> temporaries_;
};

// A span context packed as SpanContext.packed does it: trace id (16 bytes),
// span id (8), flags (1). nullopt with TypeError set for anything else.
std::optional<SpanContext> unpack_span(PyObject* packed) {
  constexpr Py_ssize_t kPacked = TraceId::kSize + SpanId::kSize + 1;
  if (!PyBytes_Check(packed) || PyBytes_GET_SIZE(packed) != kPacked) {
    PyErr_SetString(PyExc_TypeError, "span: a SpanContext's packed bytes or None");
    return std::nullopt;
  }
  const auto* p = reinterpret_cast<const std::uint8_t*>(PyBytes_AS_STRING(packed));
  std::array<std::uint8_t, TraceId::kSize> trace{};
  std::array<std::uint8_t, SpanId::kSize> span{};
  std::memcpy(trace.data(), p, trace.size());
  std::memcpy(span.data(), p + trace.size(), span.size());
  SpanContext c;
  c.trace_id = TraceId(trace);
  c.span_id = SpanId(span);
  c.trace_flags = p[TraceId::kSize + SpanId::kSize];
  return c;
}

bool level_arg(PyObject* arg, LogLevel& out) {
  const long v = PyLong_AsLong(arg);
  if (v == -1 && PyErr_Occurred()) return false;
  if (v < 0 || v > static_cast<long>(LogLevel::kFatal)) {
    PyErr_SetString(PyExc_ValueError, "level: 0 (trace) to 5 (fatal)");
    return false;
  }
  out = static_cast<LogLevel>(v);
  return true;
}

PyObject* log_emit(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 5 && nargs != 6) {
    PyErr_SetString(PyExc_TypeError, "log_emit(level, event, msg, context, fields[, span])");
    return nullptr;
  }
  LogLevel level;
  if (!level_arg(args[0], level)) return nullptr;
  if (!log_enabled(level)) Py_RETURN_NONE;
  if (!PyUnicode_Check(args[1]) || !PyUnicode_Check(args[2])) {
    PyErr_SetString(PyExc_TypeError, "log_emit: event and msg are str");
    return nullptr;
  }
  // One builder for the strings, the context and the call's fields: the
  // context is its first `scoped` fields.
  FieldBuilder b;
  std::string_view event, msg;
  if (!b.utf8(args[1], event) || !b.utf8(args[2], msg)) return nullptr;
  if (event.empty()) {
    PyErr_SetString(PyExc_ValueError, "log_emit: event is empty");
    return nullptr;
  }
  if (!b.add_pairs(args[3])) return nullptr;
  const std::size_t scoped = b.size();
  detail::LogSite* site = sites().find(event);
  if (!site) {
    site = &sites().overflow();
    if (!b.add("event_name", args[1])) return nullptr;
  }
  if (!b.add_dict(args[4])) return nullptr;
  std::optional<SpanContext> span;
  if (nargs == 6 && args[5] != Py_None) {
    span = unpack_span(args[5]);
    if (!span) return nullptr;
  }
  {
    // The context as the C++ kit's scopes are written: in the schema's order
    // (request_id, http_*, ...), before the call's own fields; the span's
    // ids as the current span's.
    const std::span<const LogField> all = b.fields();
    std::optional<SpanScope> span_scope;
    if (span) span_scope.emplace(*span);
    std::optional<LogScope> scope;
    if (scoped > 0) scope.emplace(all.first(scoped));
    detail::log_emit(*site, level, msg, all.subspan(scoped));
  }
  Py_RETURN_NONE;
}

PyObject* py_log_enabled(PyObject*, PyObject* arg) {
  LogLevel level;
  if (!level_arg(arg, level)) return nullptr;
  return PyBool_FromLong(log_enabled(level) ? 1 : 0);
}

PyObject* py_flush_logs(PyObject*, PyObject*) {
  Py_BEGIN_ALLOW_THREADS flush_logs();
  Py_END_ALLOW_THREADS Py_RETURN_NONE;
}

#define FB_FASTCALL(fn) reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fn))

PyMethodDef log_functions[] = {
    {"log_emit", FB_FASTCALL(log_emit), METH_FASTCALL,
     "log_emit(level, event, msg, context, fields): writes one line through the kit's logger. "
     "level 0 (trace) to 5 (fatal); context a tuple of (key, value) pairs or None; fields a "
     "dict or None."},
    {"log_enabled", py_log_enabled, METH_O,
     "log_enabled(level) -> bool: whether lines at this level are written."},
    {"flush_logs", py_flush_logs, METH_NOARGS,
     "Blocks until every line logged before the call is written."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

bool add_log_functions(PyObject* module) {
  return PyModule_AddFunctions(module, log_functions) == 0;
}

}  // namespace firebreak::python
