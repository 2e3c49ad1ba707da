#include "firebreak/admin.h"

#include <algorithm>
#include <exception>
#include <map>
#include <shared_mutex>
#include <utility>

#include "admin/endpoints.h"
#include "admin/http_listener.h"
#include "firebreak/health.h"
#include "firebreak/metrics.h"

namespace firebreak {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

bool is_method_token(std::string_view m) {
  if (m.empty()) return false;
  for (char c : m)
    if (!(c >= 'A' && c <= 'Z') && c != '-' && c != '_') return false;
  return true;
}

AdminResponse plain(int status, std::string body) {
  AdminResponse res;
  res.status = status;
  res.body = std::move(body);
  return res;
}

}  // namespace

bool AdminRequest::has_query(std::string_view key) const {
  return std::any_of(query.begin(), query.end(), [&](const auto& kv) { return kv.first == key; });
}

std::optional<std::string_view> AdminRequest::query_value(std::string_view key) const {
  for (const auto& [k, v] : query)
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

std::string_view AdminRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

struct AdminServer::Routes {
  using HandlerPtr = std::shared_ptr<const AdminHandler>;
  mutable std::shared_mutex mu;
  using Methods = std::map<std::string, HandlerPtr>;
  std::map<std::string, Methods, std::less<>> by_path;    // guarded by mu
  std::map<std::string, Methods, std::less<>> by_prefix;  // guarded by mu

  void add(std::string method, std::string path, AdminHandler fn, bool prefix = false) {
    if (!is_method_token(method))
      throw AdminError("admin handler method \"" + method + "\" is not an upper-case HTTP method");
    if (path.empty() || path.front() != '/')
      throw AdminError("admin handler path \"" + path + "\" must start with '/'");
    if (!fn) throw AdminError("admin handler for " + method + " " + path + " is empty");
    if (prefix && path.back() != '/')
      throw AdminError("admin prefix \"" + path + "\" must end with '/'");
    std::unique_lock lock(mu);
    auto& methods = (prefix ? by_prefix : by_path)[path];
    if (methods.contains(method))
      throw AdminError("admin handler for " + method + " " + path + (prefix ? "*" : "") +
                       " is already registered");
    methods.emplace(std::move(method), std::make_shared<const AdminHandler>(std::move(fn)));
  }

  AdminResponse dispatch(const AdminRequest& request) const {
    HandlerPtr handler;
    {
      std::shared_lock lock(mu);
      const Methods* found = nullptr;
      if (const auto path = by_path.find(request.path); path != by_path.end())
        found = &path->second;
      // The longest registered prefix of the path, when no exact route matches.
      for (auto it = by_prefix.upper_bound(request.path); !found && it != by_prefix.begin();) {
        --it;
        if (std::string_view(request.path).starts_with(it->first)) found = &it->second;
      }
      if (!found) return plain(404, "not found\n");
      const Methods& methods = *found;
      auto it = methods.find(request.method);
      if (it == methods.end() && request.method == "HEAD") it = methods.find("GET");
      if (it == methods.end()) {
        std::string allow;
        for (const auto& [m, h] : methods) {
          if (!allow.empty()) allow += ", ";
          allow += m;
          if (m == "GET" && !methods.contains("HEAD")) allow += ", HEAD";
        }
        AdminResponse res = plain(405, "method not allowed\n");
        res.headers.emplace_back("Allow", std::move(allow));
        return res;
      }
      handler = it->second;
    }
    try {
      return (*handler)(request);
    } catch (const std::exception& e) {
      return plain(500, std::string("internal error: ") + e.what() + "\n");
    } catch (...) {
      return plain(500, "internal error\n");
    }
  }
};

AdminServer::AdminServer(AdminOptions options)
    : options_(std::move(options)), routes_(std::make_shared<Routes>()) {
  if (options_.health) {
    const Health& health = *options_.health;
    routes_->add("GET", "/livez", detail::health_endpoint(health, CheckKind::kLiveness, "livez"));
    routes_->add("GET", "/readyz",
                 detail::health_endpoint(health, CheckKind::kReadiness, "readyz"));
    routes_->add("GET", "/healthz",
                 detail::health_endpoint(health, CheckKind::kReadiness, "healthz"));
  }
  if (options_.registry)
    routes_->add("GET", "/metrics", detail::metrics_endpoint(*options_.registry));
}

AdminServer::~AdminServer() {
  stop();
}

void AdminServer::add_handler(std::string method, std::string path, AdminHandler fn) {
  routes_->add(std::move(method), std::move(path), std::move(fn));
}

void AdminServer::add_prefix_handler(std::string method, std::string prefix, AdminHandler fn) {
  routes_->add(std::move(method), std::move(prefix), std::move(fn), /*prefix=*/true);
}

void AdminServer::start() {
  std::lock_guard lock(mu_);
  if (listener_) throw AdminError("admin server already started on " + listener_->address());
  listener_ = std::make_unique<detail::HttpListener>(
      options_, [routes = routes_](const AdminRequest& r) { return routes->dispatch(r); });
}

void AdminServer::stop() {
  std::lock_guard lock(mu_);
  if (listener_) listener_->stop();
}

std::uint16_t AdminServer::port() const {
  std::lock_guard lock(mu_);
  return listener_ ? listener_->port() : 0;
}

std::string AdminServer::address() const {
  std::lock_guard lock(mu_);
  return listener_ ? listener_->address() : std::string();
}

AdminResponse AdminServer::handle(const AdminRequest& request) const {
  return routes_->dispatch(request);
}

}  // namespace firebreak
