// The metric handle types of firebreak._core (Counter, Gauge, Histogram) and
// family.labels(...), written against the CPython API rather than pybind11:
// they are the recording paths, and a vectorcall method with no argument
// parsing layer costs a fraction of a pybind11 call (bench/RESULTS.md,
// "Python package"). Everything else is bound with pybind11 in module.cc.
//
// Thread-safety: as the C++ handles (recording takes no lock); every function
// here is called with the GIL held.
#pragma once

#include <Python.h>

#include <string>
#include <vector>

#include "firebreak/metrics.h"

namespace firebreak::python {

// A family as the Python layer sees it: the C++ family and its label names.
template <class Handle>
struct FamilyRef {
  Family<Handle>* family = nullptr;
  std::vector<std::string> label_names;
};

// Adds the types Counter, Gauge and Histogram to `module`, and remembers
// `metric_error` (the Python MetricError) for labels(). Returns false with a
// Python error set.
bool add_handle_types(PyObject* module, PyObject* metric_error);

// A new Python handle for `handle`; `owner` (the family's Python object,
// which keeps the registry alive) is referenced until the handle dies.
PyObject* wrap_handle(Counter handle, PyObject* owner);
PyObject* wrap_handle(Gauge handle, PyObject* owner);
PyObject* wrap_handle(Histogram handle, PyObject* owner);

// family.labels(*values, **by_name) as a vectorcall method body: values are
// str (used as they are) or anything else (str() of it). Returns a new handle
// or nullptr with ValueError/MetricError set.
template <class Handle>
PyObject* labels(const FamilyRef<Handle>& ref, PyObject* self, PyObject* const* args,
                 Py_ssize_t nargs, PyObject* kwnames);

}  // namespace firebreak::python
