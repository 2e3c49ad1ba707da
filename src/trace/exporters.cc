// Span exporters: OTLP/HTTP JSON, OTLP JSON lines to a file or stream, memory.
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "firebreak/http_client.h"
#include "firebreak/trace.h"
#include "trace/otlp_json.h"

namespace firebreak {

namespace {

// gzip (RFC 1952) of `in`; false when zlib fails.
bool gzip(std::string_view in, std::string& out) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return false;
  out.resize(deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END;
}

// Retry-After as delta-seconds (an HTTP-date is not honoured: zero).
std::chrono::milliseconds retry_after(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::uint32_t seconds = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (ec != std::errc() || p != v.data() + v.size()) return std::chrono::milliseconds(0);
  return std::chrono::seconds(std::min<std::uint32_t>(seconds, 3600));
}

}  // namespace

struct OtlpHttpExporter::Impl {
  explicit Impl(OtlpHttpOptions o)
      : opt(std::move(o)), client(HttpClientOptions{.timeout = opt.timeout, .tls = opt.tls}) {
    headers.emplace_back("Content-Type", "application/json");
    if (opt.gzip) headers.emplace_back("Content-Encoding", "gzip");
    for (const auto& h : opt.headers) headers.push_back(h);
  }
  OtlpHttpOptions opt;
  HttpClient client;
  HttpHeaders headers;
  detail::LineBuffer body;
  std::string compressed;
};

OtlpHttpExporter::OtlpHttpExporter(OtlpHttpOptions options) {
  std::string why;
  if (!valid_http_url(options.endpoint, &why))
    throw TraceConfigError("OTLP endpoint \"" + options.endpoint + "\": " + why);
  const TlsOptions& tls = options.tls;
  if (!tls.ca_file.empty() || !tls.cert_file.empty() || !tls.key_file.empty()) {
    if (const std::string bad = check_tls_options(tls); !bad.empty())
      throw TraceConfigError("OTLP endpoint \"" + options.endpoint + "\": TLS: " + bad);
  }
  impl_ = std::make_unique<Impl>(std::move(options));
}

OtlpHttpExporter::~OtlpHttpExporter() = default;

ExportResult OtlpHttpExporter::export_spans(std::span<const SpanData> spans) {
  if (spans.empty()) return {};
  Impl& x = *impl_;
  detail::encode_otlp_json(spans, x.opt.resource, x.body);
  std::string_view payload = x.body.view();
  if (x.opt.gzip) {
    if (!gzip(payload, x.compressed))
      return {ExportResult::Status::kFailed, {}, "gzip compression failed"};
    payload = x.compressed;
  }
  const HttpResponse r = x.client.post(x.opt.endpoint, payload, x.headers, x.opt.timeout);
  if (!r.error.empty()) return {ExportResult::Status::kRetryable, {}, r.error};
  if (r.status >= 200 && r.status < 300) return {};
  std::string error = "HTTP " + std::to_string(r.status) + " from " + x.opt.endpoint;
  if (!r.body.empty()) error += ": " + r.body.substr(0, 200);
  switch (r.status) {
    case 429:
    case 502:
    case 503:
    case 504:
      return {ExportResult::Status::kRetryable, retry_after(r.header("Retry-After")),
              std::move(error)};
    default:
      return {ExportResult::Status::kFailed, {}, std::move(error)};
  }
}

// ---------------------------------------------------------------------------

JsonLinesFileExporter::JsonLinesFileExporter(const std::string& path, ResourceAttributes resource)
    : file_(std::fopen(path.c_str(), "a")),
      owned_(true),
      resource_(std::move(resource)),
      buf_(std::make_unique<detail::LineBuffer>()) {
  if (!file_)
    throw TraceConfigError("cannot open traces file \"" + path + "\": " + std::strerror(errno));
}

JsonLinesFileExporter::JsonLinesFileExporter(std::FILE* stream, ResourceAttributes resource)
    : file_(stream),
      owned_(false),
      resource_(std::move(resource)),
      buf_(std::make_unique<detail::LineBuffer>()) {}

JsonLinesFileExporter::~JsonLinesFileExporter() {
  if (owned_ && file_) std::fclose(file_);
}

ExportResult JsonLinesFileExporter::export_spans(std::span<const SpanData> spans) {
  if (spans.empty()) return {};
  detail::encode_otlp_json(spans, resource_, *buf_);
  buf_->push_back('\n');
  const std::string_view line = buf_->view();
  // One write(2) per line, past stdio's buffer: with O_APPEND, lines from
  // several processes appending to one file do not interleave.
  std::fflush(file_);
  const int fd = ::fileno(file_);
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return {
          ExportResult::Status::kFailed, {}, std::string("write failed: ") + std::strerror(errno)};
    done += static_cast<std::size_t>(n);
  }
  return {};
}

// ---------------------------------------------------------------------------

ExportResult InMemorySpanExporter::export_spans(std::span<const SpanData> spans) {
  std::lock_guard lock(mu_);
  spans_.insert(spans_.end(), spans.begin(), spans.end());
  return {};
}

std::vector<SpanData> InMemorySpanExporter::spans() const {
  std::lock_guard lock(mu_);
  return spans_;
}

void InMemorySpanExporter::clear() {
  std::lock_guard lock(mu_);
  spans_.clear();
}

}  // namespace firebreak
