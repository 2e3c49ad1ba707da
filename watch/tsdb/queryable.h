// The head as the PromQL engine's storage: watch::promql::Queryable over a
// watch::tsdb::Head, or over a Db (the head and its cold series).
//
//   watch::tsdb::Head head;
//   watch::tsdb::HeadQueryable storage(head);
//   watch::promql::Engine engine(storage);
//
// select() compiles the matchers (the engine calls it once per selector and
// query) and hands over each matching series with its samples in
// [mint_ms, maxt_ms], as Queryable's contract asks. Matchers that do not
// compile select nothing, as MemoryStorage does (PromQL's parser has
// refused them before they get here).
//
// Thread-safety: as the Head's: selects run concurrently with each other and
// with appends. The head must outlive the adapter.
#pragma once

#include <cstdint>
#include <vector>

#include "watch/promql/storage.h"
#include "watch/tsdb/db.h"
#include "watch/tsdb/head.h"

namespace watch::tsdb {

class HeadQueryable final : public promql::Queryable {
 public:
  explicit HeadQueryable(const Head& head) : head_(head) {}

  void select(const std::vector<Matcher>& matchers, std::int64_t mint_ms, std::int64_t maxt_ms,
              const promql::SeriesVisitor& visit) const override {
    const auto set = MatcherSet::compile(matchers, nullptr);
    if (!set) return;
    head_.select(*set, mint_ms, maxt_ms, visit);
  }

 private:
  const Head& head_;
};

// The same over a Db: the head and its cold series as one (db.h).
class DbQueryable final : public promql::Queryable {
 public:
  explicit DbQueryable(const Db& db) : db_(db) {}

  void select(const std::vector<Matcher>& matchers, std::int64_t mint_ms, std::int64_t maxt_ms,
              const promql::SeriesVisitor& visit) const override {
    const auto set = MatcherSet::compile(matchers, nullptr);
    if (!set) return;
    db_.select(*set, mint_ms, maxt_ms, visit);
  }

 private:
  const Db& db_;
};

}  // namespace watch::tsdb
