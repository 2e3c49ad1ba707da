// A local HTTP server for scrape tests: the kit's AdminServer on 127.0.0.1:0
// serving /metrics and /ready with replies the test sets and changes.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "firebreak/admin.h"
#include "watch/model/model.h"
#include "watch/tsdb/head.h"

namespace watch::scrape::testing {

inline constexpr std::string_view kTextType = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kOpenMetricsType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

struct Reply {
  int status = 200;
  std::string content_type = std::string(kTextType);
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};
  std::chrono::milliseconds delay{0};  // before answering (timeout tests)
};

class ScrapeServer {
 public:
  ScrapeServer() {
    server_.add_handler("GET", "/metrics",
                        [this](const firebreak::AdminRequest& r) { return answer(metrics_, r); });
    server_.add_handler("GET", "/ready",
                        [this](const firebreak::AdminRequest& r) { return answer(ready_, r); });
    server_.start();
  }

  void set_metrics(Reply r) {
    std::lock_guard lock(mu_);
    metrics_ = std::move(r);
  }
  void set_metrics_body(std::string body, std::string_view type = kTextType) {
    set_metrics({.content_type = std::string(type), .body = std::move(body)});
  }
  void set_ready(Reply r) {
    std::lock_guard lock(mu_);
    ready_ = std::move(r);
  }

  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + std::string(path);
  }
  std::string instance() const { return "127.0.0.1:" + std::to_string(server_.port()); }

  // Headers of the last request to /metrics.
  std::vector<std::pair<std::string, std::string>> last_headers() const {
    std::lock_guard lock(mu_);
    return last_headers_;
  }
  int metrics_requests() const {
    std::lock_guard lock(mu_);
    return metrics_requests_;
  }

 private:
  firebreak::AdminResponse answer(const Reply& which, const firebreak::AdminRequest& req) {
    Reply r;
    {
      std::lock_guard lock(mu_);
      r = which;
      if (&which == &metrics_) {
        last_headers_ = req.headers;
        ++metrics_requests_;
      }
    }
    if (r.delay.count() > 0) std::this_thread::sleep_for(r.delay);  // network timing is the point
    return {
        .status = r.status, .content_type = r.content_type, .headers = r.headers, .body = r.body};
  }

  mutable std::mutex mu_;
  Reply metrics_;
  Reply ready_{.body = "ok\n"};
  std::vector<std::pair<std::string, std::string>> last_headers_;
  int metrics_requests_ = 0;
  firebreak::AdminServer server_{{.address = "127.0.0.1:0", .threads = 2}};
};

inline std::vector<tsdb::SeriesSamples> series_named(const tsdb::Head& head,
                                                     std::string_view name) {
  return head.select(tsdb::MatcherSet::must_compile(
                         {{std::string(kMetricNameLabel), Matcher::Op::kEqual, std::string(name)}}),
                     std::numeric_limits<std::int64_t>::min(),
                     std::numeric_limits<std::int64_t>::max());
}

// The samples of the one series with this name (empty when none).
inline std::vector<Sample> samples_of(const tsdb::Head& head, std::string_view name) {
  auto s = series_named(head, name);
  return s.size() == 1 ? s[0].samples : std::vector<Sample>{};
}

}  // namespace watch::scrape::testing
