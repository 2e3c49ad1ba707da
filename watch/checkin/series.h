// One sample of one series, as the check-in tracker and the push store hand
// them to the TSDB (or to an exposition).
#pragma once

#include "watch/model/model.h"

namespace watch::checkin {

struct SeriesSample {
  LabelSet labels;  // with __name__
  Sample sample;    // t in milliseconds since the Unix epoch
  friend bool operator==(const SeriesSample&, const SeriesSample&) = default;
};

}  // namespace watch::checkin
