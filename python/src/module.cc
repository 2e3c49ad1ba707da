// firebreak._core: the Python binding of libfirebreak (the only translation
// unit that includes pybind11). The pure-Python layer (firebreak/__init__.py)
// re-exports these names and adds conveniences; docs/python.md is the user's
// guide and firebreak/_core.pyi the typed signatures.
//
// Threads and the GIL: the admin server, the health runner and the check
// workers are C++ threads. They take the GIL only to call into Python (a
// health check, a callback gauge) and only for that call. Every binding that
// may wait for such a thread (start, stop, wait, destruction) releases the
// GIL first, so a thread waiting for the GIL never waits for a thread waiting
// for it.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "firebreak/admin.h"
#include "firebreak/exposition.h"
#include "firebreak/health.h"
#include "firebreak/metrics.h"
#include "firebreak/process_metrics.h"
#include "firebreak/service.h"
#include "firebreak/trace.h"
#include "firebreak/workload/http.h"
#include "firebreak/workload/job.h"
#include "firebreak/workload/worker.h"
#include "handles.h"
#include "logs.h"

namespace py = pybind11;

namespace firebreak::python {
namespace {

// Whether C++ threads may still take the GIL (not once the interpreter has
// begun finalizing: PyGILState_Ensure would then end the thread).
bool interpreter_alive() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsInitialized() != 0 && Py_IsFinalizing() == 0;
#else
  return Py_IsInitialized() != 0 && _Py_IsFinalizing() == 0;
#endif
}

// A Python callable that C++ threads call and that may be destroyed on any
// thread, with or without the GIL.
class Callable {
 public:
  explicit Callable(py::object fn) : fn_(std::move(fn)) {}
  ~Callable() {
    if (!interpreter_alive()) {
      fn_.release();  // leaked: nothing may touch Python objects any more
      return;
    }
    py::gil_scoped_acquire gil;
    fn_ = py::object();
  }
  Callable(const Callable&) = delete;
  Callable& operator=(const Callable&) = delete;

  // Calls with the GIL held; the caller holds it.
  template <class... A>
  py::object call(A&&... args) const {
    return fn_(std::forward<A>(args)...);
  }

 private:
  py::object fn_;
};

// "ValueError: boom": the Python exception as a C++ message. With the GIL.
std::string describe(const py::error_already_set& e) {
  std::string type = py::str(e.type().attr("__name__"));
  std::string text = py::str(e.value());
  return text.empty() ? type : type + ": " + text;
}

// A health check calling Python: None or True pass, False fails, (ok, reason)
// gives the reason, an exception fails with "threw: Type: message".
CheckFn python_check(py::object fn) {
  auto callable = std::make_shared<Callable>(std::move(fn));
  return [callable]() -> CheckResult {
    if (!interpreter_alive()) return CheckResult::failure("interpreter shutting down");
    std::string error;
    {
      py::gil_scoped_acquire gil;
      try {
        py::object r = callable->call();
        if (r.is_none()) return CheckResult::success();
        if (py::isinstance<py::tuple>(r) && py::len(r) == 2) {
          auto t = r.cast<py::tuple>();
          if (py::bool_(t[0])) return CheckResult::success();
          return CheckResult::failure(py::str(t[1]));
        }
        return py::bool_(r) ? CheckResult::success() : CheckResult::failure("");
      } catch (py::error_already_set& e) {
        error = describe(e);
      }
    }
    throw std::runtime_error(error);  // Health reports "threw: <error>"
  };
}

// An admin handler calling Python: handler(method, path, query, headers, body)
// returns (status, body) or (status, body, content_type); body str or bytes.
// Raising answers 500 with the exception.
AdminHandler python_admin_handler(py::object fn) {
  auto callable = std::make_shared<Callable>(std::move(fn));
  return [callable](const AdminRequest& req) -> AdminResponse {
    if (!interpreter_alive()) return {.status = 503, .body = "interpreter shutting down\n"};
    std::string error;
    {
      py::gil_scoped_acquire gil;
      try {
        py::dict query;
        for (const auto& [k, v] : req.query)
          if (!query.contains(k)) query[py::str(k)] = v;
        py::dict headers;
        for (const auto& [k, v] : req.headers) headers[py::str(k)] = v;
        py::object r = callable->call(req.method, req.path, query, headers, py::bytes(req.body));
        auto t = r.cast<py::tuple>();
        if (t.size() < 2 || t.size() > 3)
          throw py::value_error("an admin handler returns (status, body[, content_type])");
        AdminResponse out{.status = t[0].cast<int>()};
        out.body = py::isinstance<py::bytes>(t[1]) ? t[1].cast<std::string>()
                                                   : py::str(t[1]).cast<std::string>();
        if (t.size() == 3) out.content_type = t[2].cast<std::string>();
        return out;
      } catch (py::error_already_set& e) {
        error = describe(e);
      } catch (const py::cast_error& e) {
        error = std::string("admin handler returned a wrong type: ") + e.what();
      }
    }
    throw std::runtime_error(error);  // the server answers 500 with it
  };
}

// A callback gauge/counter reading Python; NaN when it raises or is not a number.
std::function<double()> python_reader(py::object fn) {
  auto callable = std::make_shared<Callable>(std::move(fn));
  return [callable]() -> double {
    if (!interpreter_alive()) return std::nan("");
    py::gil_scoped_acquire gil;
    try {
      return py::float_(callable->call()).cast<double>();
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable("firebreak callback metric");
      return std::nan("");
    }
  };
}

std::chrono::milliseconds to_ms(double seconds, const char* what) {
  if (!(seconds > 0) || !std::isfinite(seconds))
    throw std::invalid_argument(std::string(what) + " must be a positive number of seconds");
  return std::chrono::milliseconds(std::max<long long>(1, std::llround(seconds * 1000)));
}

// Owns a Registry or borrows the Service's, keeping the Service alive.
using RegistryRef = std::shared_ptr<Registry>;

// A family: its registry (kept alive), the C++ family and its label names,
// and, when it has no labels, its one series.
template <class Handle>
struct PyFamily : FamilyRef<Handle> {
  RegistryRef registry;
  std::optional<Handle> unlabelled;

  PyFamily(RegistryRef r, Family<Handle>& f, std::vector<std::string> names)
      : FamilyRef<Handle>{&f, std::move(names)}, registry(std::move(r)) {
    if (this->label_names.empty()) unlabelled = f.labels();
  }

  // The handle of an unlabelled family, for family.inc() and the like.
  Handle only() const {
    if (!unlabelled)
      throw std::invalid_argument(this->family->name() +
                                  " has labels: record on family.labels(...), not the family");
    return *unlabelled;
  }
};

ProcessCombine parse_combine(const std::string& text) {
  static const std::pair<const char*, ProcessCombine> kModes[] = {
      {"live_sum", ProcessCombine::kLiveSum}, {"sum", ProcessCombine::kSum},
      {"max", ProcessCombine::kMax},          {"min", ProcessCombine::kMin},
      {"per_pid", ProcessCombine::kPerPid},   {"serving", ProcessCombine::kServing}};
  for (const auto& [name, mode] : kModes)
    if (text == name) return mode;
  throw std::invalid_argument(
      "combine must be live_sum, sum, max, min, per_pid or serving, not \"" + text + "\"");
}

MultiprocessMode parse_multiprocess(const std::string& text) {
  if (text == "auto") return MultiprocessMode::kAuto;
  if (text == "off") return MultiprocessMode::kOff;
  if (text == "serve") return MultiprocessMode::kServe;
  if (text == "join") return MultiprocessMode::kJoin;
  throw std::invalid_argument("multiprocess must be auto, off, serve or join, not \"" + text +
                              "\"");
}

struct SpecArgs {
  std::string name;
  std::string help;
  std::vector<std::string> labels;
  std::string unit;
  std::size_t max_series;
  MetricSpec spec() const { return {name, help, labels, unit, max_series}; }
};

#define FB_SPEC_ARGS                                                                \
  py::arg("name"), py::arg("help"), py::kw_only(), py::arg("labels") = py::tuple(), \
                                                   py::arg("unit") = "",            \
                                                   py::arg("max_series") = kDefaultMaxSeries

// family.labels(...): a vectorcall method (handles.cc) on the pybind11 class.
template <class Handle>
PyObject* family_labels(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                        PyObject* kwnames) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  const auto* family = inst->get_value_and_holder().value_ptr<PyFamily<Handle>>();
  return labels<Handle>(*family, self, args, nargs, kwnames);
}

template <class Handle>
void bind_family(py::module_& m, const char* name, const char* doc) {
  using F = PyFamily<Handle>;
  py::class_<F> cls(m, name, doc);
  static PyMethodDef labels_def = {
      "labels", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&family_labels<Handle>)),
      METH_FASTCALL | METH_KEYWORDS,
      "labels(*values, **by_name)\n--\n\nThe series for these label values (by position, in "
      "declaration order, or by name; non-str values are str()-ed), created on first use. Keep "
      "the returned handle: recording on it takes no lock and no lookup. Raises ValueError on a "
      "wrong count or name."};
  py::object descr = py::reinterpret_steal<py::object>(
      PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), &labels_def));
  if (!descr) throw py::error_already_set();
  py::setattr(cls, "labels", descr);
  cls.def_property_readonly(
         "name", [](const F& f) { return f.family->name(); }, "The family's name.")
      .def_property_readonly(
          "label_names", [](const F& f) { return f.label_names; }, "The declared label names.")
      .def_property_readonly(
          "overflowed", [](const F& f) { return f.family->overflowed(); },
          "Label sets refused so far by the cardinality guard (max_series).");
  // An unlabelled family records on its one series directly.
  if constexpr (std::is_same_v<Handle, Counter>) {
    cls.def(
        "inc", [](const F& f, double v) { f.only().inc(v); }, py::arg("amount") = 1.0,
        "Unlabelled families only: adds to the one series.");
  } else if constexpr (std::is_same_v<Handle, Gauge>) {
    cls.def(
           "set", [](const F& f, double v) { f.only().set(v); }, py::arg("value"),
           "Unlabelled families only: sets the one series.")
        .def(
            "inc", [](const F& f, double v) { f.only().inc(v); }, py::arg("amount") = 1.0,
            "Unlabelled families only.")
        .def(
            "dec", [](const F& f, double v) { f.only().dec(v); }, py::arg("amount") = 1.0,
            "Unlabelled families only.");
  } else {
    cls.def(
        "observe", [](const F& f, double v) { f.only().observe(v); }, py::arg("value"),
        "Unlabelled families only: observes into the one series.");
  }
}

// Holds the C++ Service; destroys it without the GIL (its threads may be
// waiting for it).
struct ServiceBox {
  std::unique_ptr<Service> service;
  ~ServiceBox() {
    if (PyGILState_Check()) {
      py::gil_scoped_release nogil;
      service.reset();
    } else {
      service.reset();
    }
  }
};

class PyService {
 public:
  PyService(const std::string& name, const std::string& version, const std::string& environment,
            const std::string& workload, const std::string& admin_address, double drain_time,
            bool process_metrics, const std::string& multiprocess,
            const std::string& multiprocess_file, bool ready_when_all, unsigned max_processes,
            int multiprocess_master) {
    ServiceOptions options;
    options.name = name;
    options.version = version;
    options.environment = environment;
    auto parsed = parse_workload(workload);
    if (!parsed)
      throw std::invalid_argument("workload must be \"api\", \"worker\" or \"job\", not \"" +
                                  workload + "\"");
    options.workload = *parsed;
    options.admin.address = admin_address;
    if (!(drain_time >= 0) || !std::isfinite(drain_time))
      throw std::invalid_argument("drain_time must be a non-negative number of seconds");
    options.drain_time = std::chrono::milliseconds(std::llround(drain_time * 1000));
    options.handle_signals = false;  // the Python server owns the signals
    options.process_metrics = process_metrics;
    options.tracing = false;  // tracing comes with the Python tracing API
    options.multiprocess = parse_multiprocess(multiprocess);
    options.multiprocess_file = multiprocess_file;
    options.ready_when_all = ready_when_all;
    options.multiprocess_options.max_processes = max_processes;
    options.multiprocess_master = multiprocess_master;
    box_ = std::make_shared<ServiceBox>();
    box_->service = std::make_unique<Service>(std::move(options));
  }

  Service& get() const { return *box_->service; }
  RegistryRef registry() const { return RegistryRef(box_, &get().registry()); }
  std::shared_ptr<Health> health() const { return std::shared_ptr<Health>(box_, &get().health()); }

  // Blocks until stop is requested, running Python signal handlers every
  // 100ms, then drains and stops (without the GIL).
  int wait() {
    while (true) {
      bool stopped;
      {
        py::gil_scoped_release nogil;
        stopped = get().wait_for_stop(std::chrono::milliseconds(100));
      }
      if (stopped) break;
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    }
    py::gil_scoped_release nogil;
    return get().wait();
  }

 private:
  std::shared_ptr<ServiceBox> box_;
};

void bind_health(py::module_& m) {
  using AddFn = void (Health::*)(std::string, CheckFn, CheckOptions);
  auto add = [](AddFn method) {
    return [method](Health& h, std::string name, py::object fn, double timeout, double interval) {
      if (!PyCallable_Check(fn.ptr())) throw py::type_error("check must be callable");
      CheckOptions options{to_ms(timeout, "timeout"), to_ms(interval, "interval")};
      auto check = python_check(std::move(fn));
      py::gil_scoped_release nogil;
      (h.*method)(std::move(name), std::move(check), options);
    };
  };
  py::class_<Health, std::shared_ptr<Health>>(
      m, "Health",
      "Liveness and readiness checks with cached results, the start-up gate and draining. "
      "Obtained from Service.health. Probes read cached results; checks run on C++ threads "
      "that take the GIL only for the call.")
      .def("add_readiness", add(&Health::add_readiness), py::arg("name"), py::arg("check"),
           py::kw_only(), py::arg("timeout") = 1.0, py::arg("interval") = 5.0,
           "Adds a readiness check (a callable with no arguments: None or True passes, False "
           "fails, (False, reason) fails with a reason, raising fails with the exception). It "
           "runs every `interval` seconds; a run longer than `timeout` seconds fails. Raises "
           "ValueError for a bad or duplicate name or a non-positive timeout/interval.")
      .def("add_liveness", add(&Health::add_liveness), py::arg("name"), py::arg("check"),
           py::kw_only(), py::arg("timeout") = 1.0, py::arg("interval") = 5.0,
           "Adds a liveness check, as add_readiness. Liveness must not depend on other services.")
      .def("mark_started", &Health::mark_started, "Opens the start-up gate. Idempotent.")
      .def("start_draining", &Health::start_draining,
           "Readiness becomes false at once, for good. Idempotent.")
      .def_property_readonly("started", &Health::started)
      .def_property_readonly("draining", &Health::draining)
      .def_property_readonly("live", &Health::live, "Whether every liveness check passes.")
      .def_property_readonly("ready", &Health::ready,
                             "started, not draining, and every readiness check passing.")
      .def(
          "report",
          [](const Health& h, const std::string& kind) {
            CheckKind k;
            if (kind == "readiness")
              k = CheckKind::kReadiness;
            else if (kind == "liveness")
              k = CheckKind::kLiveness;
            else
              throw std::invalid_argument("kind must be \"readiness\" or \"liveness\"");
            auto report = h.report(k);
            py::list checks;
            for (const auto& c : report.checks) {
              py::dict d;
              d["name"] = c.name;
              d["ok"] = c.ok;
              d["reason"] = c.reason;
              d["ran"] = c.ran;
              d["duration_seconds"] = std::chrono::duration<double>(c.duration).count();
              checks.append(d);
            }
            py::dict out;
            out["ok"] = report.ok;
            out["checks"] = checks;
            return out;
          },
          py::arg("kind") = "readiness",
          "The cached state: {'ok': bool, 'checks': [{'name', 'ok', 'reason', 'ran', "
          "'duration_seconds'}]}. Never runs a check.");
}

void bind_metrics(py::module_& m) {
  bind_family<Counter>(m, "CounterFamily", "All series of one counter.");
  bind_family<Gauge>(m, "GaugeFamily", "All series of one gauge.");
  bind_family<Histogram>(m, "HistogramFamily", "All series of one histogram.");

  py::class_<Registry, RegistryRef>(
      m, "Registry",
      "Owns metric families and produces scrapes. Service.registry is the one the admin "
      "server's /metrics serves; a Registry() of your own is for tests and embedding.")
      .def(py::init([] { return std::make_shared<Registry>(); }))
      .def(
          "counter",
          [](RegistryRef self, std::string name, std::string help, std::vector<std::string> labels,
             std::string unit, std::size_t max_series) {
            SpecArgs a{std::move(name), std::move(help), std::move(labels), std::move(unit),
                       max_series};
            auto& f = self->counter(a.spec());
            return PyFamily<Counter>(self, f, a.labels);
          },
          FB_SPEC_ARGS,
          "Registers a counter family (the name with or without _total; exposed with it), or "
          "returns the same one again. Raises MetricError (a ValueError) for a bad name, label "
          "or unit, or a conflicting registration.")
      .def(
          "gauge",
          [](RegistryRef self, std::string name, std::string help, std::vector<std::string> labels,
             std::string unit, std::size_t max_series, const std::string& combine) {
            SpecArgs a{std::move(name), std::move(help), std::move(labels), std::move(unit),
                       max_series};
            MetricSpec spec = a.spec();
            spec.combine = parse_combine(combine);
            auto& f = self->gauge(spec);
            return PyFamily<Gauge>(self, f, a.labels);
          },
          FB_SPEC_ARGS, py::arg("combine") = "live_sum",
          "Registers a gauge family, as counter(). `combine`: how the processes of a "
          "multi-process service combine it: \"live_sum\" (default), \"sum\" (exited "
          "processes' last values included), \"max\", \"min\", \"per_pid\" (a pid label) or "
          "\"serving\" (the serving process's value).")
      .def(
          "histogram",
          [](RegistryRef self, std::string name, std::string help, std::vector<std::string> labels,
             std::string unit, std::size_t max_series, std::optional<std::vector<double>> buckets) {
            HistogramSpec spec{.name = std::move(name),
                               .help = std::move(help),
                               .labels = std::move(labels),
                               .unit = std::move(unit),
                               .max_series = max_series};
            if (buckets) spec.buckets = std::move(*buckets);
            auto& f = self->histogram(spec);
            return PyFamily<Histogram>(self, f, spec.labels);
          },
          FB_SPEC_ARGS, py::arg("buckets") = py::none(),
          "Registers a histogram family, as counter(). `buckets`: finite upper bounds, strictly "
          "increasing (+Inf is implicit); default 5ms..10s for request latency.")
      .def(
          "gauge_callback",
          [](Registry& self, std::string name, std::string help, py::object read,
             std::string unit) {
            self.gauge_callback({.name = std::move(name), .help = std::move(help), .unit = unit},
                                python_reader(std::move(read)));
          },
          py::arg("name"), py::arg("help"), py::arg("read"), py::kw_only(), py::arg("unit") = "",
          "An unlabelled gauge whose value `read()` returns at each scrape (called on the "
          "scraping thread with the GIL; an exception gives NaN).")
      .def(
          "counter_callback",
          [](Registry& self, std::string name, std::string help, py::object read,
             std::string unit) {
            self.counter_callback({.name = std::move(name), .help = std::move(help), .unit = unit},
                                  python_reader(std::move(read)));
          },
          py::arg("name"), py::arg("help"), py::arg("read"), py::kw_only(), py::arg("unit") = "",
          "An unlabelled counter whose total `read()` returns at each scrape.")
      .def(
          "expose",
          [](const Registry& self, std::string_view accept) {
            auto format = negotiate_format(accept);
            std::string body;
            {
              py::gil_scoped_release nogil;  // callback metrics take the GIL themselves
              write_exposition(self.collect(), format, body);
            }
            return py::make_tuple(py::bytes(body), std::string(content_type(format)));
          },
          py::arg("accept") = "",
          "A scrape as (body, content_type): Prometheus text 0.0.4, or OpenMetrics 1.0 when "
          "`accept` (an HTTP Accept header) prefers it.");

  m.def(
      "register_process_metrics", [](Registry& r) { register_process_metrics(r); },
      py::arg("registry"),
      "Adds the process_* families (CPU, memory, file descriptors, start time) to a registry. "
      "Once per registry; a Service does it for its own.");
  m.def("is_valid_metric_name", &is_valid_metric_name, py::arg("name"));
  m.def("is_valid_label_name", &is_valid_label_name, py::arg("name"));
}

// The HTTP API metrics without a scope (workload/http.h): the Python
// middleware keeps its own context (contextvars) and writes its own access
// log, so that requests interleaved on one asyncio thread stay apart.
struct PyHttpObserver {
  PyHttpObserver(RegistryRef r, const std::string& unmatched_route, std::size_t max_series)
      : registry(std::move(r)),
        observer(
            *registry,
            {.unmatched_route = unmatched_route, .access_log = false, .max_series = max_series}) {}
  RegistryRef registry;  // outlives the observer's families
  HttpObserver observer;
};

void bind_http(py::module_& m) {
  py::class_<PyHttpObserver>(
      m, "HttpObserver",
      "The HTTP API metrics (http_server_request_duration_seconds, "
      "http_server_active_requests) in a registry, recorded per request without a scope.")
      .def(py::init<RegistryRef, const std::string&, std::size_t>(), py::arg("registry"),
           py::kw_only(), py::arg("unmatched_route") = "unmatched",
           py::arg("max_series") = kDefaultMaxSeries)
      .def(
          "request_started",
          [](PyHttpObserver& o, std::string_view method) { o.observer.request_started(method); },
          py::arg("method"), "A request began: active requests of its method +1.")
      .def(
          "request_finished",
          [](PyHttpObserver& o, std::string_view method, std::string_view route, int status,
             double seconds) { o.observer.request_finished(method, route, status, seconds); },
          py::arg("method"), py::arg("route"), py::arg("status"), py::arg("seconds"),
          "A request ended: active -1, its duration observed under the normalized method, the "
          "route ('' when none matched) and the status.");
  m.def(
      "normalize_http_method",
      [](std::string_view m) { return std::string(normalize_http_method(m)); }, py::arg("method"),
      "The method as metrics record it: a standard method, else '_OTHER'.");
  m.def(
      "is_valid_request_id", [](std::string_view id) { return is_valid_request_id(id); },
      py::arg("request_id"),
      "Whether a client's X-Request-Id is usable as is: 1 to 128 of [A-Za-z0-9._~:+=/@-].");
  m.def("generate_request_id", &generate_request_id, "A new request id: a random UUID v4.");
}

// One run of a job (workload/job.h). Its check-ins and pushes are HTTP with
// retries, so starting and ending release the GIL. The run's log context and
// span are the creating thread's; the Python layer adds job and job_run_id to
// its contextvars too.
struct PyJobRun {
  PyJobRun() = default;
  PyJobRun(const PyJobRun&) = delete;
  PyJobRun& operator=(const PyJobRun&) = delete;
  ~PyJobRun() { close(); }

  // What a run says about itself; kept when it is closed.
  struct Facts {
    bool acquired = false;
    std::string name, run_id;
    std::uint64_t items = 0;
    bool finished = false;
    std::string outcome;
    int exit_status = 0;
    double duration_seconds = 0;
  };
  Facts facts() const {
    if (!run) return closed;
    return {run->acquired(),    run->name(),
            run->run_id(),      run->items(),
            run->finished(),    std::string(to_string(run->outcome())),
            run->exit_status(), run->duration_seconds()};
  }

  JobRun& get() const {
    if (!run) throw std::invalid_argument("the job run is closed");
    return *run;
  }
  // As the C++ destructor: a run not ended is a failure (a check-in, so
  // without the GIL); the lock is released. Its facts stay readable.
  void close() {
    if (!run) return;
    auto end = [this] {
      if (run->acquired() && !run->finished()) run->fail("the run was closed without an end");
      closed = facts();
      run.reset();
    };
    if (PyGILState_Check() && interpreter_alive()) {
      py::gil_scoped_release release;
      end();
    } else {
      end();
    }
  }

  RegistryRef registry;  // null: the run owns its registry
  std::unique_ptr<JobRun> run;
  Facts closed;
};

void bind_job(py::module_& m) {
  py::class_<PyJobRun>(m, "JobRun",
                       "One run of a scheduled job: metrics, check-ins, Pushgateway push, "
                       "overlap lock (docs/python.md, \"Jobs\").")
      .def(py::init([](const std::string& name, RegistryRef registry,
                       const std::string& checkin_url, const std::string& pushgateway_url,
                       const std::string& push_method, const std::string& lock_file,
                       int delivery_attempts, double delivery_timeout) {
             if (push_method != "put" && push_method != "post")
               throw std::invalid_argument("push_method: 'put' or 'post', not '" + push_method +
                                           "'");
             JobOptions o{
                 .name = name,
                 .registry = registry.get(),
                 .checkin_url = checkin_url,
                 .pushgateway_url = pushgateway_url,
                 .push_method = push_method == "post" ? PushMethod::kPost : PushMethod::kPut,
                 .lock_file = lock_file,
                 .delivery_attempts = delivery_attempts,
                 .delivery_timeout = to_ms(delivery_timeout, "delivery_timeout")};
             auto out = std::make_unique<PyJobRun>();
             out->registry = std::move(registry);
             py::gil_scoped_release release;
             out->run = std::make_unique<JobRun>(std::move(o));
             return out;
           }),
           py::kw_only(), py::arg("name"), py::arg("registry") = RegistryRef(),
           py::arg("checkin_url") = "", py::arg("pushgateway_url") = "",
           py::arg("push_method") = "put", py::arg("lock_file") = "",
           py::arg("delivery_attempts") = 3, py::arg("delivery_timeout") = 3.0)
      .def_property_readonly("acquired", [](const PyJobRun& r) { return r.facts().acquired; })
      .def_property_readonly("name", [](const PyJobRun& r) { return r.facts().name; })
      .def_property_readonly("run_id", [](const PyJobRun& r) { return r.facts().run_id; })
      .def_property_readonly("items", [](const PyJobRun& r) { return r.facts().items; })
      .def_property_readonly("finished", [](const PyJobRun& r) { return r.facts().finished; })
      .def_property_readonly("outcome", [](const PyJobRun& r) { return r.facts().outcome; })
      .def_property_readonly("exit_status", [](const PyJobRun& r) { return r.facts().exit_status; })
      .def_property_readonly("duration_seconds",
                             [](const PyJobRun& r) { return r.facts().duration_seconds; })
      .def(
          "add_items", [](PyJobRun& r, std::uint64_t n) { r.get().add_items(n); }, py::arg("n") = 1,
          "Counts processed items (job_items_processed).")
      .def(
          "succeed", [](PyJobRun& r) { return r.get().succeed(); },
          py::call_guard<py::gil_scoped_release>(), "Ends the run as a success; returns 0.")
      .def(
          "fail", [](PyJobRun& r, const std::string& reason) { return r.get().fail(reason); },
          py::arg("reason") = "", py::call_guard<py::gil_scoped_release>(),
          "Ends the run as a failure; returns 1.")
      .def(
          "finish",
          [](PyJobRun& r, int status, const std::string& reason) {
            return r.get().finish(status, reason);
          },
          py::arg("exit_status"), py::arg("reason") = "", py::call_guard<py::gil_scoped_release>(),
          "Ends the run with an exit status (0 a success); returns it.")
      .def("close", &PyJobRun::close,
           "Ends a run that was not ended (a failure) and releases the lock. Idempotent.");
  m.attr("JOB_EXIT_LOCKED") = kJobExitLocked;
}

// A queue's backlog from Python: read() returns None (not readable now) or
// (depth, oldest_enqueued_at) with the enqueue time in Unix seconds (None
// when nothing waits). Called on the scraping thread with the GIL.
QueueStatsFn python_queue_reader(py::object fn) {
  auto callable = std::make_shared<Callable>(std::move(fn));
  return [callable]() -> std::optional<QueueStats> {
    if (!interpreter_alive()) return std::nullopt;
    py::gil_scoped_acquire gil;
    try {
      py::object r = callable->call();
      if (r.is_none()) return std::nullopt;
      auto t = r.cast<py::tuple>();
      if (t.size() != 2) throw py::value_error("queue stats: (depth, oldest_enqueued_at)");
      QueueStats stats{.depth = t[0].cast<std::uint64_t>()};
      if (!t[1].is_none()) {
        const double at = t[1].cast<double>();
        if (!std::isfinite(at)) throw py::value_error("queue stats: oldest_enqueued_at not finite");
        stats.oldest_enqueued_at =
            Clock::WallTime(std::chrono::duration_cast<Clock::WallTime::duration>(
                std::chrono::duration<double>(at)));
      }
      return stats;
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable("firebreak queue stats");
    } catch (const std::exception& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
      PyErr_WriteUnraisable(nullptr);
    }
    return std::nullopt;
  };
}

// The worker observer (workload/worker.h) and its per-message scope. A
// message scope's span and log context are the creating thread's.
struct PyWorkerObserver {
  PyWorkerObserver(RegistryRef r, bool log_messages)
      : registry(std::move(r)), observer(*registry, {.log_messages = log_messages}) {}
  RegistryRef registry;  // outlives the observer
  WorkerObserver observer;
};

// The C++ scope's log context is a stack on the thread: it must end before a
// later message's begins, not when Python collects the object, so close()
// ends it at the end of the `with` block.
struct PyMessageScope {
  PyMessageScope(std::shared_ptr<PyWorkerObserver> w, std::string_view queue,
                 std::string_view message_id, const std::map<std::string, std::string>& headers)
      : worker(std::move(w)) {
    scope.emplace(worker->observer, queue, message_id, headers);
    trace_id = scope->span_context().trace_id;
  }
  MessageScope& get() {
    if (!scope) throw std::invalid_argument("the message is closed");
    return *scope;
  }
  std::string close() {
    if (!scope) return outcome;
    outcome = std::string(to_string(scope->finish()));
    scope.reset();
    return outcome;
  }

  std::shared_ptr<PyWorkerObserver> worker;  // outlives the scope
  std::optional<MessageScope> scope;
  TraceId trace_id;     // kept for after close; hex only when asked
  std::string outcome;  // once closed
};

MessageOutcome parse_outcome(const std::string& outcome) {
  for (MessageOutcome o :
       {MessageOutcome::kOk, MessageOutcome::kError, MessageOutcome::kRetry, MessageOutcome::kDead})
    if (outcome == to_string(o)) return o;
  throw std::invalid_argument("outcome: ok, error, retry or dead, not '" + outcome + "'");
}

void bind_worker(py::module_& m) {
  py::class_<PyWorkerObserver, std::shared_ptr<PyWorkerObserver>>(
      m, "WorkerObserver",
      "A queue consumer's heartbeat, per-message scopes and queue backlog (docs/python.md, "
      "\"Workers\").")
      .def(py::init<RegistryRef, bool>(), py::arg("registry"), py::kw_only(),
           py::arg("log_messages") = true)
      .def(
          "heartbeat", [](PyWorkerObserver& w) { w.observer.heartbeat(); },
          "One turn of the consumer loop, with or without a message.")
      .def(
          "watch_queue",
          [](PyWorkerObserver& w, std::string_view queue, py::object read) {
            w.observer.watch_queue(queue, python_queue_reader(std::move(read)));
          },
          py::arg("queue"), py::arg("read"),
          "Reads the queue's backlog at each scrape: read() returns None or (depth, "
          "oldest_enqueued_at), the enqueue time of the oldest waiting message in Unix seconds "
          "(None when empty).")
      .def(
          "unwatch_queue",
          [](PyWorkerObserver& w, std::string_view queue) { w.observer.unwatch_queue(queue); },
          py::arg("queue"));
  py::class_<PyMessageScope>(m, "MessageScope", "One message in hand.")
      .def(py::init<std::shared_ptr<PyWorkerObserver>, std::string_view, std::string_view,
                    const std::map<std::string, std::string>&>(),
           py::arg("worker"), py::arg("queue"), py::arg("message_id"),
           py::arg("headers") = std::map<std::string, std::string>())
      .def(
          "set_outcome",
          [](PyMessageScope& s, const std::string& outcome, std::string_view reason) {
            s.get().set_outcome(parse_outcome(outcome), reason);
          },
          py::arg("outcome"), py::arg("reason") = "",
          "ok, error, retry or dead; the last call before the end wins.")
      .def("close", &PyMessageScope::close,
           "Records the message (once) and ends its span and log context; returns the outcome.")
      .def_property_readonly("closed", [](const PyMessageScope& s) { return !s.scope; })
      .def_property_readonly("trace_id", [](const PyMessageScope& s) {
        return s.trace_id.valid() ? s.trace_id.to_hex() : std::string();
      });
}

// Tracing (trace.h). A span context crosses into Python as a SpanContext
// object; `packed` (trace id, span id, flags: 25 bytes) is what log_emit
// takes to write a line's trace ids without parsing hex. The current span of
// Python code lives in a contextvar (firebreak/_trace.py), not in the C++
// thread-local, so that asyncio tasks on one thread keep theirs apart.
struct PySpanContext {
  SpanContext context;
  py::bytes packed() const {
    char out[TraceId::kSize + SpanId::kSize + 1];
    std::memcpy(out, context.trace_id.bytes().data(), TraceId::kSize);
    std::memcpy(out + TraceId::kSize, context.span_id.bytes().data(), SpanId::kSize);
    out[TraceId::kSize + SpanId::kSize] = static_cast<char>(context.trace_flags);
    return py::bytes(out, sizeof out);
  }
};

struct PySpan {
  Span span;
};

SpanKind parse_span_kind(const std::string& kind) {
  static const std::pair<const char*, SpanKind> kKinds[] = {{"internal", SpanKind::kInternal},
                                                            {"server", SpanKind::kServer},
                                                            {"client", SpanKind::kClient},
                                                            {"producer", SpanKind::kProducer},
                                                            {"consumer", SpanKind::kConsumer}};
  for (const auto& [name, k] : kKinds)
    if (kind == name) return k;
  throw std::invalid_argument("kind: internal, server, client, producer or consumer, not '" + kind +
                              "'");
}

// Attribute values from Python: str, bool, int, float; others as str().
struct PyAttributes {
  explicit PyAttributes(const py::dict& d) {
    strings.reserve(2 * d.size());  // views into it must not move
    for (auto [k, v] : d) {
      strings.push_back(py::str(k));
      const std::string_view key = strings.back();
      if (py::isinstance<py::bool_>(v)) {
        views.push_back({key, v.cast<bool>()});
      } else if (py::isinstance<py::int_>(v)) {
        views.push_back({key, v.cast<std::int64_t>()});
      } else if (py::isinstance<py::float_>(v)) {
        views.push_back({key, v.cast<double>()});
      } else {
        strings.push_back(py::str(v));
        views.push_back({key, std::string_view(strings.back())});
      }
    }
  }
  std::vector<std::string> strings;
  std::vector<AttributeView> views;
};

void set_py_attribute(Span& span, const std::string& key, const py::object& v) {
  if (py::isinstance<py::bool_>(v)) {
    span.set_attribute(key, v.cast<bool>());
  } else if (py::isinstance<py::int_>(v)) {
    span.set_attribute(key, v.cast<std::int64_t>());
  } else if (py::isinstance<py::float_>(v)) {
    span.set_attribute(key, v.cast<double>());
  } else {
    span.set_attribute(key, std::string(py::str(v)));
  }
}

void bind_trace(py::module_& m) {
  py::class_<PySpanContext>(m, "SpanContext", "A span's W3C trace context (immutable).")
      .def_property_readonly("trace_id",
                             [](const PySpanContext& c) { return c.context.trace_id.to_hex(); })
      .def_property_readonly("span_id",
                             [](const PySpanContext& c) { return c.context.span_id.to_hex(); })
      .def_property_readonly("trace_flags",
                             [](const PySpanContext& c) { return c.context.trace_flags; })
      .def_property_readonly("sampled", [](const PySpanContext& c) { return c.context.sampled(); })
      .def_property_readonly("is_remote",
                             [](const PySpanContext& c) { return c.context.is_remote; })
      .def_property_readonly("valid", [](const PySpanContext& c) { return c.context.valid(); })
      .def_property_readonly("packed", &PySpanContext::packed)
      .def_property_readonly("traceparent",
                             [](const PySpanContext& c) {
                               return c.context.valid() ? format_traceparent(c.context)
                                                        : std::string();
                             })
      .def_property_readonly("tracestate",
                             [](const PySpanContext& c) { return c.context.trace_state.header(); });
  m.def(
      "extract",
      [](const py::dict& headers) {
        TraceContextExtractor extractor;
        for (auto [k, v] : headers) extractor.add(std::string(py::str(k)), std::string(py::str(v)));
        return PySpanContext{extractor.context()};
      },
      py::arg("headers"),
      "The remote context in traceparent/tracestate (names case-insensitive); invalid when "
      "missing or malformed.");
  m.def(
      "inject",
      [](const PySpanContext& c) {
        py::dict out;
        inject(c.context, [&](std::string_view name, std::string_view value) {
          out[py::str(std::string(name))] = std::string(value);
        });
        return out;
      },
      py::arg("context"), "{'traceparent': ..., 'tracestate': ...} for a valid context, else {}.");
  py::class_<PySpan>(m, "Span", "A span in progress; ends at end().")
      .def_property_readonly("context",
                             [](const PySpan& s) { return PySpanContext{s.span.context()}; })
      .def_property_readonly("is_recording", [](const PySpan& s) { return s.span.is_recording(); })
      .def(
          "set_attribute",
          [](PySpan& s, const std::string& key, const py::object& value) {
            set_py_attribute(s.span, key, value);
          },
          py::arg("key"), py::arg("value"))
      .def(
          "add_event",
          [](PySpan& s, const std::string& name, const py::dict& attributes) {
            PyAttributes a(attributes);
            s.span.add_event(name, std::span<const AttributeView>(a.views));
          },
          py::arg("name"), py::arg("attributes") = py::dict())
      .def(
          "add_link",
          [](PySpan& s, const PySpanContext& c, const py::dict& attributes) {
            PyAttributes a(attributes);
            s.span.add_link(c.context, std::span<const AttributeView>(a.views));
          },
          py::arg("context"), py::arg("attributes") = py::dict())
      .def(
          "set_status",
          [](PySpan& s, const std::string& code, const std::string& message) {
            if (code == "ok")
              s.span.set_status(StatusCode::kOk);
            else if (code == "error")
              s.span.set_status(StatusCode::kError, message);
            else if (code != "unset")
              throw std::invalid_argument("status: ok, error or unset, not '" + code + "'");
          },
          py::arg("code"), py::arg("message") = "")
      .def(
          "set_name", [](PySpan& s, const std::string& name) { s.span.set_name(name); },
          py::arg("name"))
      .def(
          "end", [](PySpan& s) { s.span.end(); }, "Ends the span; later calls do nothing.");
  m.def(
      "start_span",
      [](const std::string& name, const std::string& kind, const PySpanContext* parent) {
        SpanOptions o{.kind = parse_span_kind(kind)};
        // None: the span current on this thread (a C++ scope, e.g. a job run's)
        // is the parent, or none.
        if (parent) o.parent = parent->context;
        return PySpan{start_span(name, o)};
      },
      py::arg("name"), py::arg("kind") = "internal", py::arg("parent") = nullptr,
      "Starts a span on the global tracer (see init_tracing).");
  py::class_<Tracing>(m, "Tracing", "What init_tracing() set up; shut it down at exit.")
      .def_property_readonly("enabled", &Tracing::enabled)
      .def_property_readonly("exporter", [](const Tracing& t) { return t.status().exporter; })
      .def_property_readonly("destination", [](const Tracing& t) { return t.status().destination; })
      .def_property_readonly("sampler", [](const Tracing& t) { return t.status().sampler; })
      .def(
          "flush",
          [](const Tracing& t, double timeout) { return t.flush(to_ms(timeout, "timeout")); },
          py::arg("timeout") = 5.0, py::call_guard<py::gil_scoped_release>())
      .def("shutdown", &Tracing::shutdown, py::call_guard<py::gil_scoped_release>());
  py::register_exception<TraceConfigError>(m, "TraceConfigError", PyExc_ValueError);
  m.def(
      "init_tracing",
      [](const std::string& service_name, const std::string& service_version,
         const std::string& environment, RegistryRef registry) {
        // The registry must outlive the tracing: kept by the returned object's
        // owner (firebreak.init_tracing keeps both).
        return init_tracing({.service_name = service_name,
                             .service_version = service_version,
                             .environment = environment,
                             .registry = registry.get()});
      },
      py::kw_only(), py::arg("service_name") = "", py::arg("service_version") = "",
      py::arg("environment") = "", py::arg("registry") = RegistryRef(),
      "Builds the global tracer from the arguments and OTEL_* (as the C++ kit); raises "
      "TraceConfigError (a ValueError) for configuration it cannot use.");
}

void bind_service(py::module_& m) {
  py::class_<PyService>(
      m, "Service",
      "A service's identity, metrics registry, health and admin server (/livez, /readyz, "
      "/healthz, /metrics on C++ threads). Installs no signal handler.")
      .def(py::init<const std::string&, const std::string&, const std::string&, const std::string&,
                    const std::string&, double, bool, const std::string&, const std::string&, bool,
                    unsigned, int>(),
           py::kw_only(), py::arg("name") = "", py::arg("version") = "",
           py::arg("environment") = "", py::arg("workload") = "api",
           py::arg("admin_address") = "127.0.0.1:9464", py::arg("drain_time") = 5.0,
           py::arg("process_metrics") = true, py::arg("multiprocess") = "auto",
           py::arg("multiprocess_file") = "", py::arg("ready_when_all") = true,
           py::arg("max_processes") = 64, py::arg("multiprocess_master") = 0)
      .def_property_readonly("name", [](const PyService& s) { return s.get().identity().name; })
      .def_property_readonly("version",
                             [](const PyService& s) { return s.get().identity().version; })
      .def_property_readonly("environment",
                             [](const PyService& s) { return s.get().identity().environment; })
      .def_property_readonly(
          "workload",
          [](const PyService& s) { return std::string(to_string(s.get().identity().workload)); })
      .def_property_readonly("registry", &PyService::registry,
                             "The registry the admin server's /metrics serves.")
      .def_property_readonly("health", &PyService::health, "The service's Health.")
      .def(
          "start", [](PyService& s) { s.get().start(); }, py::call_guard<py::gil_scoped_release>(),
          "Starts the admin server and the health runner. Raises AdminError (an OSError) when "
          "the address cannot be bound.")
      .def_property_readonly(
          "admin_address", [](const PyService& s) { return s.get().admin_address(); },
          "The bound host:port; '' before start().")
      .def(
          "mark_started", [](PyService& s) { s.get().mark_started(); },
          "Opens the start-up gate: ready once every readiness check passes.")
      .def(
          "drain", [](PyService& s) { s.get().request_stop(); },
          py::call_guard<py::gil_scoped_release>(),
          "Begins shutdown: not ready at once; wait() returns after the drain time. A second "
          "call ends the drain early. Safe from any thread and from a Python signal handler.")
      .def_property_readonly(
          "stop_requested", [](const PyService& s) { return s.get().stop_requested(); },
          "Whether drain() was called.")
      .def(
          "wait_for_stop",
          [](const PyService& s, double timeout) {
            return s.get().wait_for_stop(std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::duration<double>(std::max(0.0, timeout))));
          },
          py::arg("timeout"), py::call_guard<py::gil_scoped_release>(),
          "Waits up to `timeout` seconds for drain(); True if it was called.")
      .def(
          "add_admin_handler",
          [](PyService& s, std::string method, std::string path, py::object handler) {
            if (!PyCallable_Check(handler.ptr())) throw py::type_error("handler must be callable");
            auto fn = python_admin_handler(std::move(handler));
            py::gil_scoped_release nogil;
            s.get().admin().add_handler(std::move(method), std::move(path), std::move(fn));
          },
          py::arg("method"), py::arg("path"), py::arg("handler"),
          "Routes `method` on the exact admin `path` (e.g. \"POST\", \"/fault\") to "
          "handler(method, path, query, headers, body) -> (status, body[, content_type]), run on "
          "an admin thread with the GIL. Raises AdminError (an OSError) for a taken route.")
      .def("wait", &PyService::wait,
           "Blocks until drain() (Python signal handlers still run), waits the drain time "
           "(/readyz answers 503), stops the admin server and returns 0.");
}

}  // namespace
}  // namespace firebreak::python

PYBIND11_MODULE(_core, m) {
  using namespace firebreak;
  using namespace firebreak::python;
  m.doc() = "Firebreak's C++ core for Python: metrics, health and the admin server.";
  auto& metric_error = py::register_exception<MetricError>(m, "MetricError", PyExc_ValueError);
  if (!add_handle_types(m.ptr(), metric_error.ptr())) throw py::error_already_set();
  if (!add_log_functions(m.ptr())) throw py::error_already_set();
  py::register_exception<AdminError>(m, "AdminError", PyExc_OSError);
  py::register_exception<MultiprocessError>(m, "MultiprocessError", PyExc_OSError);
  bind_metrics(m);
  bind_health(m);
  bind_service(m);
  bind_http(m);
  bind_job(m);
  bind_worker(m);
  bind_trace(m);
}
