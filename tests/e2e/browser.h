// A real browser for end-to-end tests: Debian's headless Chromium driven
// through ChromeDriver's W3C WebDriver protocol (JSON over HTTP on a local
// port), so a test loads pages, clicks, types, reads the DOM, collects the
// console's messages and takes screenshots as a user's browser would.
//
//   firebreak::e2e::Browser browser;             // starts chromedriver + chromium
//   browser.go(watch.url() + "/");
//   browser.wait_for("return document.querySelectorAll('.card').length > 0");
//   browser.screenshot(output_dir + "/overview.png");
//   EXPECT_TRUE(browser.console_errors().empty());
//
// Throws std::runtime_error with the driver's message when a command fails.
// Not thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "firebreak/http_client.h"
#include "support/child_process.h"

namespace firebreak::e2e {

// Whether chromium and chromedriver are installed (scripts/setup installs them).
bool browser_available();

class Browser {
 public:
  Browser();  // a 1280x1000 window
  ~Browser();
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  void go(const std::string& url);
  std::string url();
  // Runs `script` (a function body; `arguments` holds `args`) in the page and
  // returns its value. WebDriver runs it outside the page's CSP.
  nlohmann::json run(const std::string& script, nlohmann::json args = nlohmann::json::array());
  // Runs `script` until it returns true, for up to `timeout`; false if it never did.
  bool wait_for(const std::string& script,
                std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // The element matching a CSS selector (a WebDriver element id).
  std::string find(const std::string& css);
  void click(const std::string& element);
  void type(const std::string& element, const std::string& text);
  // A PNG of the window.
  void screenshot(const std::string& path);
  // Console messages at level SEVERE (errors, failed loads, CSP refusals)
  // since the last call.
  std::vector<std::string> console_errors();

 private:
  nlohmann::json command(const std::string& method, const std::string& path,
                         const nlohmann::json& body = nullptr);

  std::unique_ptr<test::ChildProcess> driver_;
  std::string base_;     // http://127.0.0.1:<port>
  std::string session_;  // /session/<id>
  HttpClient http_;
};

}  // namespace firebreak::e2e
