#include <firebreak/exposition.h>
#include <firebreak/log.h>
#include <firebreak/metrics.h>

#include <cstdio>

int main() {
  firebreak::Registry registry;
  registry.counter({.name = "consumer_runs_total", .help = "Runs."}).labels().inc();
  std::string body;
  firebreak::write_exposition(registry.collect(), firebreak::ExpositionFormat::kPrometheusText,
                              body);
  std::fputs(body.c_str(), stdout);
  return body.find("consumer_runs_total 1\n") == std::string::npos;
}
