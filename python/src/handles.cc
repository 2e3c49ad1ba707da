#include "handles.h"

#include <array>
#include <cmath>
#include <exception>
#include <span>
#include <string_view>

namespace firebreak::python {
namespace {

PyObject* g_metric_error = nullptr;

template <class Handle>
struct HandleObject {
  PyObject_HEAD Handle handle;
  PyObject* owner;
};

template <class Handle>
void handle_dealloc(PyObject* self) {
  auto* h = reinterpret_cast<HandleObject<Handle>*>(self);
  Py_XDECREF(h->owner);
  Py_TYPE(self)->tp_free(self);
}

template <class Handle>
Handle& handle_of(PyObject* self) {
  return reinterpret_cast<HandleObject<Handle>*>(self)->handle;
}

// The optional amount argument of inc/dec: `default_value` when absent.
// Returns false with TypeError set for a non-number or too many arguments.
bool amount_arg(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, double default_value,
                double& out) {
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  if (nargs + nkw == 0) {
    out = default_value;
    return true;
  }
  if (nargs + nkw > 1 ||
      (nkw == 1 && PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "amount") != 0)) {
    PyErr_SetString(PyExc_TypeError, "takes one optional argument, amount");
    return false;
  }
  out = PyFloat_AsDouble(args[0]);
  return !(out == -1.0 && PyErr_Occurred());
}

PyObject* counter_inc(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (nargs == 0 && kwnames == nullptr) {
    handle_of<Counter>(self).inc();
    Py_RETURN_NONE;
  }
  double v;
  if (!amount_arg(args, nargs, kwnames, 1, v)) return nullptr;
  handle_of<Counter>(self).inc(v);
  Py_RETURN_NONE;
}

PyObject* counter_value(PyObject* self, void*) {
  return PyFloat_FromDouble(handle_of<Counter>(self).value());
}

template <bool kDec>
PyObject* gauge_add(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  double v;
  if (!amount_arg(args, nargs, kwnames, 1, v)) return nullptr;
  if (kDec)
    handle_of<Gauge>(self).dec(v);
  else
    handle_of<Gauge>(self).inc(v);
  Py_RETURN_NONE;
}

PyObject* gauge_set(PyObject* self, PyObject* arg) {
  double v = PyFloat_AsDouble(arg);
  if (v == -1.0 && PyErr_Occurred()) return nullptr;
  handle_of<Gauge>(self).set(v);
  Py_RETURN_NONE;
}

PyObject* gauge_set_to_current_time(PyObject* self, PyObject*) {
  handle_of<Gauge>(self).set_to_current_time();
  Py_RETURN_NONE;
}

PyObject* gauge_value(PyObject* self, void*) {
  return PyFloat_FromDouble(handle_of<Gauge>(self).value());
}

PyObject* histogram_observe(PyObject* self, PyObject* arg) {
  double v = PyFloat_AsDouble(arg);
  if (v == -1.0 && PyErr_Occurred()) return nullptr;
  handle_of<Histogram>(self).observe(v);
  Py_RETURN_NONE;
}

PyObject* histogram_count(PyObject* self, void*) {
  return PyLong_FromUnsignedLongLong(handle_of<Histogram>(self).count());
}

PyObject* histogram_sum(PyObject* self, void*) {
  return PyFloat_FromDouble(handle_of<Histogram>(self).sum());
}

#define FB_FASTCALL(fn) reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fn))

PyMethodDef counter_methods[] = {
    {"inc", FB_FASTCALL(counter_inc), METH_FASTCALL | METH_KEYWORDS,
     "inc(amount=1)\n--\n\nAdds `amount` (default 1); negative and NaN amounts are ignored (a "
     "counter never goes down). Takes no lock and never raises for a number."},
    {nullptr, nullptr, 0, nullptr}};
PyGetSetDef counter_getset[] = {{"value", counter_value, nullptr, "The current total.", nullptr},
                                {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMethodDef gauge_methods[] = {
    {"set", gauge_set, METH_O, "set(value)\n--\n\nSets the value."},
    {"inc", FB_FASTCALL(gauge_add<false>), METH_FASTCALL | METH_KEYWORDS,
     "inc(amount=1)\n--\n\nAdds `amount`."},
    {"dec", FB_FASTCALL(gauge_add<true>), METH_FASTCALL | METH_KEYWORDS,
     "dec(amount=1)\n--\n\nSubtracts `amount`."},
    {"set_to_current_time", gauge_set_to_current_time, METH_NOARGS,
     "set_to_current_time()\n--\n\nSets the value to the current Unix time in seconds."},
    {nullptr, nullptr, 0, nullptr}};
PyGetSetDef gauge_getset[] = {{"value", gauge_value, nullptr, "The current value.", nullptr},
                              {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMethodDef histogram_methods[] = {
    {"observe", histogram_observe, METH_O,
     "observe(value)\n--\n\nCounts `value` into its bucket and the sum; NaN is ignored. Takes "
     "no lock."},
    {nullptr, nullptr, 0, nullptr}};
PyGetSetDef histogram_getset[] = {
    {"count", histogram_count, nullptr, "Observations so far.", nullptr},
    {"sum", histogram_sum, nullptr, "Sum of the observations.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

template <class Handle>
PyTypeObject make_type(const char* name, const char* doc, PyMethodDef* methods,
                       PyGetSetDef* getset) {
  PyTypeObject t = {PyVarObject_HEAD_INIT(nullptr, 0)};
  t.tp_name = name;
  t.tp_basicsize = sizeof(HandleObject<Handle>);
  t.tp_dealloc = handle_dealloc<Handle>;
  t.tp_flags = Py_TPFLAGS_DEFAULT;
  t.tp_doc = doc;
  t.tp_methods = methods;
  t.tp_getset = getset;
  return t;
}

PyTypeObject counter_type = make_type<Counter>(
    "firebreak.Counter",
    "A handle to one counter series, from CounterFamily.labels(...). Keep it: recording takes "
    "no lock and no lookup.",
    counter_methods, counter_getset);
PyTypeObject gauge_type = make_type<Gauge>(
    "firebreak.Gauge", "A handle to one gauge series, from GaugeFamily.labels(...).", gauge_methods,
    gauge_getset);
PyTypeObject histogram_type = make_type<Histogram>(
    "firebreak.Histogram",
    "A handle to one histogram series, from HistogramFamily.labels(...). Observing takes no "
    "lock.",
    histogram_methods, histogram_getset);

template <class Handle>
PyObject* wrap(PyTypeObject* type, Handle handle, PyObject* owner) {
  auto* obj = PyObject_New(HandleObject<Handle>, type);
  if (obj == nullptr) return nullptr;
  new (&obj->handle) Handle(handle);
  Py_XINCREF(owner);
  obj->owner = owner;
  return reinterpret_cast<PyObject*>(obj);
}

// Label values as UTF-8 views; non-str values are str()-ed and kept alive here.
class LabelValues {
 public:
  ~LabelValues() {
    for (PyObject* o : keep_) Py_DECREF(o);
  }
  bool add(PyObject* value) {
    if (!PyUnicode_Check(value)) {
      value = PyObject_Str(value);
      if (value == nullptr) return false;
      keep_.push_back(value);
    }
    Py_ssize_t size;
    const char* data = PyUnicode_AsUTF8AndSize(value, &size);
    if (data == nullptr) return false;
    views_.emplace_back(data, static_cast<std::size_t>(size));
    return true;
  }
  std::span<const std::string_view> views() const { return views_; }

 private:
  std::vector<std::string_view> views_;
  std::vector<PyObject*> keep_;
};

PyObject* value_error(PyObject* type, const std::string& message) {
  PyErr_SetString(type, message.c_str());
  return nullptr;
}

}  // namespace

PyObject* wrap_handle(Counter handle, PyObject* owner) {
  return wrap(&counter_type, handle, owner);
}
PyObject* wrap_handle(Gauge handle, PyObject* owner) {
  return wrap(&gauge_type, handle, owner);
}
PyObject* wrap_handle(Histogram handle, PyObject* owner) {
  return wrap(&histogram_type, handle, owner);
}

template <class Handle>
PyObject* labels(const FamilyRef<Handle>& ref, PyObject* self, PyObject* const* args,
                 Py_ssize_t nargs, PyObject* kwnames) {
  const auto& name = ref.family->name();
  LabelValues values;
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  if (nkw == 0) {
    for (Py_ssize_t i = 0; i < nargs; ++i)
      if (!values.add(args[i])) return nullptr;
  } else {
    if (nargs > 0)
      return value_error(PyExc_ValueError,
                         name + ": pass label values by position or by name, not both");
    for (const auto& label : ref.label_names) {
      PyObject* found = nullptr;
      for (Py_ssize_t i = 0; i < nkw; ++i)
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, i), label.c_str()) == 0)
          found = args[i];
      if (found == nullptr) return value_error(PyExc_ValueError, name + ": missing label " + label);
      if (!values.add(found)) return nullptr;
    }
    if (static_cast<std::size_t>(nkw) != ref.label_names.size())
      return value_error(PyExc_ValueError, name + ": unknown label name");
  }
  try {
    return wrap_handle(ref.family->labels(values.views()), self);
  } catch (const MetricError& e) {
    return value_error(g_metric_error, e.what());
  } catch (const std::exception& e) {
    return value_error(PyExc_RuntimeError, e.what());
  }
}

template PyObject* labels(const FamilyRef<Counter>&, PyObject*, PyObject* const*, Py_ssize_t,
                          PyObject*);
template PyObject* labels(const FamilyRef<Gauge>&, PyObject*, PyObject* const*, Py_ssize_t,
                          PyObject*);
template PyObject* labels(const FamilyRef<Histogram>&, PyObject*, PyObject* const*, Py_ssize_t,
                          PyObject*);

bool add_handle_types(PyObject* module, PyObject* metric_error) {
  g_metric_error = metric_error;
  std::array<std::pair<const char*, PyTypeObject*>, 3> types = {
      {{"Counter", &counter_type}, {"Gauge", &gauge_type}, {"Histogram", &histogram_type}}};
  for (auto [name, type] : types) {
    if (PyType_Ready(type) < 0) return false;
    Py_INCREF(type);
    if (PyModule_AddObject(module, name, reinterpret_cast<PyObject*>(type)) < 0) {
      Py_DECREF(type);
      return false;
    }
  }
  return true;
}

}  // namespace firebreak::python
