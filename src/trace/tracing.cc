// The process-wide tracer and its configuration from the environment
// (OpenTelemetry SDK environment variables, plus FIREBREAK_TRACES_FILE).
#include <errno.h>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "firebreak/tls.h"
#include "firebreak/trace.h"
#include "trace/otlp_json.h"

namespace firebreak {

namespace {

std::atomic<Tracer*> g_tracer{nullptr};

Tracer& default_tracer() noexcept {
  // Never destroyed: spans may end during static destruction.
  static Tracer* const tracer = new Tracer(TracerOptions{});
  return *tracer;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

class Env {
 public:
  explicit Env(const EnvLookup& lookup) : lookup_(lookup) {}
  // "" when unset or empty.
  std::string get(std::string_view name) const {
    if (lookup_) return lookup_(name).value_or("");
    const char* v = std::getenv(std::string(name).c_str());
    return v ? v : "";
  }
  // The signal-specific variable, else the general one.
  std::string get2(std::string_view traces, std::string_view general) const {
    std::string v = get(traces);
    return v.empty() ? get(general) : v;
  }

 private:
  const EnvLookup& lookup_;
};

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (i + 2 >= in.size()) return false;
    const int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>((hi << 4) | lo);
    i += 2;
  }
  return true;
}

// "k1=v1,k2=v2" with optional spaces; values percent-decoded (W3C Baggage
// format, as OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS use).
std::vector<std::pair<std::string, std::string>> parse_kv_list(std::string_view text,
                                                               std::string_view variable) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = trim(text.substr(pos, comma - pos));
    if (!item.empty()) {
      const std::size_t eq = item.find('=');
      const std::string_view k = eq == std::string_view::npos ? item : trim(item.substr(0, eq));
      std::string value;
      if (eq == std::string_view::npos || k.empty() ||
          !percent_decode(trim(item.substr(eq + 1)), value))
        throw TraceConfigError(std::string(variable) + ": \"" + std::string(item) +
                               "\" is not key=value (values percent-encoded)");
      std::string key;
      if (!percent_decode(k, key))
        throw TraceConfigError(std::string(variable) + ": bad key \"" + std::string(k) + "\"");
      out.emplace_back(std::move(key), std::move(value));
    }
    pos = comma + 1;
  }
  return out;
}

std::uint64_t parse_count(const Env& env, std::string_view name, std::uint64_t fallback,
                          std::uint64_t min_value = 1) {
  const std::string v = env.get(name);
  if (v.empty()) return fallback;
  char* end = nullptr;
  errno = 0;
  const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (errno != 0 || end == v.c_str() || *end != '\0' || v[0] == '-' || n < min_value)
    throw TraceConfigError(std::string(name) + "=\"" + v +
                           "\": expected an integer >= " + std::to_string(min_value));
  return n;
}

// OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE, _CLIENT_CERTIFICATE and
// _CLIENT_KEY (the signal's variable, else the general one): PEM files, each
// checked here so that a bad one is an error naming its variable.
TlsOptions otlp_tls(const Env& env) {
  struct File {
    const char* suffix;
    std::string TlsOptions::*field;
    std::string variable = {};  // the one that was set
  };
  File files[] = {{"CERTIFICATE", &TlsOptions::ca_file},
                  {"CLIENT_CERTIFICATE", &TlsOptions::cert_file},
                  {"CLIENT_KEY", &TlsOptions::key_file}};
  TlsOptions tls;
  for (File& f : files) {
    const std::string traces = std::string("OTEL_EXPORTER_OTLP_TRACES_") + f.suffix;
    const std::string general = std::string("OTEL_EXPORTER_OTLP_") + f.suffix;
    const std::string value = std::string(trim(env.get(traces)));
    f.variable = value.empty() ? general : traces;
    std::string& path = tls.*f.field;
    path = value.empty() ? std::string(trim(env.get(general))) : value;
    if (path.empty()) continue;
    std::FILE* in = std::fopen(path.c_str(), "r");
    if (!in)
      throw TraceConfigError(f.variable + "=\"" + path +
                             "\": cannot read it: " + std::strerror(errno));
    std::fclose(in);
  }
  const File& ca = files[0];
  const File& cert = files[1];
  const File& key = files[2];
  if (tls.cert_file.empty() != tls.key_file.empty())
    throw TraceConfigError((tls.cert_file.empty() ? key : cert).variable + " is set but " +
                           (tls.cert_file.empty() ? cert : key).variable +
                           " is not: a client certificate needs both");
  // OpenSSL's reason after check_tls_options' "cannot load <what> \"<path>\": ".
  const auto reason = [](const std::string& why) {
    const std::size_t at = why.find("\": ");
    return at == std::string::npos ? why : why.substr(at + 3);
  };
  if (!tls.ca_file.empty()) {
    if (const std::string why = check_tls_options({.ca_file = tls.ca_file}); !why.empty())
      throw TraceConfigError(ca.variable + "=\"" + tls.ca_file +
                             "\": not a PEM file of CA certificates: " + reason(why));
  }
  if (!tls.cert_file.empty()) {
    const std::string why = check_tls_options(
        {.ca_file = tls.ca_file, .cert_file = tls.cert_file, .key_file = tls.key_file});
    if (why.starts_with("cannot load cert_file"))
      throw TraceConfigError(cert.variable + "=\"" + tls.cert_file +
                             "\": not a PEM certificate file: " + reason(why));
    const bool mismatch = why.find("does not match") != std::string::npos ||
                          why.find("key values mismatch") != std::string::npos;
    if (why.starts_with("cannot load key_file") && !mismatch)
      throw TraceConfigError(key.variable + "=\"" + tls.key_file +
                             "\": not a PEM private key file: " + reason(why));
    if (!why.empty())
      throw TraceConfigError(key.variable + "=\"" + tls.key_file + "\" does not match " +
                             cert.variable + "=\"" + tls.cert_file + "\"");
  }
  return tls;
}

std::string executable_name() {
  // glibc, declared by <errno.h> under _GNU_SOURCE.
  return ::program_invocation_short_name ? ::program_invocation_short_name : "";
}

void set_attr(ResourceAttributes& attrs, std::string_view key, std::string value) {
  for (auto& [k, v] : attrs) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  attrs.emplace_back(std::string(key), std::move(value));
}

}  // namespace

Tracer& global_tracer() noexcept {
  Tracer* t = g_tracer.load(std::memory_order_acquire);
  return t ? *t : default_tracer();
}

ResourceAttributes resolve_resource(const TracingOptions& options) {
  const Env env(options.env);
  std::string name = options.service_name;
  std::string version = options.service_version;
  std::string environment = options.environment;
  ResourceAttributes others;
  std::string legacy_environment;
  bool environment_named = false;
  for (auto& [k, v] :
       parse_kv_list(env.get("OTEL_RESOURCE_ATTRIBUTES"), "OTEL_RESOURCE_ATTRIBUTES")) {
    if (v.empty()) continue;
    if (k == "service.name") {
      name = v;
    } else if (k == "service.version") {
      version = v;
    } else if (k == "deployment.environment.name") {
      environment = v;
      environment_named = true;
    } else if (k == "deployment.environment") {
      legacy_environment = v;  // the attribute's former name
    } else {
      set_attr(others, k, v);
    }
  }
  if (!environment_named && !legacy_environment.empty()) environment = legacy_environment;
  if (auto v = env.get("OTEL_SERVICE_NAME"); !v.empty()) name = v;
  if (auto v = env.get("FIREBREAK_SERVICE_NAME"); !v.empty()) name = v;
  if (auto v = env.get("FIREBREAK_SERVICE_VERSION"); !v.empty()) version = v;
  if (auto v = env.get("FIREBREAK_ENVIRONMENT"); !v.empty()) environment = v;
  if (name.empty()) name = "unknown_service:" + executable_name();

  ResourceAttributes attrs;
  attrs.emplace_back("service.name", name);
  if (!version.empty()) attrs.emplace_back("service.version", version);
  if (!environment.empty()) attrs.emplace_back("deployment.environment.name", environment);
  for (auto& kv : others) attrs.push_back(std::move(kv));
  auto add_default = [&](std::string_view k, std::string_view v) {
    for (const auto& a : attrs) {
      if (a.first == k) return;
    }
    attrs.emplace_back(std::string(k), std::string(v));
  };
  add_default("telemetry.sdk.name", "firebreak");
  add_default("telemetry.sdk.language", "cpp");
  add_default("telemetry.sdk.version", detail::kFirebreakVersion);
  return attrs;
}

Tracing init_tracing(const TracingOptions& options) {
  const Env env(options.env);
  Tracing handle;
  TracingStatus& st = handle.status_;

  // Everything is parsed before anything is installed.
  st.resource = resolve_resource(options);
  const Sampler sampler = options.sampler
                              ? *options.sampler
                              : Sampler::from_config(lower(env.get("OTEL_TRACES_SAMPLER")),
                                                     trim(env.get("OTEL_TRACES_SAMPLER_ARG")));
  st.sampler = sampler.description();

  SpanLimits limits;
  limits.max_attributes = static_cast<std::uint32_t>(
      parse_count(env, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", limits.max_attributes, 0));
  limits.max_events = static_cast<std::uint32_t>(
      parse_count(env, "OTEL_SPAN_EVENT_COUNT_LIMIT", limits.max_events, 0));
  limits.max_links = static_cast<std::uint32_t>(
      parse_count(env, "OTEL_SPAN_LINK_COUNT_LIMIT", limits.max_links, 0));

  BatchOptions batch;
  if (options.batch) {
    batch = *options.batch;
  } else {
    batch.max_queue_size = parse_count(env, "OTEL_BSP_MAX_QUEUE_SIZE", batch.max_queue_size);
    batch.max_export_batch_size =
        parse_count(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", batch.max_export_batch_size);
    batch.schedule_delay = std::chrono::milliseconds(
        parse_count(env, "OTEL_BSP_SCHEDULE_DELAY", batch.schedule_delay.count(), 0));
    batch.export_timeout = std::chrono::milliseconds(
        parse_count(env, "OTEL_BSP_EXPORT_TIMEOUT", batch.export_timeout.count(), 0));
    if (batch.max_export_batch_size > batch.max_queue_size)
      batch.max_export_batch_size = batch.max_queue_size;
  }
  if (options.registry) batch.registry = options.registry;
  batch.clock = options.clock;

  std::shared_ptr<SpanExporter> exporter;
  const bool disabled = lower(trim(env.get("OTEL_SDK_DISABLED"))) == "true";
  if (options.exporter) {
    exporter = options.exporter;
    st.exporter = "custom";
  } else if (disabled) {
    st.exporter = "none";
  } else {
    const std::string file = env.get("FIREBREAK_TRACES_FILE");
    const std::string traces_endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    const std::string base_endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT");
    std::string which = lower(trim(env.get("OTEL_TRACES_EXPORTER")));
    if (which.empty()) {
      which = !file.empty()                                        ? "file"
              : !traces_endpoint.empty() || !base_endpoint.empty() ? "otlp"
                                                                   : "none";
    } else if (which != "otlp" && which != "console" && which != "none") {
      throw TraceConfigError("OTEL_TRACES_EXPORTER=\"" + which +
                             "\": expected otlp, console or none (one of them)");
    }
    st.exporter = which;
    if (which == "file") {
      st.destination = file;
      exporter = std::make_shared<JsonLinesFileExporter>(file, st.resource);
    } else if (which == "console") {
      st.destination = "stderr";
      exporter = std::make_shared<JsonLinesFileExporter>(stderr, st.resource);
    } else if (which == "otlp") {
      const std::string protocol = lower(
          trim(env.get2("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")));
      if (!protocol.empty() && protocol != "http/json" && protocol != "http/protobuf")
        throw TraceConfigError("OTEL_EXPORTER_OTLP_PROTOCOL=\"" + protocol +
                               "\": only http/json is supported (http/protobuf is sent as "
                               "JSON to the same endpoint)");
      OtlpHttpOptions otlp;
      if (!traces_endpoint.empty()) {
        otlp.endpoint = traces_endpoint;
      } else if (!base_endpoint.empty()) {
        otlp.endpoint = base_endpoint;
        otlp.endpoint += otlp.endpoint.ends_with('/') ? "v1/traces" : "/v1/traces";
      }
      for (const char* var : {"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"}) {
        for (auto& [k, v] : parse_kv_list(env.get(var), var)) {
          const std::string key = lower(k);  // (clang 14 cannot capture a structured binding)
          std::erase_if(otlp.headers, [&](const auto& h) { return lower(h.first) == key; });
          otlp.headers.emplace_back(std::move(k), std::move(v));
        }
      }
      const std::string timeout = env.get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT").empty()
                                      ? "OTEL_EXPORTER_OTLP_TIMEOUT"
                                      : "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
      otlp.timeout = std::chrono::milliseconds(parse_count(env, timeout, otlp.timeout.count()));
      const std::string compression = lower(trim(
          env.get2("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION")));
      if (!compression.empty() && compression != "gzip" && compression != "none")
        throw TraceConfigError("OTEL_EXPORTER_OTLP_COMPRESSION=\"" + compression +
                               "\": expected gzip or none");
      otlp.gzip = compression == "gzip";
      otlp.tls = otlp_tls(env);
      otlp.resource = st.resource;
      st.destination = otlp.endpoint;
      exporter = std::make_shared<OtlpHttpExporter>(std::move(otlp));
    }
  }

  std::shared_ptr<SpanProcessor> processor;
  if (exporter) processor = std::make_shared<BatchSpanProcessor>(exporter, batch);
  st.enabled = processor != nullptr;

  // Tracers are never freed: a span holds a plain pointer to its tracer.
  auto* tracer = new Tracer(TracerOptions{
      .sampler = sampler, .processor = processor, .limits = limits, .clock = options.clock});
  Tracer* previous = g_tracer.exchange(tracer, std::memory_order_acq_rel);
  if (previous) previous->shutdown();
  handle.installed_ = tracer;
  return handle;
}

Tracing::~Tracing() {
  shutdown();
}

Tracing::Tracing(Tracing&& other) noexcept
    : status_(std::move(other.status_)), installed_(std::exchange(other.installed_, nullptr)) {}

Tracing& Tracing::operator=(Tracing&& other) noexcept {
  if (this != &other) {
    shutdown();
    status_ = std::move(other.status_);
    installed_ = std::exchange(other.installed_, nullptr);
  }
  return *this;
}

bool Tracing::flush(std::chrono::milliseconds timeout) const {
  return installed_ ? installed_->force_flush(timeout) : true;
}

void Tracing::shutdown() {
  Tracer* mine = std::exchange(installed_, nullptr);
  if (!mine) return;
  Tracer* expected = mine;
  g_tracer.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
  mine->shutdown();
}

}  // namespace firebreak
