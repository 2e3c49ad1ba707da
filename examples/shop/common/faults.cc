#include "common/faults.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "common/problem.h"
#include "firebreak/admin.h"
#include "firebreak/log.h"

namespace shop {

FaultSwitches::FaultSwitches(std::vector<FaultSpec> specs) {
  for (auto& spec : specs) faults_.emplace_back(std::move(spec));
}

Fault* FaultSwitches::find(std::string_view name) {
  for (Fault& f : faults_)
    if (f.spec().name == name) return &f;
  return nullptr;
}

const Fault& FaultSwitches::get(std::string_view name) const {
  for (const Fault& f : faults_)
    if (f.spec().name == name) return f;
  throw std::invalid_argument(fmt::format("unknown fault switch \"{}\"", name));
}

std::string FaultSwitches::known() const {
  std::string out;
  for (const Fault& f : faults_) {
    if (!out.empty()) out += ", ";
    out += f.spec().name;
    out += f.spec().kind == FaultKind::kBool ? " (true|false)"
                                             : fmt::format(" ({}..{})", f.spec().min, f.spec().max);
  }
  return out;
}

std::string FaultSwitches::check(const Fault& fault, double value) {
  const FaultSpec& spec = fault.spec();
  if (value == 0) return {};  // always allowed: off
  if (spec.kind == FaultKind::kBool)
    return value == 1 ? "" : fmt::format("{} takes true or false", spec.name);
  if (!(value >= spec.min && value <= spec.max))
    return fmt::format("{} must be between {} and {} (0 clears it)", spec.name, spec.min, spec.max);
  return {};
}

void FaultSwitches::set(Fault& fault, double value) {
  const double old = fault.value_.exchange(value, std::memory_order_relaxed);
  fault.gauge_.set(value);
  if (old != value)
    FB_LOG_WARN("fault_set", "fault switch changed", {"fault", fault.spec().name}, {"value", value},
                {"previous", old});
}

void FaultSwitches::set_from_flag(std::string_view flag) {
  const auto eq = flag.find('=');
  const std::string_view name = flag.substr(0, eq);
  Fault* fault = find(name);
  if (!fault)
    throw std::invalid_argument(
        fmt::format("--fault {}: unknown switch; known: {}", name, known()));
  double value = 1;
  if (eq != std::string_view::npos) {
    const std::string_view text = flag.substr(eq + 1);
    if (text == "true") {
      value = 1;
    } else if (text == "false") {
      value = 0;
    } else {
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size())
        throw std::invalid_argument(fmt::format("--fault {}: \"{}\" is not a number", name, text));
    }
  } else if (fault->spec().kind == FaultKind::kNumber) {
    throw std::invalid_argument(
        fmt::format("--fault {} needs a value, e.g. {}={}", name, name, fault->spec().max));
  }
  if (auto why = check(*fault, value); !why.empty()) throw std::invalid_argument("--fault " + why);
  set(*fault, value);
}

std::string FaultSwitches::apply_json(std::string_view body) {
  const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object())
    return "the body must be a JSON object of switches, e.g. {\"" + faults_.front().spec().name +
           "\": true}";
  std::vector<std::pair<Fault*, double>> changes;
  for (const auto& [name, v] : json.items()) {
    Fault* fault = find(name);
    if (!fault) return fmt::format("unknown switch \"{}\"; known: {}", name, known());
    double value = 0;
    if (v.is_boolean())
      value = v.get<bool>() ? 1 : 0;
    else if (v.is_number())
      value = v.get<double>();
    else
      return fmt::format("{} must be a boolean or a number", name);
    if (fault->spec().kind == FaultKind::kNumber && v.is_boolean() && value != 0)
      return fmt::format("{} takes a number (true is not one)", name);
    if (auto why = check(*fault, value); !why.empty()) return why;
    changes.emplace_back(fault, value);
  }
  for (auto& [fault, value] : changes) set(*fault, value);
  return {};
}

std::string FaultSwitches::active_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const Fault& f : faults_) {
    if (!f.on()) continue;
    const double v = f.value();
    if (f.spec().kind == FaultKind::kBool)
      out[f.spec().name] = true;
    else if (v == std::floor(v) && std::abs(v) < 1e15)
      out[f.spec().name] = static_cast<std::int64_t>(v);  // 300, not 300.0
    else
      out[f.spec().name] = v;
  }
  return out.dump();
}

void FaultSwitches::install(firebreak::AdminServer& admin, firebreak::Registry& registry) {
  auto& family = registry.gauge({.name = "shop_fault_value",
                                 .help = "Current value of each fault switch (0 = off). Set for "
                                         "demos and tests only.",
                                 .labels = {"fault"}});
  for (Fault& f : faults_) {
    f.gauge_ = family.labels(f.spec().name);
    f.gauge_.set(f.value());
  }
  auto json_response = [](int status, std::string body) {
    return firebreak::AdminResponse{
        .status = status, .content_type = "application/json", .body = std::move(body) + "\n"};
  };
  admin.add_handler("GET", "/fault", [this, json_response](const firebreak::AdminRequest&) {
    return json_response(200, active_json());
  });
  admin.add_handler("POST", "/fault", [this, json_response](const firebreak::AdminRequest& req) {
    if (auto why = apply_json(req.body); !why.empty()) {
      const Problem p = Problem::bad_request(why);
      return firebreak::AdminResponse{
          .status = p.status, .content_type = std::string(kProblemJson), .body = p.json() + "\n"};
    }
    return json_response(200, active_json());
  });
}

}  // namespace shop
