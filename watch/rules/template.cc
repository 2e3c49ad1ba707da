#include "watch/rules/template.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <regex>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "watch/promql/format.h"

namespace watch::rules {
namespace {

// ---- numbers, as Go's fmt prints them -------------------------------------

std::string special(double v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "+Inf" : "-Inf";
}

}  // namespace

std::string go_format_g(double v, int precision) {
  if (!std::isfinite(v)) return special(v);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}

std::string go_format_float(double v) {
  if (!std::isfinite(v)) return special(v);
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  // Shortest round-trip digits and the decimal exponent.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string s(buf, res.ptr);
  const auto e = s.find('e');
  const int exp = std::stoi(s.substr(e + 1));
  std::string mant = s.substr(0, e);
  const bool neg = mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  std::string out = neg ? "-" : "";
  // strconv 'g' with the shortest precision: exponent form when exp < -4 || exp >= 6.
  if (exp < -4 || exp >= 6) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{:02d}", exp < 0 ? '-' : '+', std::abs(exp));
    return out;
  }
  if (exp < 0) {
    out += "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
  } else if (static_cast<std::size_t>(exp) + 1 >= digits.size()) {
    out += digits + std::string(static_cast<std::size_t>(exp) + 1 - digits.size(), '0');
  } else {
    out += digits.substr(0, static_cast<std::size_t>(exp) + 1) + "." +
           digits.substr(static_cast<std::size_t>(exp) + 1);
  }
  return out;
}

std::string humanize(double v) {
  if (v == 0 || !std::isfinite(v)) return go_format_g(v, 4);
  std::string prefix;
  if (std::fabs(v) >= 1) {
    for (const char* p : {"k", "M", "G", "T", "P", "E", "Z", "Y"}) {
      if (std::fabs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return go_format_g(v, 4) + prefix;
  }
  for (const char* p : {"m", "u", "n", "p", "f", "a", "z", "y"}) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return go_format_g(v, 4) + prefix;
}

std::string humanize1024(double v) {
  if (std::fabs(v) <= 1 || !std::isfinite(v)) return go_format_g(v, 4);
  std::string prefix;
  for (const char* p : {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"}) {
    if (std::fabs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return go_format_g(v, 4) + prefix;
}

std::string humanize_duration(double v) {
  if (!std::isfinite(v)) return go_format_g(v, 4);
  if (v == 0) return go_format_g(v, 4) + "s";
  if (std::fabs(v) >= 1) {
    std::string sign;
    if (v < 0) {
      sign = "-";
      v = -v;
    }
    const auto d = static_cast<std::int64_t>(v);
    const std::int64_t seconds = d % 60, minutes = (d / 60) % 60, hours = (d / 3600) % 24,
                       days = d / 86400;
    if (days != 0) return fmt::format("{}{}d {}h {}m {}s", sign, days, hours, minutes, seconds);
    if (hours != 0) return fmt::format("{}{}h {}m {}s", sign, hours, minutes, seconds);
    if (minutes != 0) return fmt::format("{}{}m {}s", sign, minutes, seconds);
    return sign + go_format_g(v, 4) + "s";
  }
  std::string prefix;
  for (const char* p : {"m", "u", "n", "p", "f", "a", "z", "y"}) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return go_format_g(v, 4) + prefix + "s";
}

std::string humanize_percentage(double v) {
  return go_format_g(v * 100, 4) + "%";
}

std::string humanize_timestamp(double t) {
  if (!std::isfinite(t)) return go_format_g(t, 4);
  const double whole = std::floor(t);
  const auto secs = static_cast<std::time_t>(whole);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::string out = buf;
  auto nanos = static_cast<std::int64_t>(std::llround((t - whole) * 1e9));
  if (nanos > 0) {
    std::string frac = fmt::format("{:09d}", nanos);
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  return out + " +0000 UTC";
}

namespace {

// ---- values -----------------------------------------------------------------

using Map = std::map<std::string, std::string>;
struct Nil {};
using Value = std::variant<Nil, double, std::string, Map, bool>;

struct TemplateError {
  std::string message;
};

std::string print(const Value& v) {
  if (std::holds_alternative<Nil>(v)) return "<no value>";
  if (auto* d = std::get_if<double>(&v)) return go_format_float(*d);
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  const Map& m = std::get<Map>(v);
  std::string out = "map[";
  bool first = true;
  for (const auto& [k, val] : m) {
    if (!first) out += ' ';
    first = false;
    out += k + ":" + val;
  }
  return out + "]";
}

bool truthy(const Value& v) {
  if (std::holds_alternative<Nil>(v)) return false;
  if (auto* d = std::get_if<double>(&v)) return *d != 0;
  if (auto* s = std::get_if<std::string>(&v)) return !s->empty();
  if (auto* b = std::get_if<bool>(&v)) return *b;
  return !std::get<Map>(v).empty();
}

double to_float(const Value& v, std::string_view fn) {
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* s = std::get_if<std::string>(&v)) {
    auto f = promql::parse_go_float(*s);
    if (!f)
      throw TemplateError{fmt::format(
          "error calling {}: strconv.ParseFloat: parsing \"{}\": invalid syntax", fn, *s)};
    return *f;
  }
  throw TemplateError{fmt::format("error calling {}: can't convert {} to float", fn, print(v))};
}

std::string to_str(const Value& v, std::string_view fn) {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  throw TemplateError{fmt::format("error calling {}: wrong type for value; expected string", fn)};
}

// ---- syntax -----------------------------------------------------------------

struct Pipeline;
struct Operand {
  enum class Kind { kField, kVariable, kString, kNumber, kIdent, kPipeline, kBool };
  Kind kind = Kind::kString;
  std::string text;                 // variable name (with $), identifier, string value
  std::vector<std::string> fields;  // .a.b
  double number = 0;
  std::shared_ptr<Pipeline> sub;
};
struct Command {
  std::vector<Operand> operands;
};
struct Pipeline {
  std::string declare;  // "$x" when `$x := ...`
  std::vector<Command> commands;
};

struct Node;
using Nodes = std::vector<Node>;
struct Node {
  enum class Kind { kText, kAction, kIf };
  Kind kind = Kind::kText;
  std::string text;
  Pipeline pipeline;
  Nodes then_nodes, else_nodes;
};

constexpr int kMaxDepth = 50;

// Names Go's parser accepts (Prometheus's function map plus text/template's
// builtins); the ones watch does not implement fail when executed.
bool known_function(std::string_view f) {
  static constexpr std::string_view kKnown[] = {"humanize",
                                                "humanize1024",
                                                "humanizeDuration",
                                                "humanizePercentage",
                                                "humanizeTimestamp",
                                                "printf",
                                                "print",
                                                "println",
                                                "toUpper",
                                                "toLower",
                                                "title",
                                                "match",
                                                "reReplaceAll",
                                                "stripPort",
                                                "eq",
                                                "ne",
                                                "lt",
                                                "le",
                                                "gt",
                                                "ge",
                                                "not",
                                                "and",
                                                "or",
                                                "len",
                                                "index",
                                                "html",
                                                "js",
                                                "urlquery",
                                                "call",
                                                "slice",
                                                "query",
                                                "first",
                                                "label",
                                                "value",
                                                "sortByLabel",
                                                "strvalue",
                                                "args",
                                                "safeHtml",
                                                "graphLink",
                                                "tableLink",
                                                "pathPrefix",
                                                "externalURL",
                                                "parseDuration",
                                                "toTime",
                                                "stripDomain",
                                                "humanizeTimestamp"};
  for (auto k : kKnown)
    if (k == f) return true;
  return false;
}

class Parser {
 public:
  Parser(std::string_view name, std::string_view src) : name_(name), src_(src) {}

  Nodes parse() {
    std::string_view terminator;
    Nodes nodes = parse_list(terminator, 0);
    if (!terminator.empty()) fail(fmt::format("unexpected {{{{{}}}}}", terminator));
    return nodes;
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const {
    int line = 1;
    for (std::size_t i = 0; i < pos_ && i < src_.size(); ++i)
      if (src_[i] == '\n') ++line;
    throw TemplateError{fmt::format("template: {}:{}: {}", name_, line, msg)};
  }

  // Parses nodes until {{end}} / {{else...}} (returned in `terminator`) or the end.
  Nodes parse_list(std::string_view& terminator, int depth) {
    if (depth > kMaxDepth) fail("nesting too deep");
    Nodes nodes;
    terminator = {};
    while (pos_ < src_.size()) {
      const std::size_t open = src_.find("{{", pos_);
      std::string text(
          src_.substr(pos_, open == std::string_view::npos ? std::string_view::npos : open - pos_));
      if (open == std::string_view::npos) {
        pos_ = src_.size();
        append_text(nodes, std::move(text));
        break;
      }
      pos_ = open + 2;
      bool trim_left = false;
      if (pos_ + 1 < src_.size() && src_[pos_] == '-' && is_space(src_[pos_ + 1])) {
        trim_left = true;
        ++pos_;
      }
      if (trim_left)
        while (!text.empty() && is_space(text.back())) text.pop_back();
      append_text(nodes, std::move(text));
      // Comment.
      skip_spaces();
      if (src_.substr(pos_, 2) == "/*") {
        const std::size_t close = src_.find("*/", pos_);
        if (close == std::string_view::npos) fail("unclosed comment");
        pos_ = close + 2;
        skip_spaces();
        close_action();
        continue;
      }
      const std::size_t kw_start = pos_;
      std::string word = peek_word();
      if (word == "end" || word == "else") {
        pos_ += word.size();
        terminator = src_.substr(kw_start, word.size());
        if (word == "else") {
          skip_spaces();
          if (peek_word() == "if") {
            pos_ += 2;
            terminator = "else if";
            return nodes;  // the caller parses the condition
          }
        }
        skip_spaces();
        close_action();
        return nodes;
      }
      if (word == "if") {
        pos_ += 2;
        nodes.push_back(parse_if(depth));
        continue;
      }
      if (word == "range" || word == "with" || word == "define" || word == "template" ||
          word == "block" || word == "break" || word == "continue")
        fail(fmt::format("{} is not supported", word));
      Node n;
      n.kind = Node::Kind::kAction;
      n.pipeline = parse_pipeline(depth, /*in_parens=*/false);
      close_action();
      nodes.push_back(std::move(n));
    }
    return nodes;
  }

  Node parse_if(int depth) {
    Node n;
    n.kind = Node::Kind::kIf;
    n.pipeline = parse_pipeline(depth, false);
    close_action();
    std::string_view term;
    n.then_nodes = parse_list(term, depth + 1);
    if (term == "else") {
      n.else_nodes = parse_list(term, depth + 1);
      if (term != "end") fail("expected end");
    } else if (term == "else if") {
      n.else_nodes.push_back(parse_if(depth + 1));
    } else if (term != "end") {
      fail("unexpected EOF");
    }
    return n;
  }

  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  static void append_text(Nodes& nodes, std::string text) {
    if (text.empty()) return;
    Node n;
    n.kind = Node::Kind::kText;
    n.text = std::move(text);
    nodes.push_back(std::move(n));
  }
  void skip_spaces() {
    while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
  }
  std::string peek_word() const {
    std::size_t i = pos_;
    while (i < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[i])) || src_[i] == '_'))
      ++i;
    return std::string(src_.substr(pos_, i - pos_));
  }
  // At "}}" or "-}}" (after spaces); consumes it and applies right trim.
  void close_action() {
    skip_spaces();
    if (src_.substr(pos_, 3) == "-}}") {
      pos_ += 3;
      while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
      return;
    }
    if (src_.substr(pos_, 2) == "}}") {
      pos_ += 2;
      return;
    }
    if (pos_ >= src_.size()) fail("unclosed action");
    fail(fmt::format("unexpected \"{}\" in command", src_[pos_]));
  }
  bool at_action_end() const {
    return pos_ >= src_.size() || src_.substr(pos_, 2) == "}}" ||
           (src_.substr(pos_, 3) == "-}}" && pos_ > 0 && is_space(src_[pos_ - 1]));
  }

  Pipeline parse_pipeline(int depth, bool in_parens) {
    if (depth > kMaxDepth) fail("nesting too deep");
    Pipeline p;
    skip_spaces();
    // Declaration: $x := ...
    if (pos_ < src_.size() && src_[pos_] == '$') {
      const std::size_t save = pos_;
      ++pos_;
      std::string var = "$" + peek_word();
      pos_ += var.size() - 1;
      skip_spaces();
      if (src_.substr(pos_, 2) == ":=") {
        pos_ += 2;
        p.declare = var;
      } else {
        pos_ = save;
      }
    }
    Command cmd;
    for (;;) {
      skip_spaces();
      if (in_parens ? (pos_ < src_.size() && src_[pos_] == ')') : at_action_end()) break;
      if (pos_ >= src_.size()) fail("unclosed action");
      const char c = src_[pos_];
      if (c == '|') {
        if (cmd.operands.empty()) fail("missing command");
        p.commands.push_back(std::move(cmd));
        cmd = {};
        ++pos_;
        continue;
      }
      cmd.operands.push_back(parse_operand(depth));
    }
    if (cmd.operands.empty()) fail("missing value for command");
    p.commands.push_back(std::move(cmd));
    return p;
  }

  std::vector<std::string> parse_fields() {
    std::vector<std::string> fields;
    while (pos_ < src_.size() && src_[pos_] == '.') {
      ++pos_;
      std::string f = peek_word();
      if (f.empty()) break;
      pos_ += f.size();
      fields.push_back(std::move(f));
    }
    return fields;
  }

  Operand parse_operand(int depth) {
    Operand o;
    const char c = src_[pos_];
    if (c == '(') {
      ++pos_;
      o.kind = Operand::Kind::kPipeline;
      o.sub = std::make_shared<Pipeline>(parse_pipeline(depth + 1, true));
      if (pos_ >= src_.size() || src_[pos_] != ')') fail("unclosed left paren");
      ++pos_;
      o.fields = parse_fields();
      return o;
    }
    if (c == '.') {
      o.kind = Operand::Kind::kField;
      if (pos_ + 1 >= src_.size() || !std::isalpha(static_cast<unsigned char>(src_[pos_ + 1]))) {
        ++pos_;  // "." alone: the data
        return o;
      }
      o.fields = parse_fields();
      return o;
    }
    if (c == '$') {
      ++pos_;
      o.kind = Operand::Kind::kVariable;
      o.text = "$" + peek_word();
      pos_ += o.text.size() - 1;
      o.fields = parse_fields();
      return o;
    }
    if (c == '"') {
      o.kind = Operand::Kind::kString;
      ++pos_;
      while (pos_ < src_.size() && src_[pos_] != '"') {
        char ch = src_[pos_++];
        if (ch == '\n') fail("unterminated quoted string");
        if (ch == '\\' && pos_ < src_.size()) {
          const char e = src_[pos_++];
          switch (e) {
            case 'n':
              ch = '\n';
              break;
            case 't':
              ch = '\t';
              break;
            case 'r':
              ch = '\r';
              break;
            case '\\':
              ch = '\\';
              break;
            case '"':
              ch = '"';
              break;
            default:
              fail("unknown escape sequence");
          }
        }
        o.text += ch;
      }
      if (pos_ >= src_.size()) fail("unterminated quoted string");
      ++pos_;
      return o;
    }
    if (c == '`') {
      o.kind = Operand::Kind::kString;
      const std::size_t close = src_.find('`', pos_ + 1);
      if (close == std::string_view::npos) fail("unterminated raw quoted string");
      o.text = std::string(src_.substr(pos_ + 1, close - pos_ - 1));
      pos_ = close + 1;
      return o;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+') {
      std::size_t i = pos_ + 1;
      while (i < src_.size() &&
             (std::isalnum(static_cast<unsigned char>(src_[i])) || src_[i] == '.' ||
              src_[i] == '_' ||
              ((src_[i] == '-' || src_[i] == '+') && (src_[i - 1] == 'e' || src_[i - 1] == 'E'))))
        ++i;
      auto v = promql::parse_go_float(src_.substr(pos_, i - pos_));
      if (!v) fail(fmt::format("bad number syntax: \"{}\"", src_.substr(pos_, i - pos_)));
      o.kind = Operand::Kind::kNumber;
      o.number = *v;
      pos_ = i;
      return o;
    }
    std::string word = peek_word();
    if (word.empty()) fail(fmt::format("unexpected \"{}\" in command", c));
    pos_ += word.size();
    if (word == "true" || word == "false") {
      o.kind = Operand::Kind::kBool;
      o.number = word == "true" ? 1 : 0;
      return o;
    }
    if (word == "nil") fail("nil is not a command");
    if (!known_function(word)) fail(fmt::format("function \"{}\" not defined", word));
    o.kind = Operand::Kind::kIdent;
    o.text = std::move(word);
    return o;
  }

  std::string name_;
  std::string_view src_;
  std::size_t pos_ = 0;
};

// ---- execution --------------------------------------------------------------

constexpr std::size_t kMaxOutput = 1 << 20;

class Executor {
 public:
  Executor(const TemplateData& data) {
    Map root_fields;  // unused: the root is handled by field names
    vars_["$labels"] = Map(data.labels.begin(), data.labels.end());
    vars_["$externalLabels"] = Map(data.external_labels.begin(), data.external_labels.end());
    vars_["$externalURL"] = data.external_url;
    vars_["$value"] = data.value;
    vars_["$"] = Nil{};
  }

  void run(const Nodes& nodes, std::string& out) {
    for (const Node& n : nodes) {
      if (out.size() > kMaxOutput) throw TemplateError{"output too large"};
      switch (n.kind) {
        case Node::Kind::kText:
          out += n.text;
          break;
        case Node::Kind::kAction: {
          Value v = eval(n.pipeline, 0);
          if (n.pipeline.declare.empty()) out += print(v);
          break;
        }
        case Node::Kind::kIf:
          if (truthy(eval(n.pipeline, 0)))
            run(n.then_nodes, out);
          else
            run(n.else_nodes, out);
          break;
      }
    }
  }

 private:
  Value root_field(const std::string& name) {
    if (name == "Labels") return vars_["$labels"];
    if (name == "ExternalLabels") return vars_["$externalLabels"];
    if (name == "ExternalURL") return vars_["$externalURL"];
    if (name == "Value") return vars_["$value"];
    throw TemplateError{fmt::format("can't evaluate field {} in type *template.Data", name)};
  }

  static Value field(const Value& base, const std::string& name) {
    if (auto* m = std::get_if<Map>(&base)) {
      auto it = m->find(name);
      if (it == m->end()) return Nil{};
      return it->second;
    }
    if (std::holds_alternative<Nil>(base)) return Nil{};
    throw TemplateError{fmt::format("can't evaluate field {} in type {}", name,
                                    std::holds_alternative<double>(base) ? "float64" : "string")};
  }

  Value operand(const Operand& o, int depth) {
    switch (o.kind) {
      case Operand::Kind::kString:
        return o.text;
      case Operand::Kind::kNumber:
        return o.number;
      case Operand::Kind::kBool:
        return o.number != 0;
      case Operand::Kind::kField: {
        if (o.fields.empty()) {
          Map data;  // "." prints as a map of the root's fields; rarely used
          return data;
        }
        Value v = root_field(o.fields[0]);
        for (std::size_t i = 1; i < o.fields.size(); ++i) v = field(v, o.fields[i]);
        return v;
      }
      case Operand::Kind::kVariable: {
        auto it = vars_.find(o.text);
        if (it == vars_.end())
          throw TemplateError{fmt::format("undefined variable \"{}\"", o.text)};
        Value v = it->second;
        for (const auto& f : o.fields) v = field(v, f);
        return v;
      }
      case Operand::Kind::kPipeline: {
        Value v = eval(*o.sub, depth + 1);
        for (const auto& f : o.fields) v = field(v, f);
        return v;
      }
      case Operand::Kind::kIdent:
        return call(o.text, {}, depth);
    }
    return Nil{};
  }

  Value eval(const Pipeline& p, int depth) {
    if (depth > kMaxDepth) throw TemplateError{"nesting too deep"};
    std::optional<Value> piped;
    for (const Command& c : p.commands) {
      const Operand& head = c.operands[0];
      if (head.kind == Operand::Kind::kIdent) {
        std::vector<Value> args;
        for (std::size_t i = 1; i < c.operands.size(); ++i)
          args.push_back(operand(c.operands[i], depth));
        if (piped) args.push_back(*piped);
        piped = call(head.text, std::move(args), depth);
      } else {
        if (c.operands.size() > 1 || piped)
          throw TemplateError{"can't give argument to non-function"};
        piped = operand(head, depth);
      }
    }
    if (!p.declare.empty()) vars_[p.declare] = *piped;
    return *piped;
  }

  static void arity(std::string_view fn, const std::vector<Value>& args, std::size_t n) {
    if (args.size() != n)
      throw TemplateError{
          fmt::format("wrong number of args for {}: want {} got {}", fn, n, args.size())};
  }

  static int compare(std::string_view fn, const Value& a, const Value& b) {
    if (std::holds_alternative<std::string>(a) && std::holds_alternative<std::string>(b))
      return std::get<std::string>(a).compare(std::get<std::string>(b));
    if (std::holds_alternative<double>(a) && std::holds_alternative<double>(b)) {
      const double x = std::get<double>(a), y = std::get<double>(b);
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    if (std::holds_alternative<bool>(a) && std::holds_alternative<bool>(b))
      return std::get<bool>(a) == std::get<bool>(b) ? 0 : 1;
    throw TemplateError{fmt::format("error calling {}: incompatible types for comparison", fn)};
  }

  static std::string go_printf(const std::vector<Value>& args) {
    const std::string f = to_str(args[0], "printf");
    std::string out;
    std::size_t next = 1;
    for (std::size_t i = 0; i < f.size(); ++i) {
      if (f[i] != '%') {
        out += f[i];
        continue;
      }
      std::size_t j = i + 1;
      while (j < f.size() && std::strchr("+-# 0123456789.", f[j]) != nullptr) ++j;
      if (j >= f.size()) {
        out += "%!(NOVERB)";
        break;
      }
      const char verb = f[j];
      std::string spec = f.substr(i, j - i);
      i = j;
      if (verb == '%') {
        out += '%';
        continue;
      }
      if (next >= args.size()) {
        out += fmt::format("%!{}(MISSING)", verb);
        continue;
      }
      const Value& a = args[next++];
      char buf[512];
      if (auto* d = std::get_if<double>(&a)) {
        if (std::strchr("eEfFgG", verb) != nullptr && std::isfinite(*d)) {
          std::snprintf(buf, sizeof buf, (spec + verb).c_str(), *d);
          out += buf;
        } else if (verb == 'v' || std::strchr("eEfFgG", verb) != nullptr) {
          out += go_format_float(*d);
        } else {
          out += fmt::format("%!{}(float64={})", verb, go_format_float(*d));
        }
      } else if (auto* s = std::get_if<std::string>(&a)) {
        if (verb == 's' || verb == 'v') {
          std::snprintf(buf, sizeof buf, (spec + 's').c_str(), s->c_str());
          out += s->size() < 400 ? std::string(buf) : *s;
        } else if (verb == 'q') {
          out += '"' + *s + '"';
        } else {
          out += fmt::format("%!{}(string={})", verb, *s);
        }
      } else {
        out += print(a);
      }
    }
    if (next < args.size()) {
      out += "%!(EXTRA ";
      for (std::size_t k = next; k < args.size(); ++k) {
        if (k > next) out += ", ";
        out += std::holds_alternative<double>(args[k]) ? "float64=" : "string=";
        out += print(args[k]);
      }
      out += ")";
    }
    return out;
  }

  Value call(const std::string& fn, std::vector<Value> args, int depth) {
    (void)depth;
    if (fn == "humanize") return arity(fn, args, 1), Value(humanize(to_float(args[0], fn)));
    if (fn == "humanize1024") return arity(fn, args, 1), Value(humanize1024(to_float(args[0], fn)));
    if (fn == "humanizeDuration")
      return arity(fn, args, 1), Value(humanize_duration(to_float(args[0], fn)));
    if (fn == "humanizePercentage")
      return arity(fn, args, 1), Value(humanize_percentage(to_float(args[0], fn)));
    if (fn == "humanizeTimestamp")
      return arity(fn, args, 1), Value(humanize_timestamp(to_float(args[0], fn)));
    if (fn == "printf") {
      if (args.empty()) throw TemplateError{"wrong number of args for printf"};
      return go_printf(args);
    }
    if (fn == "toUpper" || fn == "toLower") {
      arity(fn, args, 1);
      std::string s = to_str(args[0], fn);
      for (char& ch : s)
        ch = static_cast<char>(fn == "toUpper" ? std::toupper(static_cast<unsigned char>(ch))
                                               : std::tolower(static_cast<unsigned char>(ch)));
      return s;
    }
    if (fn == "title") {
      arity(fn, args, 1);
      std::string s = to_str(args[0], fn);
      bool start = true;
      for (char& ch : s) {
        if (start && std::isalpha(static_cast<unsigned char>(ch)))
          ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        start = !std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '\'';
      }
      return s;
    }
    if (fn == "stripPort") {
      arity(fn, args, 1);
      std::string s = to_str(args[0], fn);
      const auto colon = s.rfind(':');
      if (colon == std::string::npos) return s;
      std::string host = s.substr(0, colon);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
      return host;
    }
    if (fn == "match" || fn == "reReplaceAll") {
      arity(fn, args, fn == "match" ? 2 : 3);
      try {
        std::regex re(to_str(args[0], fn));
        if (fn == "match") return std::regex_search(to_str(args[1], fn), re);
        std::string repl = to_str(args[1], fn);
        // Go's $1 / ${1} expansion -> ECMAScript's $1.
        std::string ecma;
        for (std::size_t k = 0; k < repl.size(); ++k) {
          if (repl[k] == '$' && k + 1 < repl.size() && repl[k + 1] == '{') {
            const auto close = repl.find('}', k);
            if (close != std::string::npos) {
              ecma += "$" + repl.substr(k + 2, close - k - 2);
              k = close;
              continue;
            }
          }
          ecma += repl[k];
        }
        return std::regex_replace(to_str(args[2], fn), re, ecma);
      } catch (const std::regex_error& e) {
        throw TemplateError{fmt::format("error calling {}: {}", fn, e.what())};
      }
    }
    if (fn == "eq" || fn == "ne" || fn == "lt" || fn == "le" || fn == "gt" || fn == "ge") {
      arity(fn, args, 2);
      const int c = compare(fn, args[0], args[1]);
      if (fn == "eq") return c == 0;
      if (fn == "ne") return c != 0;
      if (fn == "lt") return c < 0;
      if (fn == "le") return c <= 0;
      if (fn == "gt") return c > 0;
      return c >= 0;
    }
    if (fn == "not") return arity(fn, args, 1), Value(!truthy(args[0]));
    if (fn == "and" || fn == "or") {
      if (args.empty()) throw TemplateError{fmt::format("wrong number of args for {}", fn)};
      for (std::size_t k = 0; k + 1 < args.size(); ++k)
        if (truthy(args[k]) == (fn == "or")) return args[k];
      return args.back();
    }
    throw TemplateError{fmt::format("function \"{}\" not defined", fn)};
  }

  std::map<std::string, Value> vars_;
};

}  // namespace

std::optional<std::string> check_template(std::string_view name, std::string_view text) {
  try {
    Parser(name, text).parse();
    return std::nullopt;
  } catch (const TemplateError& e) {
    return e.message;
  }
}

ExpandResult expand_template(std::string_view name, std::string_view text,
                             const TemplateData& data) {
  ExpandResult r;
  try {
    Nodes nodes = Parser(name, text).parse();
    Executor exec(data);
    exec.run(nodes, r.text);
  } catch (const TemplateError& e) {
    r.text.clear();
    r.error = fmt::format("error executing template {}: {}", name, e.message);
  } catch (const std::exception& e) {
    r.text.clear();
    r.error = fmt::format("error executing template {}: {}", name, e.what());
  }
  return r;
}

std::string expand_or_error(std::string_view name, std::string_view text,
                            const TemplateData& data) {
  ExpandResult r = expand_template(name, text, data);
  if (r.ok()) return std::move(r.text);
  return fmt::format("<error expanding template: {}>", *r.error);
}

}  // namespace watch::rules
