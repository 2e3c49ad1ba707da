#include "watch/silence/silence.h"

#include <re2/re2.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <mutex>
#include <optional>
#include <utility>

#include "watch/goregexp/goregexp.h"
#include "watch/gotext/gotext.h"
#include "watch/silence/internal.h"

namespace watch::silence {
namespace {

// Go's zero time.Time, 0001-01-01T00:00:00Z, which validateSilence refuses.
constexpr std::int64_t kGoZeroTimeMs = -62'135'596'800'000LL;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  if (b > 0 && a > std::numeric_limits<std::int64_t>::max() - b) {
    return std::numeric_limits<std::int64_t>::max();
  }
  if (b < 0 && a < std::numeric_limits<std::int64_t>::min() - b) {
    return std::numeric_limits<std::int64_t>::min();
  }
  return a + b;
}

bool is_ascii_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// model.LabelName.IsValid of Alertmanager 0.25.
bool is_valid_label_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), is_ascii_word);
}

// The regex Alertmanager runs for a matcher, ^(?:pattern)$; nullptr when Go
// refuses the pattern alone (validateSilence does) or anchored. Anchoring
// can fail although the pattern alone is fine: an unclosed \Q quotes the
// ")$" too, and the wrapper can make the tree one level too tall.
std::unique_ptr<re2::RE2> compile_anchored(std::string_view pattern) {
  if (!goregexp::compile(pattern, goregexp::Groups::kMatchOnly)) return nullptr;
  return goregexp::compile(goregexp::anchored(pattern), goregexp::Groups::kMatchOnly);
}

bool matcher_holds(const SilenceMatcher& m, const re2::RE2* regex, const LabelSet& labels) {
  const std::string_view value = labels.get(m.name);
  const bool equal = m.is_regex ? goregexp::match(*regex, value) : value == m.value;
  return equal == m.is_equal;
}

std::size_t silence_bytes(const Silence& s) {
  std::size_t n = s.id.size() + s.created_by.size() + s.comment.size();
  for (const SilenceMatcher& m : s.matchers) n += m.name.size() + m.value.size();
  return n;
}

// validateSilence (0.25), for a silence whose updatedAt is set by the caller.
std::string check_silence(const Silence& s,
                          std::vector<std::shared_ptr<const re2::RE2>>* compiled) {
  std::string problem = detail::check_matchers(s.matchers, compiled);
  if (!problem.empty()) return problem;
  if (s.starts_at_ms == kGoZeroTimeMs) return "invalid zero start timestamp";
  if (s.ends_at_ms == kGoZeroTimeMs) return "invalid zero end timestamp";
  if (s.ends_at_ms < s.starts_at_ms) return "end time must not be before start time";
  return {};
}

// canUpdate (0.25): whether `a` may become `b` in place without rewriting
// what it silenced so far.
bool can_update(const Silence& a, const Silence& b, std::int64_t now) {
  if (a.matchers != b.matchers) return false;
  switch (state_of(a, now)) {
    case SilenceState::kActive:
      // Go compares Unix seconds: moving startsAt within its second is fine.
      return floor_div(a.starts_at_ms, 1000) == floor_div(b.starts_at_ms, 1000) &&
             b.ends_at_ms >= now;
    case SilenceState::kPending:
      return b.starts_at_ms >= now;
    case SilenceState::kExpired:
      return false;
  }
  return false;
}

int state_rank(SilenceState state) {
  switch (state) {
    case SilenceState::kActive:
      return 0;
    case SilenceState::kPending:
      return 1;
    case SilenceState::kExpired:
      return 2;
  }
  return 3;
}

}  // namespace

// ---------------------------------------------------------------------------
// Shared helpers (internal.h).

namespace detail {

void append_json_string(std::string& out, std::string_view s, bool escape_html) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (b == '"' || b == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(b));
      } else if (b == '\n') {
        out += "\\n";
      } else if (b == '\r') {
        out += "\\r";
      } else if (b == '\t') {
        out += "\\t";
      } else if (b < 0x20 || (escape_html && (b == '<' || b == '>' || b == '&'))) {
        out += "\\u00";
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 0xF]);
      } else {
        out.push_back(static_cast<char>(b));
      }
      ++i;
      continue;
    }
    const gotext::Rune r = gotext::decode_rune(s, i);
    if (!r.valid) {
      out += "\\ufffd";
    } else if (r.value == 0x2028 || r.value == 0x2029) {
      out += r.value == 0x2028 ? "\\u2028" : "\\u2029";
    } else {
      out.append(s.substr(i, r.width));
    }
    i += r.width;
  }
  out.push_back('"');
}

std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  // Counts from 0000-03-01 so that the leap day ends each 4/100/400-year cycle.
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = floor_div(year, 400);
  const std::int64_t year_of_era = year - era * 400;
  const std::int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const std::int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146'097 + day_of_era - 719'468;
}

CivilDate civil_from_days(std::int64_t days) {
  days += 719'468;
  const std::int64_t era = floor_div(days, 146'097);
  const std::int64_t day_of_era = days - era * 146'097;
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36'524 - day_of_era / 146'096) / 365;
  const std::int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::int64_t month_from_march = (5 * day_of_year + 2) / 153;
  const auto day = static_cast<unsigned>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  const auto month =
      static_cast<unsigned>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  const std::int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  return {year, month, day};
}

std::string format_time(std::int64_t ms) {
  const std::int64_t seconds = floor_div(ms, 1000);
  const std::int64_t millis = ms - seconds * 1000;
  const std::int64_t days = floor_div(seconds, 86'400);
  const std::int64_t second_of_day = seconds - days * 86'400;
  const CivilDate date = civil_from_days(days);
  // Go writes at least four digits of the year, after the sign.
  const std::string year =
      date.year < 0 ? fmt::format("-{:04}", -date.year) : fmt::format("{:04}", date.year);
  return fmt::format("{}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", year, date.month, date.day,
                     second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60, millis);
}

std::string check_matchers(const std::vector<SilenceMatcher>& matchers,
                           std::vector<std::shared_ptr<const re2::RE2>>* compiled) {
  if (matchers.empty()) return "at least one matcher required";
  bool all_match_empty = true;
  for (std::size_t i = 0; i < matchers.size(); ++i) {
    const SilenceMatcher& m = matchers[i];
    if (!is_valid_label_name(m.name)) {
      return fmt::format("invalid label matcher {}: invalid label name {}", i,
                         gotext::go_quote(m.name));
    }
    bool matches_empty = false;
    std::shared_ptr<const re2::RE2> anchored;
    if (!m.is_regex) {
      if (!gotext::is_valid_utf8(m.value)) {
        return fmt::format("invalid label matcher {}: invalid label value {}", i,
                           gotext::go_quote(m.value));
      }
      matches_empty = m.is_equal && m.value.empty();
    } else {
      goregexp::SyntaxError error;
      const std::unique_ptr<re2::RE2> raw =
          goregexp::compile(m.value, goregexp::Groups::kMatchOnly, &error);
      if (!raw) {
        return fmt::format("invalid label matcher {}: invalid regular expression {}: {}", i,
                           gotext::go_quote(m.value), goregexp::message(error));
      }
      // Alertmanager asks the unanchored pattern, which for "" is the same.
      matches_empty = m.is_equal && re2::RE2::PartialMatch("", *raw);
      if (compiled != nullptr) {
        anchored = goregexp::compile(goregexp::anchored(m.value), goregexp::Groups::kMatchOnly);
      }
    }
    all_match_empty = all_match_empty && matches_empty;
    if (compiled != nullptr) compiled->push_back(std::move(anchored));
  }
  if (all_match_empty) return "at least one matcher must not match the empty string";
  return {};
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Free functions.

std::string_view to_string(SilenceState state) {
  switch (state) {
    case SilenceState::kPending:
      return "pending";
    case SilenceState::kActive:
      return "active";
    case SilenceState::kExpired:
      return "expired";
  }
  return "unknown";
}

SilenceState state_of(const Silence& s, std::int64_t now_ms) {
  if (now_ms < s.starts_at_ms) return SilenceState::kPending;
  if (now_ms < s.ends_at_ms) return SilenceState::kActive;
  return SilenceState::kExpired;
}

bool matches(const Silence& s, const LabelSet& labels) {
  for (const SilenceMatcher& m : s.matchers) {
    std::unique_ptr<re2::RE2> regex;
    if (m.is_regex) {
      regex = compile_anchored(m.value);
      if (!regex) return false;
    }
    if (!matcher_holds(m, regex.get(), labels)) return false;
  }
  return true;
}

void sort_silences(std::vector<Silence>& silences, std::int64_t now_ms) {
  std::sort(silences.begin(), silences.end(), [now_ms](const Silence& a, const Silence& b) {
    const SilenceState sa = state_of(a, now_ms);
    const SilenceState sb = state_of(b, now_ms);
    if (sa != sb) return state_rank(sa) < state_rank(sb);
    switch (sa) {
      case SilenceState::kActive:
        if (a.ends_at_ms != b.ends_at_ms) return a.ends_at_ms < b.ends_at_ms;
        break;
      case SilenceState::kPending:
        if (a.starts_at_ms != b.starts_at_ms) return a.starts_at_ms < b.starts_at_ms;
        break;
      case SilenceState::kExpired:
        if (a.ends_at_ms != b.ends_at_ms) return a.ends_at_ms > b.ends_at_ms;
        break;
    }
    if (a.updated_at_ms != b.updated_at_ms) return a.updated_at_ms < b.updated_at_ms;
    return a.id < b.id;
  });
}

bool matches_filter(const Silence& s, std::span<const SilenceMatcher> filter) {
  return std::all_of(filter.begin(), filter.end(), [&](const SilenceMatcher& f) {
    return std::find(s.matchers.begin(), s.matchers.end(), f) != s.matchers.end();
  });
}

// ---------------------------------------------------------------------------
// Silences.

struct Silences::Entry {
  Silence silence;
  // Parallel to silence.matchers: the anchored regex of =~ and !~, null for
  // = and !=.
  std::vector<std::shared_ptr<const re2::RE2>> regexes;
  // False when a regex matcher cannot run (see compile_anchored): the
  // silence mutes nothing. (In 0.25 such a silence makes every query of
  // silences fail, so that no alert is muted at all.)
  bool usable = true;

  void compile() {
    regexes.clear();
    usable = true;
    for (const SilenceMatcher& m : silence.matchers) {
      std::shared_ptr<const re2::RE2> regex;
      if (m.is_regex) {
        regex = compile_anchored(m.value);
        if (!regex) usable = false;
      }
      regexes.push_back(std::move(regex));
    }
  }

  bool matches(const LabelSet& labels) const {
    for (std::size_t i = 0; i < silence.matchers.size(); ++i) {
      if (!matcher_holds(silence.matchers[i], regexes[i].get(), labels)) return false;
    }
    return true;
  }
};

Silences::Silences(Options options) : options_(options) {
  if (options_.clock == nullptr) options_.clock = &firebreak::Clock::system();
  std::random_device device;
  std::seed_seq seed{device(), device(), device(), device(),
                     device(), device(), device(), device()};
  random_.seed(seed);
}

Silences::~Silences() = default;

std::int64_t Silences::now_ms() const {
  return std::chrono::floor<std::chrono::milliseconds>(
             options_.clock->wall_now().time_since_epoch())
      .count();
}

std::string Silences::new_id() {
  static constexpr char kHex[] = "0123456789abcdef";
  for (;;) {
    std::array<unsigned char, 16> bytes{};
    for (std::size_t half = 0; half < 2; ++half) {
      std::uint64_t word = random_();
      for (std::size_t i = 0; i < 8; ++i, word >>= 8) {
        bytes[half * 8 + i] = static_cast<unsigned char>(word);
      }
    }
    bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0F) | 0x40);  // version 4
    bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
    std::string id;
    id.reserve(36);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
      id.push_back(kHex[bytes[i] >> 4]);
      id.push_back(kHex[bytes[i] & 0x0F]);
    }
    if (!silences_.contains(id)) return id;
  }
}

void Silences::expire_locked(Entry& entry, std::int64_t now) {
  Silence& s = entry.silence;
  switch (state_of(s, now)) {
    case SilenceState::kExpired:
      return;
    case SilenceState::kActive:
      s.ends_at_ms = now;
      break;
    case SilenceState::kPending:
      s.starts_at_ms = now;
      s.ends_at_ms = now;
      break;
  }
  s.updated_at_ms = now;
  ++version_;
}

std::size_t Silences::gc_locked(std::int64_t now) {
  const std::size_t before = silences_.size();
  std::erase_if(silences_, [&](const auto& item) {
    return saturating_add(item.second->silence.ends_at_ms, options_.retention_ms) <= now;
  });
  const std::size_t dropped = before - silences_.size();
  if (dropped > 0) ++version_;
  return dropped;
}

SetResult Silences::set(Silence s) {
  const auto refuse = [](std::string error, int status) {
    return SetResult{.id = {}, .error = std::move(error), .http_status = status};
  };
  std::unique_lock lock(mu_);
  const std::int64_t now = now_ms();

  Entry* previous = nullptr;
  if (!s.id.empty()) {
    const auto it = silences_.find(s.id);
    if (it == silences_.end()) return refuse("silence not found", 404);
    previous = it->second.get();
  }
  const bool in_place = previous != nullptr && can_update(previous->silence, s, now);
  if (!in_place && s.starts_at_ms < now) s.starts_at_ms = now;

  if (s.matchers.size() > options_.max_matchers) {
    return refuse(fmt::format("silence has too many matchers: {} (limit: {})", s.matchers.size(),
                              options_.max_matchers),
                  400);
  }
  if (const std::size_t bytes = silence_bytes(s); bytes > options_.max_silence_bytes) {
    return refuse(fmt::format("silence exceeded maximum size: {} bytes (limit: {} bytes)", bytes,
                              options_.max_silence_bytes),
                  400);
  }
  auto entry = std::make_unique<Entry>();
  if (std::string problem = check_silence(s, &entry->regexes); !problem.empty()) {
    return refuse("silence invalid: " + problem, 400);
  }
  for (std::size_t i = 0; i < s.matchers.size(); ++i) {
    if (s.matchers[i].is_regex && !entry->regexes[i]) entry->usable = false;
  }
  s.updated_at_ms = now;

  if (in_place) {
    entry->silence = std::move(s);
    *previous = std::move(*entry);
    ++version_;
    return {.id = previous->silence.id};
  }
  if (silences_.size() + 1 > options_.max_silences) gc_locked(now);
  if (silences_.size() + 1 > options_.max_silences) {
    return refuse(fmt::format("exceeded maximum number of silences: {} (limit: {})",
                              silences_.size(), options_.max_silences),
                  400);
  }
  if (previous != nullptr) expire_locked(*previous, now);
  s.id = new_id();
  std::string id = s.id;
  entry->silence = std::move(s);
  silences_.emplace(id, std::move(entry));
  ++version_;
  return {.id = std::move(id)};
}

std::optional<std::string> Silences::expire(std::string_view id) {
  std::unique_lock lock(mu_);
  const auto it = silences_.find(id);
  if (it == silences_.end()) return "silence not found";
  expire_locked(*it->second, now_ms());
  return std::nullopt;
}

std::optional<Silence> Silences::get(std::string_view id) const {
  std::shared_lock lock(mu_);
  const auto it = silences_.find(id);
  if (it == silences_.end()) return std::nullopt;
  return it->second->silence;
}

std::vector<Silence> Silences::query(std::optional<SilenceState> state,
                                     std::span<const SilenceMatcher> filter) const {
  std::vector<Silence> out;
  std::int64_t now = 0;
  {
    std::shared_lock lock(mu_);
    now = now_ms();
    for (const auto& [id, entry] : silences_) {
      const Silence& s = entry->silence;
      if (state && state_of(s, now) != *state) continue;
      if (!matches_filter(s, filter)) continue;
      out.push_back(s);
    }
  }
  sort_silences(out, now);
  return out;
}

std::vector<std::string> Silences::mutes(const LabelSet& alert_labels) const {
  std::vector<std::string> ids;
  std::shared_lock lock(mu_);
  const std::int64_t now = now_ms();
  // The map is ordered by id, so the result comes out sorted.
  for (const auto& [id, entry] : silences_) {
    if (!entry->usable || state_of(entry->silence, now) != SilenceState::kActive) continue;
    if (entry->matches(alert_labels)) ids.push_back(id);
  }
  return ids;
}

std::size_t Silences::gc() {
  std::unique_lock lock(mu_);
  return gc_locked(now_ms());
}

std::vector<Silence> Silences::snapshot() const {
  std::shared_lock lock(mu_);
  std::vector<Silence> out;
  out.reserve(silences_.size());
  for (const auto& [id, entry] : silences_) out.push_back(entry->silence);
  return out;
}

void Silences::restore(std::vector<Silence> silences) {
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> loaded;
  for (Silence& s : silences) {
    auto entry = std::make_unique<Entry>();
    std::string id = s.id;
    entry->silence = std::move(s);
    entry->compile();
    loaded.insert_or_assign(std::move(id), std::move(entry));
  }
  std::unique_lock lock(mu_);
  silences_ = std::move(loaded);
  ++version_;
}

std::size_t Silences::size() const {
  std::shared_lock lock(mu_);
  return silences_.size();
}

std::uint64_t Silences::version() const {
  std::shared_lock lock(mu_);
  return version_;
}

}  // namespace watch::silence
