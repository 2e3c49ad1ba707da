#include "firebreak/clock.h"

namespace firebreak {

Clock& Clock::system() {
  static SystemClock clock;
  return clock;
}

}  // namespace firebreak
