#include "watch/rules/series_notation.h"

#include <charconv>

#include <fmt/format.h>

#include "watch/promql/format.h"
#include "watch/promql/parser.h"

namespace watch::rules {

SeriesParse parse_series_labels(std::string_view series) {
  SeriesParse out;
  auto r = promql::parse_selector(series);
  if (!r.ok()) {
    out.error = r.error->to_string();
    return out;
  }
  std::vector<Label> labels;
  for (const auto& m : r.matchers) {
    if (m.op != Matcher::Op::kEqual) {
      out.error = fmt::format("series {}: labels must use =", series);
      return out;
    }
    labels.push_back({m.name, m.value});
  }
  out.labels = LabelSet::from(std::move(labels));
  return out;
}

SeriesParse expand_series_values(std::string_view values, std::int64_t interval_ms) {
  SeriesParse out;
  std::int64_t step = 0;
  auto bad = [&](std::string_view tok) {
    out.error = fmt::format("bad value in series values: \"{}\"", tok);
    out.samples.clear();
    return out;
  };
  auto push = [&](std::optional<double> v) {
    if (v) out.samples.push_back({step * interval_ms, *v});
    ++step;
  };
  auto number = [](std::string_view s) -> std::optional<double> {
    if (s == "stale") return stale_nan();
    return promql::parse_go_float(s);
  };
  std::size_t i = 0;
  while (i < values.size()) {
    while (i < values.size() && (values[i] == ' ' || values[i] == '\t' || values[i] == '\n')) ++i;
    if (i >= values.size()) break;
    std::size_t j = i;
    while (j < values.size() && values[j] != ' ' && values[j] != '\t' && values[j] != '\n') ++j;
    const std::string_view tok = values.substr(i, j - i);
    i = j;
    const std::size_t x = tok.find('x');
    if (x == std::string_view::npos) {
      if (tok == "_") {
        push(std::nullopt);
        continue;
      }
      auto v = number(tok);
      if (!v) return bad(tok);
      push(*v);
      continue;
    }
    std::int64_t n = 0;
    const std::string_view count = tok.substr(x + 1);
    auto [p, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
    if (ec != std::errc() || p != count.data() + count.size() || n < 0 || n > 1'000'000)
      return bad(tok);
    const std::string_view head = tok.substr(0, x);
    if (head == "_") {
      for (std::int64_t k = 0; k < n; ++k) push(std::nullopt);
      continue;
    }
    // a+b or a-b; the sign of a may lead, and exponents carry signs (1e-3).
    std::size_t op = std::string_view::npos;
    for (std::size_t k = 1; k < head.size(); ++k)
      if ((head[k] == '+' || head[k] == '-') && head[k - 1] != 'e' && head[k - 1] != 'E') {
        op = k;
        break;
      }
    if (op == std::string_view::npos) {
      auto a = number(head);
      if (!a) return bad(tok);
      for (std::int64_t k = 0; k <= n; ++k) push(*a);
      continue;
    }
    auto a = number(head.substr(0, op));
    auto b = number(head.substr(op + 1));
    if (!a || !b) return bad(tok);
    double inc = head[op] == '-' ? -*b : *b;
    double v = *a;
    push(v);
    for (std::int64_t k = 1; k <= n; ++k) push(v += inc);
  }
  return out;
}

}  // namespace watch::rules
