// The built-in samplers and their configuration from OTEL_TRACES_SAMPLER.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "firebreak/trace.h"

namespace firebreak {

namespace {
constexpr double kTwo56 = 72057594037927936.0;  // 2^56
constexpr std::uint64_t kMaxThreshold = std::uint64_t{1} << 56;
}  // namespace

Sampler Sampler::always_on() noexcept {
  Sampler s;
  s.root_ = Mode::kOn;
  s.ratio_ = 1.0;
  return s;
}

Sampler Sampler::always_off() noexcept {
  Sampler s;
  s.root_ = Mode::kOff;
  s.ratio_ = 0.0;
  return s;
}

Sampler Sampler::trace_id_ratio(double ratio) {
  if (!(ratio >= 0.0 && ratio <= 1.0))
    throw TraceConfigError(fmt::format("trace id ratio {} is not in [0, 1]", ratio));
  Sampler s;
  s.root_ = Mode::kRatio;
  s.ratio_ = ratio;
  // Sample when R >= T, T = (1 - ratio) * 2^56: computed as 2^56 - ratio * 2^56
  // so that small ratios keep their precision. The smallest positive ratio
  // samples 2^-56 of the traces; 0 samples none (T = 2^56 > any R).
  std::uint64_t accepted = static_cast<std::uint64_t>(std::llround(ratio * kTwo56));
  if (ratio > 0.0 && accepted == 0) accepted = 1;
  s.threshold_ = kMaxThreshold - std::min(accepted, kMaxThreshold);
  return s;
}

Sampler Sampler::parent_based(Sampler root) {
  if (root.parent_based_)
    throw TraceConfigError("a parent-based sampler's root sampler cannot be parent-based");
  root.parent_based_ = true;
  return root;
}

Sampler Sampler::from_config(std::string_view name, std::string_view arg) {
  auto ratio = [&]() -> double {
    if (arg.empty()) return 1.0;
    const std::string text(arg);
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(text.c_str(), &end);
    if (errno != 0 || end == text.c_str() || *end != '\0' || !(v >= 0.0 && v <= 1.0))
      throw TraceConfigError("OTEL_TRACES_SAMPLER_ARG=\"" + text +
                             "\": expected a sampling ratio between 0 and 1");
    return v;
  };
  if (name.empty() || name == "parentbased_always_on") return parent_based(always_on());
  if (name == "always_on") return always_on();
  if (name == "always_off") return always_off();
  if (name == "traceidratio") return trace_id_ratio(ratio());
  if (name == "parentbased_always_off") return parent_based(always_off());
  if (name == "parentbased_traceidratio") return parent_based(trace_id_ratio(ratio()));
  throw TraceConfigError("OTEL_TRACES_SAMPLER=\"" + std::string(name) +
                         "\": expected always_on, always_off, traceidratio, "
                         "parentbased_always_on, parentbased_always_off or "
                         "parentbased_traceidratio");
}

std::string Sampler::description() const {
  std::string root;
  switch (root_) {
    case Mode::kOn:
      root = "AlwaysOnSampler";
      break;
    case Mode::kOff:
      root = "AlwaysOffSampler";
      break;
    case Mode::kRatio:
      root = fmt::format("TraceIdRatioBased{{{:.6f}}}", ratio_);
      break;
  }
  return parent_based_ ? "ParentBased{root=" + root + "}" : root;
}

}  // namespace firebreak
