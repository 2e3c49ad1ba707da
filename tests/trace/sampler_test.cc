// Sampler decisions: each built-in sampler, parent-based with local and remote
// parents, the trace-id ratio's threshold and its boundaries, configuration.
#include <gtest/gtest.h>

#include <cmath>

#include "firebreak/trace.h"

namespace firebreak {
namespace {

SpanContext parent(bool sampled, bool remote) {
  SpanContext p;
  p.trace_id = TraceId::random();
  p.span_id = SpanId::random();
  p.trace_flags = sampled ? kTraceFlagSampled : 0;
  p.is_remote = remote;
  return p;
}

// A trace id whose rightmost 7 bytes are the 56-bit randomness r.
TraceId with_randomness(std::uint64_t r, std::uint8_t high_bytes = 0xab) {
  std::array<std::uint8_t, 16> b{};
  for (int i = 0; i < 9; ++i) b[i] = high_bytes;
  for (int i = 15; i >= 9; --i, r >>= 8) b[i] = static_cast<std::uint8_t>(r & 0xff);
  return TraceId(b);
}

constexpr std::uint64_t kTwo56 = std::uint64_t{1} << 56;

TEST(Sampler, AlwaysOnAndAlwaysOffIgnoreTheParent) {
  const TraceId id = TraceId::random();
  for (bool sampled : {false, true}) {
    for (bool remote : {false, true}) {
      EXPECT_TRUE(Sampler::always_on().should_sample(parent(sampled, remote), id));
      EXPECT_FALSE(Sampler::always_off().should_sample(parent(sampled, remote), id));
    }
  }
  EXPECT_TRUE(Sampler::always_on().should_sample({}, id));
  EXPECT_FALSE(Sampler::always_off().should_sample({}, id));
}

TEST(Sampler, ParentBasedFollowsTheParentsSampledFlag) {
  for (const Sampler root :
       {Sampler::always_on(), Sampler::always_off(), Sampler::trace_id_ratio(0.5)}) {
    const Sampler s = Sampler::parent_based(root);
    const TraceId id = TraceId::random();
    EXPECT_TRUE(s.should_sample(parent(true, true), id)) << s.description();
    EXPECT_TRUE(s.should_sample(parent(true, false), id)) << s.description();
    EXPECT_FALSE(s.should_sample(parent(false, true), id)) << s.description();
    EXPECT_FALSE(s.should_sample(parent(false, false), id)) << s.description();
  }
}

TEST(Sampler, ParentBasedUsesItsRootForRootSpans) {
  const TraceId id = TraceId::random();
  EXPECT_TRUE(Sampler::parent_based(Sampler::always_on()).should_sample({}, id));
  EXPECT_FALSE(Sampler::parent_based(Sampler::always_off()).should_sample({}, id));
  const Sampler half = Sampler::parent_based(Sampler::trace_id_ratio(0.5));
  EXPECT_TRUE(half.should_sample({}, with_randomness(kTwo56 - 1)));
  EXPECT_FALSE(half.should_sample({}, with_randomness(0)));
}

TEST(Sampler, ParentBasedTreatsAnInvalidParentAsRoot) {
  SpanContext half_valid;
  half_valid.trace_id = TraceId::random();  // no span id
  half_valid.trace_flags = kTraceFlagSampled;
  EXPECT_FALSE(
      Sampler::parent_based(Sampler::always_off()).should_sample(half_valid, TraceId::random()));
}

TEST(Sampler, RatioIgnoresTheParent) {
  const Sampler s = Sampler::trace_id_ratio(0.5);
  EXPECT_TRUE(s.should_sample(parent(false, true), with_randomness(kTwo56 - 1)));
  EXPECT_FALSE(s.should_sample(parent(true, true), with_randomness(0)));
}

TEST(Sampler, RatioUsesTheRightmostSevenBytes) {
  EXPECT_EQ(Sampler::randomness(with_randomness(0x0123456789abcd)), 0x0123456789abcdu);
  // The leftmost 9 bytes do not matter.
  const Sampler s = Sampler::trace_id_ratio(0.5);
  for (std::uint8_t high : {0x00, 0x01, 0x7f, 0xff}) {
    EXPECT_TRUE(s.should_sample({}, with_randomness(kTwo56 / 2, high)));
    EXPECT_FALSE(s.should_sample({}, with_randomness(kTwo56 / 2 - 1, high)));
  }
}

TEST(Sampler, RatioThresholdBoundaries) {
  // Sampled when R >= (1 - ratio) * 2^56.
  const Sampler quarter = Sampler::trace_id_ratio(0.25);
  const std::uint64_t t = kTwo56 - kTwo56 / 4;
  EXPECT_TRUE(quarter.should_sample({}, with_randomness(t)));
  EXPECT_FALSE(quarter.should_sample({}, with_randomness(t - 1)));
  EXPECT_TRUE(quarter.should_sample({}, with_randomness(kTwo56 - 1)));
  EXPECT_FALSE(quarter.should_sample({}, with_randomness(0)));
}

TEST(Sampler, RatioOneSamplesEverythingAndZeroNothing) {
  const Sampler one = Sampler::trace_id_ratio(1.0);
  const Sampler zero = Sampler::trace_id_ratio(0.0);
  for (std::uint64_t r : {std::uint64_t{0}, std::uint64_t{1}, kTwo56 / 2, kTwo56 - 1}) {
    EXPECT_TRUE(one.should_sample({}, with_randomness(r)));
    EXPECT_FALSE(zero.should_sample({}, with_randomness(r)));
  }
}

TEST(Sampler, SmallestRatioSamplesOnlyTheLargestRandomness) {
  const Sampler tiny = Sampler::trace_id_ratio(std::ldexp(1.0, -56));
  EXPECT_TRUE(tiny.should_sample({}, with_randomness(kTwo56 - 1)));
  EXPECT_FALSE(tiny.should_sample({}, with_randomness(kTwo56 - 2)));
  // Below 2^-56 but positive: still samples something.
  EXPECT_TRUE(Sampler::trace_id_ratio(1e-30).should_sample({}, with_randomness(kTwo56 - 1)));
}

TEST(Sampler, AHigherRatioSamplesASuperset) {
  const Sampler low = Sampler::trace_id_ratio(0.1), high = Sampler::trace_id_ratio(0.3);
  int low_n = 0, high_n = 0;
  for (int i = 0; i < 20000; ++i) {
    const TraceId id = TraceId::random();
    const bool l = low.should_sample({}, id), h = high.should_sample({}, id);
    if (l) {
      EXPECT_TRUE(h);
    }
    low_n += l;
    high_n += h;
  }
  EXPECT_NEAR(low_n / 20000.0, 0.1, 0.015);
  EXPECT_NEAR(high_n / 20000.0, 0.3, 0.02);
}

TEST(Sampler, RatioIsDeterministicPerTraceId) {
  const Sampler a = Sampler::trace_id_ratio(0.37), b = Sampler::trace_id_ratio(0.37);
  for (int i = 0; i < 1000; ++i) {
    const TraceId id = TraceId::random();
    EXPECT_EQ(a.should_sample({}, id), b.should_sample({}, id));
  }
}

TEST(Sampler, RatioOutsideZeroToOneIsAnError) {
  EXPECT_THROW(Sampler::trace_id_ratio(-0.1), TraceConfigError);
  EXPECT_THROW(Sampler::trace_id_ratio(1.5), TraceConfigError);
  EXPECT_THROW(Sampler::trace_id_ratio(std::nan("")), TraceConfigError);
}

TEST(Sampler, ParentBasedCannotNest) {
  EXPECT_THROW(Sampler::parent_based(Sampler::parent_based(Sampler::always_on())),
               TraceConfigError);
}

TEST(Sampler, FromConfigKnowsEveryOpenTelemetryName) {
  EXPECT_EQ(Sampler::from_config("always_on", "").description(), "AlwaysOnSampler");
  EXPECT_EQ(Sampler::from_config("always_off", "").description(), "AlwaysOffSampler");
  EXPECT_EQ(Sampler::from_config("traceidratio", "0.25").description(),
            "TraceIdRatioBased{0.250000}");
  EXPECT_EQ(Sampler::from_config("parentbased_always_on", "").description(),
            "ParentBased{root=AlwaysOnSampler}");
  EXPECT_EQ(Sampler::from_config("parentbased_always_off", "").description(),
            "ParentBased{root=AlwaysOffSampler}");
  EXPECT_EQ(Sampler::from_config("parentbased_traceidratio", "0.5").description(),
            "ParentBased{root=TraceIdRatioBased{0.500000}}");
  // The default, and a ratio's default argument.
  EXPECT_EQ(Sampler::from_config("", "").description(), "ParentBased{root=AlwaysOnSampler}");
  EXPECT_EQ(Sampler::from_config("traceidratio", "").ratio(), 1.0);
}

TEST(Sampler, FromConfigRejectsWhatItDoesNotKnow) {
  EXPECT_THROW(Sampler::from_config("sometimes", ""), TraceConfigError);
  EXPECT_THROW(Sampler::from_config("jaeger_remote", ""), TraceConfigError);
  EXPECT_THROW(Sampler::from_config("traceidratio", "half"), TraceConfigError);
  EXPECT_THROW(Sampler::from_config("traceidratio", "2"), TraceConfigError);
  EXPECT_THROW(Sampler::from_config("traceidratio", "0.5x"), TraceConfigError);
  EXPECT_THROW(Sampler::from_config("parentbased_traceidratio", "-1"), TraceConfigError);
  try {
    Sampler::from_config("sometimes", "");
  } catch (const TraceConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("OTEL_TRACES_SAMPLER"), std::string::npos);
  }
}

}  // namespace
}  // namespace firebreak
