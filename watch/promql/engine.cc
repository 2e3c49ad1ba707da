#include "watch/promql/engine.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

#include "watch/goregexp/goregexp.h"
#include "watch/promql/format.h"
#include "watch/promql/functions.h"
#include "watch/promql/label_matcher.h"

namespace watch::promql {

ValueType type_of(const Value& value) {
  switch (value.index()) {
    case 0:
      return ValueType::kScalar;
    case 1:
      return ValueType::kString;
    case 2:
      return ValueType::kVector;
    default:
      return ValueType::kMatrix;
  }
}

std::string_view error_type_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kBadData:
      return "bad_data";
    case ErrorKind::kExecution:
      return "execution";
    case ErrorKind::kTimeout:
      return "timeout";
    case ErrorKind::kCanceled:
      return "canceled";
    case ErrorKind::kInternal:
      return "internal";
  }
  return "internal";
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
using Clock = std::chrono::steady_clock;

// Thrown inside the evaluator only; the Engine's entry points return it as
// an Error.
struct EvalError {
  ErrorKind kind;
  std::string message;
};

[[noreturn]] void fail(std::string message) {
  throw EvalError{ErrorKind::kExecution, std::move(message)};
}

std::int64_t sat_sub(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_sub_overflow(a, b, &r))
    return b > 0 ? std::numeric_limits<std::int64_t>::min()
                 : std::numeric_limits<std::int64_t>::max();
  return r;
}

bool valid_label_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// A series loaded from storage for one selector.
struct Loaded {
  LabelSet labels;
  LabelSet labels_without_name;
  std::vector<Sample> samples;
};

struct LoadedSelector {
  std::vector<Loaded> series;
  // Whether the series stay distinct once their metric names are dropped
  // (so rate() and friends need no per-step duplicate check).
  bool unique_without_name = true;
};

// Labels during evaluation: borrowed from a loaded series (which outlives
// the evaluation) or shared ownership of computed ones. Copies are cheap:
// no label is copied per step unless an operation changes it.
class Labels {
 public:
  Labels() = default;
  explicit Labels(const LabelSet* borrowed) : ptr_(borrowed) {}
  explicit Labels(LabelSet owned)
      : owned_(std::make_shared<const LabelSet>(std::move(owned))), ptr_(owned_.get()) {}

  const LabelSet& operator*() const {
    static const LabelSet kEmpty;
    return ptr_ ? *ptr_ : kEmpty;
  }
  const LabelSet* operator->() const { return &**this; }

 private:
  std::shared_ptr<const LabelSet> owned_;
  const LabelSet* ptr_ = nullptr;
};

// An instant vector's element during evaluation.
struct Elem {
  Labels labels;
  std::int64_t t = 0;  // the sample's time straight out of a selector, else the step's
  double v = 0;
  const Loaded* series = nullptr;  // set while `labels` are exactly this series' labels
};
using IVector = std::vector<Elem>;

// A range vector during evaluation: views into loaded samples.
struct SeriesRef {
  const Loaded* series;
  std::span<const Sample> samples;
};
using MatrixView = std::vector<SeriesRef>;

using EvalValue = std::variant<Scalar, String, IVector, MatrixView>;

const Expr& unwrap_parens(const Expr& e) {
  const Expr* p = &e;
  while (const auto* paren = std::get_if<Paren>(&p->node)) p = paren->expr.get();
  return *p;
}

Labels without_name(const Elem& e) {
  if (e.series) return Labels(&e.series->labels_without_name);
  if (!e.labels->has(kMetricNameLabel)) return e.labels;
  return Labels(e.labels->without_metric_name());
}

// Whether every element has the same metric name (or none): then dropping
// the names cannot make two label sets equal.
bool same_metric_name(const IVector& v) {
  for (std::size_t i = 1; i < v.size(); ++i)
    if (v[i].labels->metric_name() != v[0].labels->metric_name()) return false;
  return true;
}

// Key bytes for matching and grouping: name 0xff value 0xff per label.
void append_key(std::string& key, const Label& l) {
  key.append(l.name);
  key.push_back('\xff');
  key.append(l.value);
  key.push_back('\xff');
}

// Into `key`: labels `names` (sorted) only, as Go's BytesWithLabels.
void key_with(std::string& key, const LabelSet& ls, const std::vector<std::string>& sorted_names) {
  key.clear();
  auto it = ls.begin();
  for (const auto& n : sorted_names) {
    while (it != ls.end() && it->name < n) ++it;
    if (it != ls.end() && it->name == n) append_key(key, *it);
  }
}

// Into `key`: all labels but `names` (sorted), as Go's BytesWithoutLabels.
void key_without(std::string& key, const LabelSet& ls,
                 const std::vector<std::string>& sorted_names) {
  key.clear();
  for (const auto& l : ls)
    if (!std::binary_search(sorted_names.begin(), sorted_names.end(), l.name)) append_key(key, l);
}

LabelSet keep_only(const LabelSet& ls, const std::vector<std::string>& sorted_names) {
  std::vector<Label> out;
  for (const auto& l : ls)
    if (std::binary_search(sorted_names.begin(), sorted_names.end(), l.name)) out.push_back(l);
  return LabelSet::from(std::move(out));
}

LabelSet drop(const LabelSet& ls, const std::vector<std::string>& sorted_names) {
  std::vector<Label> out;
  for (const auto& l : ls)
    if (!std::binary_search(sorted_names.begin(), sorted_names.end(), l.name)) out.push_back(l);
  return LabelSet::from(std::move(out));
}

std::vector<std::string> sorted_unique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

void check_unique_labels(const IVector& v) {
  if (v.size() < 2) return;
  std::vector<std::pair<std::uint64_t, std::size_t>> hashes;
  hashes.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) hashes.emplace_back(v[i].labels->hash(), i);
  std::sort(hashes.begin(), hashes.end());
  for (std::size_t i = 1; i < hashes.size(); ++i) {
    if (hashes[i].first != hashes[i - 1].first) continue;
    // Equal hashes: compare every pair in the run.
    for (std::size_t j = i; j > 0 && hashes[j - 1].first == hashes[i].first; --j)
      if (*v[hashes[j - 1].second].labels == *v[hashes[i].second].labels)
        fail("vector cannot contain metrics with the same labelset");
  }
}

// The labels absent() and absent_over_time() give their result: the
// selector's equality matchers (Prometheus's createLabelsForAbsentFunction).
LabelSet absent_labels(const Expr& arg) {
  const VectorSelector* vs = std::get_if<VectorSelector>(&arg.node);
  if (const auto* ms = std::get_if<MatrixSelector>(&arg.node)) vs = &ms->selector;
  if (!vs) return {};
  LabelSet out;
  std::vector<std::string> seen;
  for (const auto& m : vs->matchers) {
    if (m.name == kMetricNameLabel) continue;
    const bool had = std::find(seen.begin(), seen.end(), m.name) != seen.end();
    if (m.op == Matcher::Op::kEqual && !had) {
      out = out.with(m.name, m.value);
      seen.push_back(m.name);
    } else {
      out = out.without(m.name);
    }
  }
  return out;
}

// Go's regexp.Expand for label_replace's replacement: $1, ${1}, $name,
// ${name}, $$; a name is the longest run of letters, digits and '_' (so
// "$1x" is the group named "1x"); an unknown group expands to nothing.
std::string expand_template(std::string_view tmpl, std::string_view text,
                            std::span<const goregexp::Span> groups, const re2::RE2& re) {
  std::string out;
  auto is_name_char = [](char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  auto append_group = [&](std::size_t g) {
    if (g < groups.size() && groups[g].begin >= 0)
      out.append(text.substr(static_cast<std::size_t>(groups[g].begin),
                             static_cast<std::size_t>(groups[g].end - groups[g].begin)));
  };
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '$') {
      out.push_back(tmpl[i]);
      continue;
    }
    if (i + 1 < tmpl.size() && tmpl[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    std::string_view name;
    std::size_t next = i + 1;
    if (next < tmpl.size() && tmpl[next] == '{') {
      const std::size_t close = tmpl.find('}', next + 1);
      if (close == std::string_view::npos) {
        out.push_back('$');
        continue;
      }
      name = tmpl.substr(next + 1, close - next - 1);
      bool ok = !name.empty();
      for (char c : name) ok = ok && is_name_char(c);
      if (!ok) {
        out.push_back('$');
        continue;
      }
      next = close + 1;
    } else {
      std::size_t j = next;
      while (j < tmpl.size() && is_name_char(tmpl[j])) ++j;
      if (j == next) {
        out.push_back('$');
        continue;
      }
      name = tmpl.substr(next, j - next);
      next = j;
    }
    bool numeric = true;
    std::size_t group = 0;
    for (char c : name) {
      if (c < '0' || c > '9') {
        numeric = false;
        break;
      }
      group = std::min<std::size_t>(group * 10 + static_cast<std::size_t>(c - '0'), 100000);
    }
    if (numeric) {
      append_group(group);
    } else {
      const auto& named = re.NamedCapturingGroups();
      if (auto it = named.find(std::string(name)); it != named.end())
        append_group(static_cast<std::size_t>(it->second));
    }
    i = next - 1;
  }
  return out;
}

class Evaluator {
 public:
  Evaluator(const Queryable& storage, const EngineOptions& options, std::int64_t start,
            std::int64_t end, Clock::time_point deadline)
      : storage_(storage), options_(options), start_(start), end_(end), deadline_(deadline) {}

  void load(const Expr& e) {
    std::visit(
        [&](const auto& n) {
          using T = std::decay_t<decltype(n)>;
          if constexpr (std::is_same_v<T, VectorSelector>) {
            load_selector(n, options_.lookback_delta_ms, false);
          } else if constexpr (std::is_same_v<T, MatrixSelector>) {
            load_selector(n.selector, n.range_ms, true);
          } else if constexpr (std::is_same_v<T, Call>) {
            for (const auto& a : n.args) load(*a);
          } else if constexpr (std::is_same_v<T, Aggregation>) {
            if (n.param) load(*n.param);
            load(*n.expr);
          } else if constexpr (std::is_same_v<T, Binary>) {
            load(*n.lhs);
            load(*n.rhs);
          } else if constexpr (std::is_same_v<T, Negation> || std::is_same_v<T, Paren>) {
            load(*n.expr);
          }
        },
        e.node);
  }

  EvalValue eval(const Expr& e, std::int64_t t) {
    return std::visit([&](const auto& n) { return eval_node(n, e, t); }, e.node);
  }

  void check_deadline() {
    if (Clock::now() > deadline_)
      throw EvalError{ErrorKind::kTimeout, "query timed out in query execution"};
  }

  void account(std::size_t samples) {
    samples_ += samples;
    if (samples_ > options_.max_samples)
      throw EvalError{ErrorKind::kExecution,
                      "query processing would load too many samples into memory in query "
                      "execution"};
  }

 private:
  void load_selector(const VectorSelector& vs, std::int64_t window, bool drop_stale) {
    const std::int64_t mint = sat_sub(sat_sub(start_, vs.offset_ms), window);
    const std::int64_t maxt = sat_sub(end_, vs.offset_ms);
    auto& out = data_[&vs];
    bool over_limit = false;
    bool timed_out = false;
    std::size_t visited = 0;
    storage_.select(vs.matchers, mint, maxt,
                    [&](const LabelSet& labels, std::span<const Sample> samples) {
                      if (++visited % 256 == 0 && Clock::now() > deadline_) {
                        timed_out = true;
                        return false;
                      }
                      samples_ += samples.size();
                      if (samples_ > options_.max_samples) {
                        over_limit = true;
                        return false;
                      }
                      Loaded l;
                      l.samples.reserve(samples.size());
                      for (const auto& s : samples) {
                        if (s.t < mint || s.t > maxt) continue;
                        if (drop_stale && is_stale_nan(s.v)) continue;
                        l.samples.push_back(s);
                      }
                      if (l.samples.empty()) return true;
                      l.labels = labels;
                      out.series.push_back(std::move(l));
                      return true;
                    });
    if (timed_out) throw EvalError{ErrorKind::kTimeout, "query timed out in query execution"};
    if (over_limit) account(0);
    // Series stay in the order storage gave them, as in Prometheus (which
    // does not sort for queries either): aggregations add floats in that
    // order, so a sum over many series can differ in its last bits between
    // storages, in Prometheus as here.
    bool one_name = true;
    for (auto& l : out.series) {
      l.labels_without_name = l.labels.without_metric_name();
      one_name = one_name && l.labels.metric_name() == out.series.front().labels.metric_name();
    }
    if (!one_name) {
      std::vector<std::pair<std::uint64_t, std::size_t>> hashes;
      for (std::size_t i = 0; i < out.series.size(); ++i)
        hashes.emplace_back(out.series[i].labels_without_name.hash(), i);
      std::sort(hashes.begin(), hashes.end());
      for (std::size_t i = 1; i < hashes.size(); ++i)
        if (hashes[i].first == hashes[i - 1].first) out.unique_without_name = false;
    }
  }

  const LoadedSelector& loaded(const VectorSelector& vs) {
    auto it = data_.find(&vs);
    if (it == data_.end()) {
      // An expression evaluated without load() (cannot happen through Engine).
      throw EvalError{ErrorKind::kInternal, "selector evaluated before it was loaded"};
    }
    return it->second;
  }

  // --- Leaves -------------------------------------------------------------

  EvalValue eval_node(const NumberLiteral& n, const Expr&, std::int64_t t) {
    return Scalar{t, n.value};
  }
  EvalValue eval_node(const StringLiteral& s, const Expr&, std::int64_t t) {
    return String{t, s.value};
  }
  EvalValue eval_node(const Paren& p, const Expr&, std::int64_t t) { return eval(*p.expr, t); }

  EvalValue eval_node(const VectorSelector& vs, const Expr&, std::int64_t t) {
    const auto& sel = loaded(vs);
    const std::int64_t ref = sat_sub(t, vs.offset_ms);
    const std::int64_t oldest = sat_sub(ref, options_.lookback_delta_ms);
    IVector out;
    out.reserve(sel.series.size());
    std::size_t n = 0;
    for (const auto& s : sel.series) {
      if (++n % 1024 == 0) check_deadline();
      auto it = std::upper_bound(s.samples.begin(), s.samples.end(), ref,
                                 [](std::int64_t x, const Sample& a) { return x < a.t; });
      if (it == s.samples.begin()) continue;
      --it;
      if (it->t < oldest || is_stale_nan(it->v)) continue;
      out.push_back(Elem{Labels(&s.labels), it->t, it->v, &s});
    }
    return out;
  }

  EvalValue eval_node(const MatrixSelector& ms, const Expr&, std::int64_t t) {
    const auto& sel = loaded(ms.selector);
    const std::int64_t ref = sat_sub(t, ms.selector.offset_ms);
    const std::int64_t oldest = sat_sub(ref, ms.range_ms);
    MatrixView out;
    out.reserve(sel.series.size());
    std::size_t n = 0;
    for (const auto& s : sel.series) {
      if (++n % 1024 == 0) check_deadline();
      auto lo = std::lower_bound(s.samples.begin(), s.samples.end(), oldest,
                                 [](const Sample& a, std::int64_t x) { return a.t < x; });
      auto hi = std::upper_bound(lo, s.samples.end(), ref,
                                 [](std::int64_t x, const Sample& a) { return x < a.t; });
      if (lo == hi) continue;
      out.push_back(
          SeriesRef{&s, std::span<const Sample>(&*lo, static_cast<std::size_t>(hi - lo))});
    }
    return out;
  }

  EvalValue eval_node(const Negation& n, const Expr&, std::int64_t t) {
    EvalValue v = eval(*n.expr, t);
    if (auto* s = std::get_if<Scalar>(&v)) {
      s->v = -s->v;
      return v;
    }
    IVector& vec = std::get<IVector>(v);
    const bool one_name = same_metric_name(vec);
    for (auto& e : vec) e = Elem{without_name(e), t, -e.v};
    if (!one_name) check_unique_labels(vec);
    return v;
  }

  // --- Binary operations --------------------------------------------------

  static std::pair<double, bool> elem_binop(BinaryOp op, double l, double r) {
    switch (op) {
      case BinaryOp::kAdd:
        return {l + r, true};
      case BinaryOp::kSub:
        return {l - r, true};
      case BinaryOp::kMul:
        return {l * r, true};
      case BinaryOp::kDiv:
        return {l / r, true};
      case BinaryOp::kMod:
        return {std::fmod(l, r), true};
      case BinaryOp::kPow:
        return {std::pow(l, r), true};
      case BinaryOp::kAtan2:
        return {std::atan2(l, r), true};
      case BinaryOp::kEql:
        return {l, l == r};
      case BinaryOp::kNeq:
        return {l, l != r};
      case BinaryOp::kGtr:
        return {l, l > r};
      case BinaryOp::kLss:
        return {l, l < r};
      case BinaryOp::kGte:
        return {l, l >= r};
      case BinaryOp::kLte:
        return {l, l <= r};
      default:
        throw EvalError{ErrorKind::kInternal, "set operator on scalars"};
    }
  }

  static bool drops_metric_name(BinaryOp op) {
    switch (op) {
      case BinaryOp::kAdd:
      case BinaryOp::kSub:
      case BinaryOp::kMul:
      case BinaryOp::kDiv:
      case BinaryOp::kMod:
      case BinaryOp::kPow:
      case BinaryOp::kAtan2:
        return true;
      default:
        return false;
    }
  }

  EvalValue eval_node(const Binary& b, const Expr&, std::int64_t t) {
    EvalValue lhs = eval(*b.lhs, t);
    EvalValue rhs = eval(*b.rhs, t);
    auto* ls = std::get_if<Scalar>(&lhs);
    auto* rs = std::get_if<Scalar>(&rhs);
    if (ls && rs) {
      auto [v, keep] = elem_binop(b.op, ls->v, rs->v);
      if (is_comparison(b.op)) v = keep ? 1 : 0;
      return Scalar{t, v};
    }
    if (rs) return vector_scalar(b, std::get<IVector>(lhs), rs->v, false, t);
    if (ls) return vector_scalar(b, std::get<IVector>(rhs), ls->v, true, t);
    IVector& lv = std::get<IVector>(lhs);
    IVector& rv = std::get<IVector>(rhs);
    switch (b.op) {
      case BinaryOp::kAnd:
        return vector_and(b.matching, lv, rv, t);
      case BinaryOp::kOr:
        return vector_or(b.matching, lv, rv, t);
      case BinaryOp::kUnless:
        return vector_unless(b.matching, lv, rv, t);
      default:
        return vector_binop(b, lv, rv, t);
    }
  }

  IVector vector_scalar(const Binary& b, const IVector& vec, double scalar, bool swap,
                        std::int64_t t) {
    IVector out;
    out.reserve(vec.size());
    const bool drop_name = drops_metric_name(b.op) || b.return_bool;
    for (const auto& e : vec) {
      double l = e.v, r = scalar;
      if (swap) std::swap(l, r);
      auto [value, keep] = elem_binop(b.op, l, r);
      // A comparison keeps the vector's value, whichever side it is on.
      if (is_comparison(b.op) && swap) value = r;
      if (b.return_bool) {
        value = keep ? 1 : 0;
        keep = true;
      }
      if (!keep) continue;
      if (drop_name) {
        out.push_back(Elem{without_name(e), t, value});
      } else {
        out.push_back(Elem{e.labels, t, value, e.series});
      }
    }
    if (drop_name && !same_metric_name(vec)) check_unique_labels(out);
    return out;
  }

  // The matching signature of a series for on(...)/ignoring(...).
  struct Signature {
    bool on;
    std::vector<std::string> names;  // sorted; for ignoring, includes __name__

    explicit Signature(const VectorMatching& m) : on(m.on), names(m.labels) {
      if (!on) names.emplace_back(kMetricNameLabel);
      names = sorted_unique(std::move(names));
    }
    // Into `key`, reused between calls.
    const std::string& operator()(std::string& key, const LabelSet& ls) const {
      if (on) {
        key_with(key, ls, names);
      } else {
        key_without(key, ls, names);
      }
      return key;
    }
  };

  IVector vector_and(const VectorMatching& m, const IVector& lhs, const IVector& rhs,
                     std::int64_t t) {
    IVector out;
    if (lhs.empty() || rhs.empty()) return out;
    const Signature sig(m);
    std::string key;
    std::unordered_set<std::string> right;
    for (const auto& e : rhs) right.insert(sig(key, *e.labels));
    for (const auto& e : lhs)
      if (right.count(sig(key, *e.labels))) out.push_back(Elem{e.labels, t, e.v, e.series});
    return out;
  }

  IVector vector_or(const VectorMatching& m, const IVector& lhs, const IVector& rhs,
                    std::int64_t t) {
    IVector out;
    out.reserve(lhs.size() + rhs.size());
    const Signature sig(m);
    std::string key;
    std::unordered_set<std::string> left;
    for (const auto& e : lhs) {
      if (!rhs.empty()) left.insert(sig(key, *e.labels));
      out.push_back(Elem{e.labels, t, e.v, e.series});
    }
    for (const auto& e : rhs)
      if (lhs.empty() || !left.count(sig(key, *e.labels)))
        out.push_back(Elem{e.labels, t, e.v, e.series});
    return out;
  }

  IVector vector_unless(const VectorMatching& m, const IVector& lhs, const IVector& rhs,
                        std::int64_t t) {
    IVector out;
    const Signature sig(m);
    std::string key;
    std::unordered_set<std::string> right;
    for (const auto& e : rhs) right.insert(sig(key, *e.labels));
    for (const auto& e : lhs)
      if (!right.count(sig(key, *e.labels))) out.push_back(Elem{e.labels, t, e.v, e.series});
    return out;
  }

  // The result's labels (Prometheus's resultMetric): `many` is the side
  // whose labels the result keeps, `one` the side group_x labels come from.
  static Labels result_labels(const Elem& many, const Elem& one, const Binary& b,
                              const std::vector<std::string>& sorted_match) {
    const auto& m = b.matching;
    const bool drop_name = drops_metric_name(b.op) || b.return_bool;
    // The common case, a + b: no label but the name changes.
    if (m.card == Cardinality::kOneToOne && !m.on && m.labels.empty())
      return drop_name ? without_name(many) : many.labels;
    LabelSet out = drops_metric_name(b.op) ? many.labels->without_metric_name() : *many.labels;
    if (m.card == Cardinality::kOneToOne)
      out = m.on ? keep_only(out, sorted_match) : drop(out, sorted_match);
    for (const auto& name : m.include) out = out.with(name, one.labels->get(name));
    if (b.return_bool) out = out.without_metric_name();
    return Labels(std::move(out));
  }

  IVector vector_binop(const Binary& b, const IVector& lhs_in, const IVector& rhs_in,
                       std::int64_t t) {
    IVector out;
    if (lhs_in.empty() || rhs_in.empty()) return out;
    const auto& m = b.matching;
    const Signature sig(m);
    const std::vector<std::string> sorted_match = sorted_unique(m.labels);
    // One-to-many: swap sides, so `lhs` is always the "many" side.
    const bool swapped = m.card == Cardinality::kOneToMany;
    const IVector& lhs = swapped ? rhs_in : lhs_in;
    const IVector& rhs = swapped ? lhs_in : rhs_in;

    std::string key;
    std::unordered_map<std::string, std::size_t> right;
    right.reserve(rhs.size());
    for (std::size_t i = 0; i < rhs.size(); ++i) {
      auto [it, inserted] = right.emplace(sig(key, *rhs[i].labels), i);
      if (!inserted) {
        std::vector<Label> keep;
        for (const auto& l : *rhs[i].labels) {
          const bool listed = std::find(m.labels.begin(), m.labels.end(), l.name) != m.labels.end();
          if (m.on == listed && (m.on || l.name != kMetricNameLabel)) keep.push_back(l);
        }
        fail(
            fmt::format("found duplicate series for the match group {} on the {} hand-side of the "
                        "operation: [{}, {}];many-to-many matching not allowed: matching labels "
                        "must be unique on one side",
                        LabelSet::from(std::move(keep)).braces(), swapped ? "left" : "right",
                        rhs[i].labels->braces(), rhs[it->second].labels->braces()));
      }
    }

    // Per signature: for one-to-one, whether matched; for many-to-one, the
    // result label sets already produced.
    std::unordered_map<std::string, std::unordered_set<std::uint64_t>> matched;
    for (const auto& ls : lhs) {
      auto it = right.find(sig(key, *ls.labels));
      if (it == right.end()) continue;
      const Elem& rs = rhs[it->second];
      double vl = ls.v, vr = rs.v;
      if (swapped) std::swap(vl, vr);
      auto [value, keep] = elem_binop(b.op, vl, vr);
      if (b.return_bool) {
        value = keep ? 1 : 0;
      } else if (!keep) {
        continue;
      }
      Labels metric = result_labels(ls, rs, b, sorted_match);
      auto [mit, first] = matched.try_emplace(key);
      if (m.card == Cardinality::kOneToOne) {
        if (!first)
          fail(
              "multiple matches for labels: many-to-one matching must be explicit "
              "(group_left/group_right)");
      } else if (!mit->second.insert(metric->hash()).second) {
        fail("multiple matches for labels: grouping labels must ensure unique matches");
      }
      out.push_back(Elem{std::move(metric), t, value});
    }
    return out;
  }

  // --- Aggregations -------------------------------------------------------

  EvalValue eval_node(const Aggregation& a, const Expr&, std::int64_t t) {
    double param = 0;
    std::string value_label;
    if (a.param) {
      EvalValue p = eval(*a.param, t);
      if (auto* s = std::get_if<Scalar>(&p)) param = s->v;
      if (auto* s = std::get_if<String>(&p)) value_label = s->v;
    }
    IVector vec = std::get<IVector>(eval(*a.expr, t));

    std::int64_t k = 0;
    if (a.op == AggregateOp::kTopk || a.op == AggregateOp::kBottomk) {
      if (!(param >= -9.2e18 && param <= 9.2e18))
        fail(fmt::format("Scalar value {} overflows int64", format_value(param)));
      k = static_cast<std::int64_t>(param);
      if (k < 1) return IVector{};
    }
    std::vector<std::string> grouping = a.grouping;
    if (a.op == AggregateOp::kCountValues) {
      if (!valid_label_name(value_label))
        fail(fmt::format("invalid label name \"{}\"", value_label));
      if (!a.without) grouping.push_back(value_label);
    }
    std::vector<std::string> key_names = grouping;
    if (a.without) key_names.emplace_back(kMetricNameLabel);
    key_names = sorted_unique(std::move(key_names));
    const std::vector<std::string> sorted_grouping = sorted_unique(grouping);

    struct Group {
      Labels labels;
      double value = 0;
      double mean = 0;
      double count = 0;
      std::vector<std::size_t> heap;  // topk/bottomk: indexes into vec
      std::vector<double> values;     // quantile
    };
    std::vector<Group> groups;
    std::unordered_map<std::string, std::size_t> index;
    std::string key;

    for (std::size_t i = 0; i < vec.size(); ++i) {
      Elem& s = vec[i];
      if (a.op == AggregateOp::kCountValues) {
        s.labels = Labels(s.labels->with(value_label, format_value(s.v)));
        s.series = nullptr;
      }
      if (a.without) {
        key_without(key, *s.labels, key_names);
      } else {
        key_with(key, *s.labels, key_names);
      }
      auto found = index.find(key);
      if (found == index.end()) {
        index.emplace(key, groups.size());
        Group g;
        if (a.without) {
          g.labels = Labels(drop(*s.labels, key_names));
        } else if (!grouping.empty()) {
          g.labels = Labels(keep_only(*s.labels, sorted_grouping));
        }
        g.value = s.v;
        g.mean = s.v;
        g.count = 1;
        switch (a.op) {
          case AggregateOp::kStddev:
          case AggregateOp::kStdvar:
            g.value = 0;
            break;
          case AggregateOp::kGroup:
            g.value = 1;
            break;
          case AggregateOp::kTopk:
          case AggregateOp::kBottomk:
            g.heap.push_back(i);
            break;
          case AggregateOp::kQuantile:
            g.values.push_back(s.v);
            break;
          default:
            break;
        }
        groups.push_back(std::move(g));
        continue;
      }
      Group& g = groups[found->second];
      switch (a.op) {
        case AggregateOp::kSum:
          g.value += s.v;
          break;
        case AggregateOp::kAvg:
          g.count += 1;
          if (std::isinf(g.mean)) {
            if (std::isinf(s.v) && (g.mean > 0) == (s.v > 0)) break;
            if (!std::isinf(s.v) && !std::isnan(s.v)) break;
          }
          g.mean += s.v / g.count - g.mean / g.count;
          break;
        case AggregateOp::kGroup:
          break;
        case AggregateOp::kMax:
          if (g.value < s.v || std::isnan(g.value)) g.value = s.v;
          break;
        case AggregateOp::kMin:
          if (g.value > s.v || std::isnan(g.value)) g.value = s.v;
          break;
        case AggregateOp::kCount:
        case AggregateOp::kCountValues:
          g.count += 1;
          break;
        case AggregateOp::kStddev:
        case AggregateOp::kStdvar: {
          g.count += 1;
          const double delta = s.v - g.mean;
          g.mean += delta / g.count;
          g.value += delta * (s.v - g.mean);
          break;
        }
        case AggregateOp::kTopk:
        case AggregateOp::kBottomk:
          heap_offer(g.heap, vec, i,
                     static_cast<std::size_t>(
                         std::min<std::int64_t>(k, static_cast<std::int64_t>(vec.size()))),
                     a.op == AggregateOp::kTopk);
          break;
        case AggregateOp::kQuantile:
          g.values.push_back(s.v);
          break;
      }
    }

    IVector out;
    out.reserve(groups.size());
    for (auto& g : groups) {
      double v = g.value;
      switch (a.op) {
        case AggregateOp::kAvg:
          v = g.mean;
          break;
        case AggregateOp::kCount:
        case AggregateOp::kCountValues:
          v = g.count;
          break;
        case AggregateOp::kStdvar:
          v = g.value / g.count;
          break;
        case AggregateOp::kStddev:
          v = std::sqrt(g.value / g.count);
          break;
        case AggregateOp::kQuantile:
          v = detail::quantile(param, g.values);
          break;
        case AggregateOp::kTopk:
        case AggregateOp::kBottomk: {
          const bool top = a.op == AggregateOp::kTopk;
          std::vector<std::size_t> order = g.heap;
          std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
            return top ? value_less(vec[y].v, vec[x].v) : value_greater(vec[y].v, vec[x].v);
          });
          for (std::size_t idx : order)
            out.push_back(Elem{vec[idx].labels, t, vec[idx].v, vec[idx].series});
          continue;
        }
        default:
          break;
      }
      out.push_back(Elem{std::move(g.labels), t, v});
    }
    return out;
  }

  // topk's order: NaN lowest. bottomk's: NaN highest.
  static bool value_less(double a, double b) {
    if (std::isnan(a)) return !std::isnan(b);
    if (std::isnan(b)) return false;
    return a < b;
  }
  static bool value_greater(double a, double b) {
    if (std::isnan(a)) return !std::isnan(b);
    if (std::isnan(b)) return false;
    return a > b;
  }

  // Keeps the k best samples in a heap with the worst kept one on top.
  static void heap_offer(std::vector<std::size_t>& heap, const IVector& vec, std::size_t i,
                         std::size_t k, bool top) {
    // worse(x, y): x ranks below y (for topk: smaller, NaN smallest).
    auto worse = [&](std::size_t x, std::size_t y) {
      return top ? value_less(vec[x].v, vec[y].v) : value_greater(vec[x].v, vec[y].v);
    };
    // std heaps keep the greatest on top: "greatest" here is the worst.
    auto heap_cmp = [&](std::size_t x, std::size_t y) { return worse(y, x); };
    if (heap.size() < k) {
      heap.push_back(i);
      std::push_heap(heap.begin(), heap.end(), heap_cmp);
      return;
    }
    const double worst = vec[heap.front()].v;
    const bool replace =
        top ? (worst < vec[i].v || std::isnan(worst)) : (worst > vec[i].v || std::isnan(worst));
    if (!replace) return;
    std::pop_heap(heap.begin(), heap.end(), heap_cmp);
    heap.back() = i;
    std::push_heap(heap.begin(), heap.end(), heap_cmp);
  }

  // --- Functions ----------------------------------------------------------

  double scalar_arg(const Expr& e, std::int64_t t) { return std::get<Scalar>(eval(e, t)).v; }
  std::string string_arg(const Expr& e, std::int64_t t) { return std::get<String>(eval(e, t)).v; }
  IVector vec_arg(const Expr& e, std::int64_t t) { return std::get<IVector>(eval(e, t)); }

  template <class F>
  IVector map_values(IVector vec, std::int64_t t, F&& f) {
    const bool one_name = same_metric_name(vec);
    for (auto& e : vec) e = Elem{without_name(e), t, f(e.v)};
    if (!one_name) check_unique_labels(vec);
    return vec;
  }

  // Applies f(samples) -> optional value to each series of a range vector;
  // the result keeps the series' labels without the metric name (or all
  // of them, for last_over_time as in Prometheus 2.x).
  template <class F>
  IVector map_ranges(const Expr& arg, std::int64_t t, bool keep_name, F&& f) {
    MatrixView m = std::get<MatrixView>(eval(arg, t));
    IVector out;
    out.reserve(m.size());
    for (const auto& ref : m) {
      std::optional<double> v = f(ref.samples);
      if (!v) continue;
      if (keep_name) {
        out.push_back(Elem{Labels(&ref.series->labels), t, *v, ref.series});
      } else {
        out.push_back(Elem{Labels(&ref.series->labels_without_name), t, *v});
      }
    }
    if (!keep_name &&
        !loaded(std::get<MatrixSelector>(unwrap_parens(arg).node).selector).unique_without_name)
      check_unique_labels(out);
    return out;
  }

  EvalValue eval_node(const Call& c, const Expr&, std::int64_t t) {
    using F = FunctionId;
    const auto& args = c.args;
    switch (c.function->id) {
      case F::kTime:
        return Scalar{t, static_cast<double>(t) / 1000};
      case F::kVector: {
        IVector out;
        out.push_back(Elem{Labels(), t, scalar_arg(*args[0], t)});
        return out;
      }
      case F::kScalar: {
        IVector v = vec_arg(*args[0], t);
        return Scalar{t, v.size() == 1 ? v[0].v : kNaN};
      }
      case F::kTimestamp: {
        const bool selector = std::holds_alternative<VectorSelector>(unwrap_parens(*args[0]).node);
        IVector v = vec_arg(*args[0], t);
        const bool one_name = same_metric_name(v);
        for (auto& e : v)
          e = Elem{without_name(e), t, static_cast<double>(selector ? e.t : t) / 1000};
        if (!one_name) check_unique_labels(v);
        return v;
      }
      case F::kAbsent: {
        IVector v = vec_arg(*args[0], t);
        IVector out;
        if (v.empty()) out.push_back(Elem{Labels(absent_labels(unwrap_parens(*args[0]))), t, 1});
        return out;
      }
      case F::kAbsentOverTime: {
        MatrixView m = std::get<MatrixView>(eval(*args[0], t));
        IVector out;
        if (m.empty()) out.push_back(Elem{Labels(absent_labels(unwrap_parens(*args[0]))), t, 1});
        return out;
      }
      case F::kAbs:
        return map_values(vec_arg(*args[0], t), t, [](double v) { return std::fabs(v); });
      case F::kCeil:
        return map_values(vec_arg(*args[0], t), t, [](double v) { return std::ceil(v); });
      case F::kFloor:
        return map_values(vec_arg(*args[0], t), t, [](double v) { return std::floor(v); });
      case F::kExp:
        return map_values(vec_arg(*args[0], t), t, [](double v) { return std::exp(v); });
      case F::kSqrt:
        return map_values(vec_arg(*args[0], t), t, [](double v) { return std::sqrt(v); });
      case F::kLn:
        return map_values(vec_arg(*args[0], t), t, [](double v) { return std::log(v); });
      case F::kLog2:
        return map_values(vec_arg(*args[0], t), t, [](double v) { return std::log2(v); });
      case F::kLog10:
        return map_values(vec_arg(*args[0], t), t, [](double v) { return std::log10(v); });
      case F::kSgn:
        return map_values(vec_arg(*args[0], t), t, [](double v) {
          return v < 0 ? -1.0 : v > 0 ? 1.0 : v;
        });
      case F::kRound: {
        IVector v = vec_arg(*args[0], t);
        const double to_nearest = args.size() > 1 ? scalar_arg(*args[1], t) : 1.0;
        const double inverse = 1.0 / to_nearest;
        return map_values(std::move(v), t,
                          [inverse](double x) { return std::floor(x * inverse + 0.5) / inverse; });
      }
      case F::kClamp: {
        IVector v = vec_arg(*args[0], t);
        const double min = scalar_arg(*args[1], t);
        const double max = scalar_arg(*args[2], t);
        if (max < min) return IVector{};
        return map_values(std::move(v), t, [min, max](double x) {
          return detail::go_max(min, detail::go_min(max, x));
        });
      }
      case F::kClampMin: {
        IVector v = vec_arg(*args[0], t);
        const double min = scalar_arg(*args[1], t);
        return map_values(std::move(v), t, [min](double x) { return detail::go_max(min, x); });
      }
      case F::kClampMax: {
        IVector v = vec_arg(*args[0], t);
        const double max = scalar_arg(*args[1], t);
        return map_values(std::move(v), t, [max](double x) { return detail::go_min(max, x); });
      }
      case F::kSort:
      case F::kSortDesc: {
        IVector v = vec_arg(*args[0], t);
        const bool desc = c.function->id == F::kSortDesc;
        // NaN last either way, as Prometheus.
        std::stable_sort(v.begin(), v.end(), [desc](const Elem& a, const Elem& b) {
          if (std::isnan(a.v)) return false;
          if (std::isnan(b.v)) return true;
          return desc ? a.v > b.v : a.v < b.v;
        });
        for (auto& e : v) e.t = t;
        return v;
      }
      case F::kHistogramQuantile:
        return histogram_quantile(scalar_arg(*args[0], t), vec_arg(*args[1], t), t);
      case F::kLabelReplace:
        return label_replace(c, t);
      case F::kLabelJoin:
        return label_join(c, t);

      case F::kRate:
      case F::kIncrease:
      case F::kDelta: {
        // rate((x[5m])) is rate(x[5m]), as in Prometheus.
        const auto& ms = std::get<MatrixSelector>(unwrap_parens(*args[0]).node);
        const std::int64_t range_end = sat_sub(t, ms.selector.offset_ms);
        const std::int64_t range_start = sat_sub(range_end, ms.range_ms);
        const bool counter = c.function->id != F::kDelta;
        const bool rate = c.function->id == F::kRate;
        return map_ranges(*args[0], t, false, [&](std::span<const Sample> s) {
          return detail::extrapolated_rate(s, range_start, range_end, counter, rate);
        });
      }
      case F::kIrate:
      case F::kIdelta: {
        const bool rate = c.function->id == F::kIrate;
        return map_ranges(*args[0], t, false, [rate](std::span<const Sample> s) {
          return detail::instant_value(s, rate);
        });
      }
      case F::kChanges:
        return map_ranges(*args[0], t, false, [](std::span<const Sample> s) {
          return std::optional<double>(detail::changes(s));
        });
      case F::kResets:
        return map_ranges(*args[0], t, false, [](std::span<const Sample> s) {
          return std::optional<double>(detail::resets(s));
        });
      case F::kAvgOverTime:
        return map_ranges(*args[0], t, false, [](std::span<const Sample> s) {
          return std::optional<double>(detail::avg_over_time(s));
        });
      case F::kSumOverTime:
        return map_ranges(*args[0], t, false, [](std::span<const Sample> s) {
          return std::optional<double>(detail::sum_over_time(s));
        });
      case F::kMinOverTime:
        return map_ranges(*args[0], t, false, [](std::span<const Sample> s) {
          return std::optional<double>(detail::min_over_time(s));
        });
      case F::kMaxOverTime:
        return map_ranges(*args[0], t, false, [](std::span<const Sample> s) {
          return std::optional<double>(detail::max_over_time(s));
        });
      case F::kCountOverTime:
        return map_ranges(*args[0], t, false, [](std::span<const Sample> s) {
          return std::optional<double>(static_cast<double>(s.size()));
        });
      case F::kLastOverTime:
        return map_ranges(*args[0], t, true, [](std::span<const Sample> s) {
          return std::optional<double>(s.back().v);
        });
      case F::kPresentOverTime:
        return map_ranges(*args[0], t, false,
                          [](std::span<const Sample>) { return std::optional<double>(1.0); });
      case F::kStddevOverTime:
        return map_ranges(*args[0], t, false, [](std::span<const Sample> s) {
          return std::optional<double>(std::sqrt(detail::stdvar_over_time(s)));
        });
      case F::kStdvarOverTime:
        return map_ranges(*args[0], t, false, [](std::span<const Sample> s) {
          return std::optional<double>(detail::stdvar_over_time(s));
        });
      case F::kQuantileOverTime: {
        const double q = scalar_arg(*args[0], t);
        std::vector<double> values;
        return map_ranges(*args[1], t, false, [&](std::span<const Sample> s) {
          values.clear();
          for (const auto& p : s) values.push_back(p.v);
          return std::optional<double>(detail::quantile(q, values));
        });
      }
    }
    throw EvalError{ErrorKind::kInternal, "unknown function"};
  }

  IVector histogram_quantile(double q, const IVector& vec, std::int64_t t) {
    struct Group {
      Labels labels;
      std::vector<detail::Bucket> buckets;
    };
    std::vector<Group> groups;
    std::unordered_map<std::string, std::size_t> index;
    static const std::vector<std::string> kLe = {"le"};
    std::string key;
    for (const auto& e : vec) {
      auto bound = parse_go_float(e.labels->get("le"));
      if (!bound) continue;
      // The signature: every label but le; the metric name included, so two
      // histograms with the same other labels stay apart.
      key_without(key, *e.labels, kLe);
      auto it = index.find(key);
      if (it == index.end()) {
        it = index.emplace(key, groups.size()).first;
        groups.push_back(Group{Labels(e.labels->without("le").without_metric_name()), {}});
      }
      groups[it->second].buckets.push_back(detail::Bucket{*bound, e.v});
    }
    IVector out;
    out.reserve(groups.size());
    for (auto& g : groups)
      out.push_back(Elem{std::move(g.labels), t, detail::bucket_quantile(q, g.buckets)});
    check_unique_labels(out);
    return out;
  }

  IVector label_replace(const Call& c, std::int64_t t) {
    IVector v = vec_arg(*c.args[0], t);
    const std::string dst = string_arg(*c.args[1], t);
    const std::string repl = string_arg(*c.args[2], t);
    const std::string src = string_arg(*c.args[3], t);
    const std::string re = string_arg(*c.args[4], t);
    auto& compiled = regex_cache_[re];  // compiled once per query, not per step
    if (!compiled.regex && compiled.error.empty()) compiled = compile_regex(re);
    if (!compiled.regex)
      throw EvalError{ErrorKind::kBadData,
                      fmt::format("invalid regular expression in label_replace(): {}", re)};
    if (!valid_label_name(dst))
      throw EvalError{ErrorKind::kBadData,
                      fmt::format("invalid destination label name in label_replace(): {}", dst)};
    std::vector<goregexp::Span> groups(
        static_cast<std::size_t>(compiled.regex->NumberOfCapturingGroups()) + 1);
    for (auto& e : v) {
      const std::string value(e.labels->get(src));
      if (goregexp::match(*compiled.regex, value, groups)) {
        e.labels =
            Labels(e.labels->with(dst, expand_template(repl, value, groups, *compiled.regex)));
        e.series = nullptr;
      }
      e.t = t;
    }
    check_unique_labels(v);
    return v;
  }

  IVector label_join(const Call& c, std::int64_t t) {
    IVector v = vec_arg(*c.args[0], t);
    const std::string dst = string_arg(*c.args[1], t);
    const std::string sep = string_arg(*c.args[2], t);
    std::vector<std::string> srcs;
    for (std::size_t i = 3; i < c.args.size(); ++i) {
      srcs.push_back(string_arg(*c.args[i], t));
      if (!valid_label_name(srcs.back()))
        throw EvalError{ErrorKind::kBadData,
                        fmt::format("invalid source label name in label_join(): {}", srcs.back())};
    }
    if (!valid_label_name(dst))
      throw EvalError{ErrorKind::kBadData,
                      fmt::format("invalid destination label name in label_join(): {}", dst)};
    for (auto& e : v) {
      std::string joined;
      for (std::size_t i = 0; i < srcs.size(); ++i) {
        if (i) joined.append(sep);
        joined.append(e.labels->get(srcs[i]));
      }
      e.labels = Labels(e.labels->with(dst, joined));
      e.series = nullptr;
      e.t = t;
    }
    check_unique_labels(v);
    return v;
  }

  const Queryable& storage_;
  const EngineOptions& options_;
  std::int64_t start_;
  std::int64_t end_;
  Clock::time_point deadline_;
  std::unordered_map<const VectorSelector*, LoadedSelector> data_;
  std::unordered_map<std::string, RegexResult> regex_cache_;
  std::size_t samples_ = 0;

 public:
  std::size_t samples() const { return samples_; }
};

Clock::time_point deadline_for(const EngineOptions& e, const QueryOptions& q) {
  return q.deadline ? *q.deadline : Clock::now() + e.timeout;
}

QueryResult error_result(ErrorKind kind, std::string message) {
  QueryResult r;
  r.error = Error{kind, std::move(message)};
  return r;
}

}  // namespace

Engine::Engine(const Queryable& storage, EngineOptions options)
    : storage_(storage), options_(std::move(options)) {}

QueryResult Engine::instant_query(std::string_view query, std::int64_t t_ms,
                                  const QueryOptions& options) const {
  ParseResult parsed = parse(query, options_.parse);
  if (!parsed.ok()) return error_result(ErrorKind::kBadData, parsed.error->to_string());
  return instant_query(*parsed.expr, t_ms, options);
}

QueryResult Engine::instant_query(const Expr& expr, std::int64_t t_ms,
                                  const QueryOptions& options) const {
  try {
    Evaluator ev(storage_, options_, t_ms, t_ms, deadline_for(options_, options));
    ev.check_deadline();
    ev.load(expr);
    EvalValue v = ev.eval(expr, t_ms);
    QueryResult r;
    switch (v.index()) {
      case 0:
        r.value = std::get<Scalar>(std::move(v));
        break;
      case 1:
        r.value = std::get<String>(std::move(v));
        break;
      case 2: {
        const IVector& iv = std::get<IVector>(v);
        Vector vec;
        vec.reserve(iv.size());
        for (const auto& e : iv) vec.push_back(VectorSample{*e.labels, t_ms, e.v});
        r.value = std::move(vec);
        break;
      }
      default: {
        Matrix m;
        for (const auto& ref : std::get<MatrixView>(v)) {
          m.push_back(Series{ref.series->labels,
                             std::vector<Sample>(ref.samples.begin(), ref.samples.end())});
        }
        r.value = std::move(m);
      }
    }
    r.samples = ev.samples();
    return r;
  } catch (const EvalError& e) {
    return error_result(e.kind, e.message);
  } catch (const std::bad_alloc&) {
    return error_result(ErrorKind::kExecution, "out of memory in query execution");
  }
}

QueryResult Engine::range_query(std::string_view query, std::int64_t start_ms, std::int64_t end_ms,
                                std::int64_t step_ms, const QueryOptions& options) const {
  ParseResult parsed = parse(query, options_.parse);
  if (!parsed.ok()) return error_result(ErrorKind::kBadData, parsed.error->to_string());
  return range_query(*parsed.expr, start_ms, end_ms, step_ms, options);
}

QueryResult Engine::range_query(const Expr& expr, std::int64_t start_ms, std::int64_t end_ms,
                                std::int64_t step_ms, const QueryOptions& options) const {
  if (step_ms <= 0)
    return error_result(ErrorKind::kBadData,
                        "zero or negative query resolution step widths are not accepted. Try a "
                        "positive integer");
  if (end_ms < start_ms)
    return error_result(ErrorKind::kBadData, "end timestamp must not be before start time");
  const auto steps =
      static_cast<std::uint64_t>(end_ms - start_ms) / static_cast<std::uint64_t>(step_ms) + 1;
  if (steps > options_.max_steps)
    return error_result(ErrorKind::kBadData,
                        fmt::format("exceeded maximum resolution of {} points per timeseries. Try "
                                    "decreasing the query resolution (?step=XX)",
                                    options_.max_steps));
  const ValueType type = expr.type();
  if (type != ValueType::kScalar && type != ValueType::kVector)
    return error_result(ErrorKind::kBadData,
                        fmt::format("invalid expression type \"{}\" for range query, must be "
                                    "Scalar or instant Vector",
                                    value_type_name(type)));
  try {
    Evaluator ev(storage_, options_, start_ms, end_ms, deadline_for(options_, options));
    ev.check_deadline();
    ev.load(expr);
    Matrix out;
    std::unordered_multimap<std::uint64_t, std::size_t> index;
    auto series_for = [&](const LabelSet& labels) -> Series& {
      const auto h = labels.hash();
      auto [it, end] = index.equal_range(h);
      for (; it != end; ++it)
        if (out[it->second].labels == labels) return out[it->second];
      index.emplace(h, out.size());
      out.push_back(Series{labels, {}});
      return out.back();
    };
    for (std::uint64_t i = 0; i < steps; ++i) {
      const std::int64_t t = start_ms + static_cast<std::int64_t>(i) * step_ms;
      ev.check_deadline();
      EvalValue v = ev.eval(expr, t);
      if (auto* s = std::get_if<Scalar>(&v)) {
        series_for(LabelSet{}).samples.push_back(Sample{t, s->v});
        ev.account(1);
        continue;
      }
      const IVector& vec = std::get<IVector>(v);
      for (const auto& e : vec) series_for(*e.labels).samples.push_back(Sample{t, e.v});
      ev.account(vec.size());
    }
    std::sort(out.begin(), out.end(),
              [](const Series& a, const Series& b) { return a.labels < b.labels; });
    QueryResult r;
    r.value = std::move(out);
    r.samples = ev.samples();
    return r;
  } catch (const EvalError& e) {
    return error_result(e.kind, e.message);
  } catch (const std::bad_alloc&) {
    return error_result(ErrorKind::kExecution, "out of memory in query execution");
  }
}

}  // namespace watch::promql
