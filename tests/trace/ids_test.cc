// Trace and span ids: random, never zero, distinct across threads and fork,
// lowercase hex.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <bitset>
#include <set>
#include <thread>
#include <vector>

#include "firebreak/trace.h"

namespace firebreak {
namespace {

TEST(Ids, DefaultIdsAreInvalid) {
  EXPECT_FALSE(TraceId().valid());
  EXPECT_FALSE(SpanId().valid());
  EXPECT_FALSE(SpanContext().valid());
}

TEST(Ids, RandomIdsAreValidAndDistinct) {
  std::set<std::string> traces, spans;
  for (int i = 0; i < 20000; ++i) {
    const TraceId t = TraceId::random();
    const SpanId s = SpanId::random();
    ASSERT_TRUE(t.valid());
    ASSERT_TRUE(s.valid());
    traces.insert(t.to_hex());
    spans.insert(s.to_hex());
  }
  EXPECT_EQ(traces.size(), 20000u);
  EXPECT_EQ(spans.size(), 20000u);
}

TEST(Ids, EveryBitOfATraceIdVaries) {
  // Each of the 128 bits should be set in roughly half of the ids.
  constexpr int kN = 8000;
  std::array<int, 128> ones{};
  for (int i = 0; i < kN; ++i) {
    const TraceId id = TraceId::random();
    const auto& b = id.bytes();
    for (int bit = 0; bit < 128; ++bit) ones[bit] += (b[bit / 8] >> (bit % 8)) & 1;
  }
  for (int bit = 0; bit < 128; ++bit) {
    EXPECT_GT(ones[bit], kN * 0.44) << "bit " << bit;
    EXPECT_LT(ones[bit], kN * 0.56) << "bit " << bit;
  }
}

TEST(Ids, ThreadsDrawDifferentSequences) {
  constexpr int kThreads = 4, kPerThread = 2000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(SpanId::random().to_hex());
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(Ids, AForkedChildDoesNotRepeatItsParentsIds) {
  (void)SpanId::random();  // the parent's generator is seeded
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    char buf[16];
    SpanId::random().to_hex(buf);
    (void)!write(fds[1], buf, 16);
    _exit(0);
  }
  close(fds[1]);
  char child[16] = {};
  ASSERT_EQ(read(fds[0], child, 16), 16);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string parent_next = SpanId::random().to_hex();
  EXPECT_NE(std::string(child, 16), parent_next);
}

TEST(Ids, HexIsLowercaseAndRoundTrips) {
  const auto t = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->bytes()[0], 0x4b);
  EXPECT_EQ(t->bytes()[15], 0x36);
  EXPECT_EQ(t->to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  char buf[32];
  t->to_hex(buf);
  EXPECT_EQ(std::string(buf, 32), "4bf92f3577b34da6a3ce929d0e0e4736");

  const auto s = SpanId::from_hex("00f067aa0ba902b7");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->bytes()[0], 0x00);
  EXPECT_EQ(s->bytes()[7], 0xb7);
  EXPECT_EQ(s->to_hex(), "00f067aa0ba902b7");

  for (int i = 0; i < 100; ++i) {
    const TraceId r = TraceId::random();
    EXPECT_EQ(TraceId::from_hex(r.to_hex()), r);
    for (char c : r.to_hex()) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }
}

TEST(Ids, FromHexRejectsAnythingElse) {
  EXPECT_FALSE(TraceId::from_hex(""));
  EXPECT_FALSE(TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e473"));
  EXPECT_FALSE(TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e47366"));
  EXPECT_FALSE(TraceId::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736"));
  EXPECT_FALSE(TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e473g"));
  EXPECT_FALSE(SpanId::from_hex("00f067aa0ba902b"));
  EXPECT_FALSE(SpanId::from_hex("00f067aa0ba902bZ"));
  // All zeros parses, to the invalid id.
  const auto zero = SpanId::from_hex("0000000000000000");
  ASSERT_TRUE(zero);
  EXPECT_FALSE(zero->valid());
}

}  // namespace
}  // namespace firebreak
