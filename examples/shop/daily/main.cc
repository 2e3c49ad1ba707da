// shop-daily: the daily report job. Aggregates one day's orders (the previous
// UTC day by default) into the daily_reports table and a CSV file, and prunes
// done queue messages older than the retention. Runs once and exits (cron or
// the systemd timer in deploy/systemd/), or every --every seconds for demos.
//
//   shop-daily --db shop.db --out-dir /var/lib/shop/reports
//              --checkin-url http://127.0.0.1:9095/ping/shop-daily
//              --pushgateway-url http://127.0.0.1:9091
//
// Each run is a firebreak::JobRun (firebreak/workload/job.h): job_* metrics,
// `job_started`/`job_finished` log records with a run id, check-ins
// (<url>/start, then <url> or <url>/fail) and a push of the job_* families
// to the Pushgateway, and a lock file so that two runs never overlap.
//
// Exit status (once): 0 success, 1 failure, 75 another run holds the lock,
// 2 bad flags. With --every it runs until SIGTERM and exits 0.
//
// The admin port serves /metrics and /fault while the process lives: by
// default an ephemeral port when running once (a timer's runs must not fight
// over a port), 127.0.0.1:9466 with --every.
//
// Flags beyond the common ones (common/shop_process.h):
//   --out-dir DIR             SHOP_REPORT_DIR; where report-YYYY-MM-DD.csv goes
//   --day yesterday|today|YYYY-MM-DD
//   --retention-hours H       done messages older than this are deleted
//   --every SECONDS           run repeatedly (demos); 0 = once
//   --checkin-url URL         FIREBREAK_JOB_CHECKIN_URL (the variable wins)
//   --pushgateway-url URL     FIREBREAK_PUSHGATEWAY_URL (the variable wins)
//   --lock-file PATH          FIREBREAK_JOB_LOCK_FILE (the variable wins)
// Fault switches: fail (every run fails), slow_ms=N (every run waits N ms
// first; clearing the switch ends the wait).
#include <CLI/CLI.hpp>

#include <iostream>

#include "common/queue.h"
#include "common/schema.h"
#include "common/shop_process.h"
#include "daily/daily_report.h"
#include "firebreak/log.h"
#include "firebreak/service.h"
#include "firebreak/trace.h"
#include "firebreak/workload/job.h"

namespace {

using std::chrono::milliseconds;

struct DailyFlags {
  std::string out_dir = "reports";
  std::string day = "yesterday";
  double retention_hours = 168;
  double every_seconds = 0;
  std::string checkin_url;
  std::string pushgateway_url;
  std::string lock_file;
};

shop::Day pick_day(const std::string& text, double now) {
  if (text == "yesterday") return shop::previous_day(now);
  if (text == "today") return shop::day_of(now);
  return *shop::parse_day(text);  // validated at parse time
}

// The fault switch slow_ms: the run waits that long (a lock, a slow
// dependency) before its work, checking the switch as it goes, so that
// clearing it lets the run go on at once. Throws when the service is asked to
// stop meanwhile (the run did not do its work).
void wait_if_slow(const shop::Fault& slow, const firebreak::Service& service) {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start <
         std::chrono::duration<double, std::milli>(slow.value())) {
    if (service.wait_for_stop(milliseconds(100)))
      throw std::runtime_error("stopped while slowed by the fault switch slow_ms");
  }
}

// One run: the job's body. Throws on failure (run_job records it).
void build_report(firebreak::JobRun& run, const DailyFlags& flags, const std::string& db_path,
                  const shop::FaultSwitches& faults, const firebreak::Service& service) {
  if (faults.get("fail").on()) throw std::runtime_error("injected fault: fail");
  wait_if_slow(faults.get("slow_ms"), service);
  const double now = firebreak::Clock::system().wall_seconds();
  const shop::Day day = pick_day(flags.day, now);

  shop::Db db({.path = db_path});
  shop::migrate(db);
  const shop::DailyReport report = shop::build_daily_report(db, day);
  {
    shop::Transaction tx(db);
    shop::store_daily_report(db, report, run.run_id(), now);
    tx.commit();
  }
  const auto path = shop::write_daily_report_csv(report, flags.out_dir);
  run.add_items(static_cast<std::uint64_t>(report.total.orders));

  shop::Queue queue(db, {.name = "orders"});
  const auto retention =
      std::chrono::seconds(static_cast<std::int64_t>(flags.retention_hours * 3600));
  const std::int64_t pruned = queue.prune_done(retention);
  FB_LOG_INFO("daily_report_written", "", {"day", shop::format_day(day)},
              {"orders", report.total.orders}, {"revenue_cents", report.total.revenue_cents},
              {"path", path.string()}, {"pruned_messages", pruned});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shop-daily: the daily order report job"};
  shop::CommonFlags flags{.admin_addr = "", .drain_seconds = 0};
  DailyFlags daily;
  shop::add_common_flags(app, flags);
  app.add_option("--out-dir", daily.out_dir, "Directory of the CSV reports")
      ->envname("SHOP_REPORT_DIR")
      ->capture_default_str();
  app.add_option("--day", daily.day, "Day to report: yesterday, today or YYYY-MM-DD (UTC)")
      ->capture_default_str()
      ->check([](const std::string& s) -> std::string {
        if (s == "yesterday" || s == "today" || shop::parse_day(s)) return {};
        return "expected yesterday, today or a date YYYY-MM-DD";
      });
  app.add_option("--retention-hours", daily.retention_hours,
                 "Done queue messages older than this are deleted")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--every", daily.every_seconds, "Run every SECONDS until stopped (0: once)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--checkin-url", daily.checkin_url,
                 "Check-in base URL, healthchecks style (FIREBREAK_JOB_CHECKIN_URL wins)");
  app.add_option("--pushgateway-url", daily.pushgateway_url,
                 "Pushgateway base URL (FIREBREAK_PUSHGATEWAY_URL wins)");
  app.add_option("--lock-file", daily.lock_file,
                 "Lock file: a run that finds it held exits 75 (FIREBREAK_JOB_LOCK_FILE wins)");
  CLI11_PARSE(app, argc, argv);
  const bool once = daily.every_seconds == 0;
  if (flags.admin_addr.empty()) flags.admin_addr = once ? "127.0.0.1:0" : "127.0.0.1:9466";

  try {
    firebreak::ServiceOptions options{
        .name = "shop-daily", .version = SHOP_VERSION, .workload = firebreak::Workload::kJob};
    options.admin.address = flags.admin_addr;
    options.drain_time = milliseconds(static_cast<std::int64_t>(flags.drain_seconds * 1000));
    firebreak::Service service(std::move(options));
    shop::FaultSwitches faults(std::vector<shop::FaultSpec>{
        {.name = "fail", .help = "fail every run"},
        {.name = "slow_ms",
         .help = "make every run take this much longer (it waits, as on a lock)",
         .kind = shop::FaultKind::kNumber,
         .max = 3'600'000}});
    try {
      shop::apply_fault_flags(faults, flags.faults);
    } catch (const std::invalid_argument& e) {
      std::cerr << "shop-daily: " << e.what() << std::endl;
      return 2;
    }
    firebreak::Tracing tracing = firebreak::init_tracing({.service_name = "shop-daily",
                                                          .service_version = SHOP_VERSION,
                                                          .registry = &service.registry()});
    faults.install(service.admin(), service.registry());
    service.start();
    shop::announce("admin", service.admin_address());
    service.mark_started();

    auto run_once = [&] {
      return firebreak::run_job({.name = "shop-daily",
                                 .registry = &service.registry(),
                                 .checkin_url = daily.checkin_url,
                                 .pushgateway_url = daily.pushgateway_url,
                                 .lock_file = daily.lock_file},
                                [&](firebreak::JobRun& run) {
                                  build_report(run, daily, flags.db_path, faults, service);
                                });
    };

    if (once) {
      const int status = run_once();
      service.request_stop();
      service.wait();
      return status;
    }
    const auto period = milliseconds(static_cast<std::int64_t>(daily.every_seconds * 1000));
    do {
      run_once();  // a failed run is recorded and reported; the loop goes on
    } while (!service.wait_for_stop(period));
    return service.wait();
  } catch (const std::exception& e) {
    std::cerr << "shop-daily: " << e.what() << std::endl;
    return 1;
  }
}
