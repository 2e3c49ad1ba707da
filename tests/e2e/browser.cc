#include "e2e/browser.h"

#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <thread>

#include <boost/beast/core/detail/base64.hpp>

#include "support/http_client.h"
#include "workload/support.h"

namespace firebreak::e2e {

namespace {

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kDriver = "/usr/bin/chromedriver";
// W3C's key for element references in JSON.
constexpr const char* kElement = "element-6066-11e4-a52e-4f735466cecf";

}  // namespace

bool browser_available() {
  return ::access(kChromium, X_OK) == 0 && ::access(kDriver, X_OK) == 0;
}

Browser::Browser() : http_(HttpClientOptions{.timeout = std::chrono::seconds(60)}) {
  const std::uint16_t port = test::closed_port();
  driver_ = std::make_unique<test::ChildProcess>(
      std::vector<std::string>{kDriver, "--port=" + std::to_string(port), "--log-level=SEVERE"});
  base_ = "http://127.0.0.1:" + std::to_string(port);
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    const HttpResponse r = http_.get(base_ + "/status");
    up = r.status == 200 && r.body.find("\"ready\":true") != std::string::npos;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!up) throw std::runtime_error("chromedriver did not start on port " + std::to_string(port));
  const nlohmann::json caps = {
      {"capabilities",
       {{"alwaysMatch",
         {{"browserName", "chrome"},
          {"goog:loggingPrefs", {{"browser", "ALL"}}},
          {"goog:chromeOptions",
           {{"binary", kChromium},
            {"args",
             {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,1000", "--no-first-run", "--disable-extensions"}}}}}}}}};
  const nlohmann::json value = command("POST", "/session", caps);
  session_ = "/session/" + value.at("sessionId").get<std::string>();
}

Browser::~Browser() {
  try {
    if (!session_.empty()) command("DELETE", session_);
  } catch (const std::exception&) {
    // The driver is killed with its child process next.
  }
}

nlohmann::json Browser::command(const std::string& method, const std::string& path,
                                const nlohmann::json& body) {
  const std::string text = body.is_null() ? std::string() : body.dump();
  const HttpResponse r =
      http_.request(method, base_ + path, text, {{"Content-Type", "application/json"}});
  if (!r.error.empty()) throw std::runtime_error("webdriver " + path + ": " + r.error);
  const nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.contains("value"))
    throw std::runtime_error("webdriver " + path + ": not JSON: " + r.body.substr(0, 300));
  if (r.status != 200) {
    const auto& v = j["value"];
    throw std::runtime_error("webdriver " + method + " " + path + ": " +
                             v.value("error", std::string("error")) + ": " +
                             v.value("message", std::string()).substr(0, 500));
  }
  return j["value"];
}

void Browser::go(const std::string& url) {
  command("POST", session_ + "/url", {{"url", url}});
}

std::string Browser::url() {
  return command("GET", session_ + "/url").get<std::string>();
}

nlohmann::json Browser::run(const std::string& script, nlohmann::json args) {
  return command("POST", session_ + "/execute/sync", {{"script", script}, {"args", args}});
}

bool Browser::wait_for(const std::string& script, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const nlohmann::json v = run(script);
    if (v.is_boolean() && v.get<bool>()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string Browser::find(const std::string& css) {
  const nlohmann::json v =
      command("POST", session_ + "/element", {{"using", "css selector"}, {"value", css}});
  return v.at(kElement).get<std::string>();
}

void Browser::click(const std::string& element) {
  command("POST", session_ + "/element/" + element + "/click", nlohmann::json::object());
}

void Browser::type(const std::string& element, const std::string& text) {
  command("POST", session_ + "/element/" + element + "/value", {{"text", text}});
}

void Browser::screenshot(const std::string& path) {
  const std::string b64 = command("GET", session_ + "/screenshot").get<std::string>();
  std::string png(boost::beast::detail::base64::decoded_size(b64.size()), '\0');
  const auto [written, read] =
      boost::beast::detail::base64::decode(png.data(), b64.data(), b64.size());
  (void)read;
  png.resize(written);
  std::ofstream(path, std::ios::binary) << png;
}

std::vector<std::string> Browser::console_errors() {
  // ChromeDriver's log endpoint (goog:loggingPrefs above).
  const nlohmann::json entries = command("POST", session_ + "/se/log", {{"type", "browser"}});
  std::vector<std::string> out;
  for (const auto& e : entries)
    if (e.value("level", std::string()) == "SEVERE") out.push_back(e.value("message", ""));
  return out;
}

}  // namespace firebreak::e2e
