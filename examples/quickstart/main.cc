// The README's quick start, compiled so that it stays true.
#include <firebreak/log.h>
#include <firebreak/service.h>

#include <filesystem>

int main() {
  firebreak::Service service(
      {.name = "checkout", .version = "1.4.2", .workload = firebreak::Workload::kApi});
  auto& orders = service.registry().counter(
      {.name = "orders_total", .help = "Orders accepted.", .labels = {"channel"}});
  auto& latency = service.registry().histogram(
      {.name = "order_duration_seconds", .help = "Time to take an order.", .unit = "seconds"});
  firebreak::Counter web = orders.labels("web");  // resolve once, keep the handle
  firebreak::Histogram took = latency.labels();

  service.health().add_readiness("database", [] {  // cached: probes never hammer it
    return !std::filesystem::exists("/tmp/checkout-db-down");
  });
  service.start();         // admin on 127.0.0.1:9464: /livez /readyz /healthz /metrics
  service.mark_started();  // ready once "database" passes
  FB_LOG_INFO("service_started", "Taking orders", {"admin", service.admin_address()});

  while (!service.wait_for_stop(std::chrono::milliseconds(100))) {
    firebreak::ScopedTimer timer(took);  // one order every 100 ms
    web.inc();                           // about a nanosecond, no lock
  }
  return service.wait();  // SIGTERM: not ready at once, drains, returns 0
}
