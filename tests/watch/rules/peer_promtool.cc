// Peer test: runs `promtool test rules` and watch's runner on the same unit
// test files and requires the same verdict from both, and the verdict the
// file's name promises (`*_fail_test.yml` must fail, others must pass).
//
//   rules_peer_promtool --promtool /usr/bin/promtool --dir tests/watch/rules/testdata
#include <sys/wait.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "watch/rules/unit_test_runner.h"

namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// promtool's exit status (0 pass) and its output.
int run_promtool(const std::string& promtool, const std::string& file, std::string& output) {
  const std::string cmd = shell_quote(promtool) + " test rules " + shell_quote(file) + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string promtool = "promtool", dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--promtool") promtool = argv[i + 1];
    if (a == "--dir") dir = argv[i + 1];
  }
  if (dir.empty()) {
    std::cerr << "usage: rules_peer_promtool --promtool PATH --dir TESTDATA\n";
    return 2;
  }
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with("_test.yml")) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  if (files.size() < 2) {
    std::cerr << "too few test files in " << dir << "\n";
    return 2;
  }
  int mismatches = 0, expected_failures = 0;
  for (const auto& f : files) {
    std::string promtool_out;
    const int rc = run_promtool(promtool, f, promtool_out);
    if (rc != 0 && rc != 1) {
      std::cerr << "promtool did not run on " << f << " (status " << rc << "):\n" << promtool_out;
      return 2;
    }
    const bool promtool_pass = rc == 0;
    std::ostringstream ours_out;
    const bool ours_pass = watch::rules::run_rule_unit_tests({f}, ours_out) == 0;
    const bool want_pass = f.find("_fail_test.yml") == std::string::npos;
    if (!want_pass) ++expected_failures;
    const bool ok = promtool_pass == ours_pass && ours_pass == want_pass;
    std::cout << (ok ? "agree " : "DIFFER") << "  promtool=" << (promtool_pass ? "pass" : "fail")
              << " watch=" << (ours_pass ? "pass" : "fail")
              << " expected=" << (want_pass ? "pass" : "fail") << "  " << f << "\n";
    if (!ok) {
      ++mismatches;
      std::cout << "--- promtool:\n" << promtool_out << "--- watch:\n" << ours_out.str();
    }
  }
  if (expected_failures == 0) {
    std::cerr << "no deliberately failing test file\n";
    return 1;
  }
  std::cout << files.size() << " files, " << mismatches << " disagreements\n";
  return mismatches == 0 ? 0 : 1;
}
