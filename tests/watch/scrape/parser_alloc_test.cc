// The streaming parser allocates nothing per sample once warmed up: a scrape
// of a large body costs no heap traffic beyond the caller's own. Counted with
// a replacement global operator new (this test binary only).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "watch/scrape/parser.h"

namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace watch::scrape {
namespace {

std::string big_body() {
  std::string b =
      "# HELP http_server_request_duration_seconds Latency.\n"
      "# TYPE http_server_request_duration_seconds histogram\n"
      "# TYPE http_server_requests_total counter\n";
  for (int i = 0; i < 5000; ++i) {
    const std::string route = "/api/v1/orders/" + std::to_string(i % 300);
    b += "http_server_requests_total{http_route=\"" + route +
         "\",note=\"esc\\\"aped\\\\ \\n\",http_response_status_code=\"200\"} " +
         std::to_string(i * 3) + "\n";
    b += "http_server_request_duration_seconds_bucket{http_route=\"" + route + "\",le=\"1\"} " +
         std::to_string(i) + " 1767225600000\n";
    b += "untyped_metric_with_a_rather_long_name{x=\"" + std::to_string(i) + "\"} 1e3\n";
  }
  return b;
}

TEST(ExpositionParserAllocations, NonePerSampleOnceWarm) {
  const std::string body = big_body();
  ExpositionParser p(body, Format::kPrometheusText);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(p.next());  // scratch and memos grow here
  const std::size_t before = g_allocations.load();
  std::size_t n = 30;
  double sum = 0;
  while (p.next()) {
    sum += p.value() + static_cast<double>(p.labels().size());
    ++n;
  }
  const std::size_t allocations = g_allocations.load() - before;
  ASSERT_FALSE(p.error().has_value()) << p.error()->to_string();
  EXPECT_EQ(n, 15000u);
  EXPECT_GT(sum, 0);
  EXPECT_EQ(allocations, 0u);
}

}  // namespace
}  // namespace watch::scrape
