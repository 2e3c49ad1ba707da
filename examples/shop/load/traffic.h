// The load generator's request mix: good orders and reads, and the bad input
// an API meets in real life, each with the status a correct API answers.
//
//   shop::Traffic traffic({.bad_fraction = 0.1});
//   shop::PlannedRequest r = traffic.next();     // e.g. POST /orders {...}, expect 201
//   ... send it; traffic.remember_order(id) after a 201 ...
//
// Good (1 - bad_fraction): 50% POST /orders, 35% GET /orders/{id} of an order
// created earlier, 15% GET /orders?status=pending.
// Bad (bad_fraction), evenly: invalid JSON, a wrong type, a missing field, a
// quantity out of range, a body over the size limit (413), an unknown order
// (404), and a malformed traceparent on a good order (201: a bad trace header
// must never fail a request).
//
// Thread-safety: thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "firebreak/http_client.h"

namespace shop {

struct PlannedRequest {
  std::string kind;  // "create", "get", "list", "bad_json", ...: the summary's rows
  std::string method;
  std::string path;
  std::string body = {};
  firebreak::HttpHeaders headers = {};
  int expect = 200;
};

struct TrafficOptions {
  double bad_fraction = 0.1;
  std::size_t huge_body_bytes = 64 * 1024;
  std::uint64_t seed = 0;  // 0: random
};

class Traffic {
 public:
  explicit Traffic(TrafficOptions options);
  PlannedRequest next();
  // An order id that GET requests may ask for.
  void remember_order(std::int64_t id);

 private:
  PlannedRequest good();
  PlannedRequest bad();
  std::string order_body();

  TrafficOptions options_;
  std::mutex mu_;
  std::mt19937_64 rng_;              // guarded by mu_
  std::vector<std::int64_t> known_;  // guarded by mu_; a bounded sample
};

}  // namespace shop
