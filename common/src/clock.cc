// The process-wide system clock instance.
#include "tlsgate/common/clock.h"

namespace tlsgate {

const SystemClock& SystemClock::instance() {
    static const SystemClock clock;
    return clock;
}

}  // namespace tlsgate
