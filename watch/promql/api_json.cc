#include "watch/promql/api_json.h"

#include "watch/promql/format.h"

namespace watch::promql {

namespace {

void append_metric(std::string& out, const LabelSet& labels) {
  out.push_back('{');
  bool first = true;
  for (const auto& l : labels) {
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, l.name);
    out.push_back(':');
    append_json_string(out, l.value);
  }
  out.push_back('}');
}

void append_point(std::string& out, std::int64_t t, double v) {
  out.push_back('[');
  append_timestamp(out, t);
  out.append(",\"");
  append_value(out, v);
  out.append("\"]");
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        case '<':
        case '>':
        case '&':
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
          break;
        default:
          if (c < 0x20) {
            out.append("\\u00");
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xf]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    const std::size_t n = utf8_length(s, i);
    if (n == 0) {
      out.append("\\ufffd");
      ++i;
      continue;
    }
    // U+2028 and U+2029 (E2 80 A8/A9) are escaped, as Go does.
    if (n == 3 && c == 0xe2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) & 0xfe) == 0xa8) {
      out.append(static_cast<unsigned char>(s[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029");
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  out.push_back('"');
}

std::string render_data(const Value& value) {
  std::string out;
  switch (value.index()) {
    case 0: {
      const auto& s = std::get<Scalar>(value);
      out.append(R"({"resultType":"scalar","result":)");
      append_point(out, s.t, s.v);
      break;
    }
    case 1: {
      const auto& s = std::get<String>(value);
      out.append(R"({"resultType":"string","result":[)");
      append_timestamp(out, s.t);
      out.push_back(',');
      append_json_string(out, s.v);
      out.push_back(']');
      break;
    }
    case 2: {
      const auto& vec = std::get<Vector>(value);
      out.append(R"({"resultType":"vector","result":[)");
      for (std::size_t i = 0; i < vec.size(); ++i) {
        if (i) out.push_back(',');
        out.append(R"({"metric":)");
        append_metric(out, vec[i].labels);
        out.append(R"(,"value":)");
        append_point(out, vec[i].t, vec[i].v);
        out.push_back('}');
      }
      out.push_back(']');
      break;
    }
    default: {
      const auto& m = std::get<Matrix>(value);
      out.append(R"({"resultType":"matrix","result":[)");
      for (std::size_t i = 0; i < m.size(); ++i) {
        if (i) out.push_back(',');
        out.append(R"({"metric":)");
        append_metric(out, m[i].labels);
        out.append(R"(,"values":[)");
        for (std::size_t j = 0; j < m[i].samples.size(); ++j) {
          if (j) out.push_back(',');
          append_point(out, m[i].samples[j].t, m[i].samples[j].v);
        }
        out.append("]}");
      }
      out.push_back(']');
    }
  }
  out.push_back('}');
  return out;
}

std::string render_error(ErrorKind kind, std::string_view message) {
  std::string out = R"({"status":"error","errorType":")";
  out.append(error_type_name(kind));
  out.append(R"(","error":)");
  append_json_string(out, message);
  out.push_back('}');
  return out;
}

std::string render_query_result(const QueryResult& result) {
  if (!result.ok()) {
    const Error e = result.error.value_or(Error{ErrorKind::kInternal, "no result"});
    return render_error(e.kind, e.message);
  }
  std::string out = R"({"status":"success","data":)";
  out.append(render_data(*result.value));
  out.push_back('}');
  return out;
}

int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kBadData:
      return 400;
    case ErrorKind::kExecution:
      return 422;
    case ErrorKind::kTimeout:
    case ErrorKind::kCanceled:
      return 503;
    case ErrorKind::kInternal:
      return 500;
  }
  return 500;
}

int http_status(const QueryResult& result) {
  if (result.ok()) return 200;
  return http_status(result.error ? result.error->kind : ErrorKind::kInternal);
}

}  // namespace watch::promql
