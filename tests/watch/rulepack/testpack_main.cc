// Writes the test pack: DIR/firebreak.rules.yml (the pack of testpack.h),
// a copy of each testdata/*_test.yml beside it, and DIR/export/ (a
// Prometheus export of the same targets), for the peer tests to run promtool
// on.
//
//   rulepack_testpack TESTDATA_DIR OUT_DIR
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "tests/watch/rulepack/testpack.h"
#include "watch/rulepack/prometheus_export.h"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  namespace rp = watch::rulepack;
  if (argc != 3) {
    std::cerr << "usage: rulepack_testpack TESTDATA_DIR OUT_DIR\n";
    return 2;
  }
  const fs::path testdata = argv[1], out = argv[2];
  std::error_code ec;
  fs::remove_all(out, ec);
  fs::create_directories(out);
  std::ofstream(out / "firebreak.rules.yml")
      << rp::render_rule_pack(rp::testpack::targets(), rp::testpack::options());
  int copied = 0;
  for (const auto& e : fs::directory_iterator(testdata)) {
    if (e.path().filename().string().ends_with("_test.yml")) {
      fs::copy_file(e.path(), out / e.path().filename());
      ++copied;
    }
  }
  rp::ExportInput in;
  in.rules = rp::testpack::options();
  int port = 9464;
  for (const auto& spec : rp::testpack::targets()) {
    rp::ExportTarget t{.spec = spec,
                       .metrics_url = "http://127.0.0.1:" + std::to_string(port++) + "/metrics"};
    if (spec.workload != rp::Workload::kWorker) {
      t.ready_url = "http://127.0.0.1:" + std::to_string(port - 1) + "/readyz";
    }
    if (spec.name == "legacy") {
      t.metrics_url = "https://legacy.internal:8443/admin/metrics?format=prometheus";
      t.honor_labels = true;
      t.scrape_interval_ms = 30'000;
      t.labels = {{"team", "payments"}};
    }
    in.targets.push_back(std::move(t));
  }
  std::string error;
  if (!rp::export_prometheus(in, (out / "export").string(), &error)) {
    std::cerr << "export: " << error << "\n";
    return 1;
  }
  std::cout << "wrote " << out.string() << " (" << copied << " test files)\n";
  return copied > 0 ? 0 : 1;
}
