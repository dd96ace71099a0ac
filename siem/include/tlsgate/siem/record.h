// What a sink carries: one formatted record (payload bytes plus the Kafka key), made from an event
// by the destination's transport and format. Pure functions; never throw on event content.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tlsgate/common/clock.h"
#include "tlsgate/common/event.h"
#include "tlsgate/siem/context.h"
#include "tlsgate/siem/record_fields.h"
#include "tlsgate/siem/settings.h"

namespace tlsgate::siem {

/// One record ready to send: the bytes of one syslog message / Kafka value / file line (no
/// framing, no trailing newline) and its key.
struct Record {
    /// The Kafka message key: the session id for session events, the certificate id for
    /// certificate events, so one session's (one certificate's) records land on one partition
    /// and stay in order. Empty for exporter notices (no key).
    std::string key;
    std::string payload;

    bool operator==(const Record&) const = default;
};

/// The record for `event` in the destination's format (wrapped in RFC 5424 for syslog).
Record makeRecord(const Event& event, Transport transport, RecordFormat format,
                  const FormatContext& context);

/// The records of one event for several destinations: each format is rendered once and wrapped
/// for syslog once, however many destinations use it. `event` and `context` must outlive it.
class EventRecords {
  public:
    EventRecords(const Event& event, const FormatContext& context);
    /// makeRecord(event, transport, format, context), rendered on first use.
    const Record& get(Transport transport, RecordFormat format);

  private:
    static constexpr std::size_t kFormats = 5;  // the RecordFormat values

    const Event& event_;
    const FormatContext& context_;
    std::array<std::optional<std::string>, kFormats> bodies_;
    /// The flat fields syslog's structured data and LEEF both carry: made once for both.
    const FlatFields& fields();

    std::optional<FlatFields> fields_;
    std::optional<std::string> syslogHead_;  // the RFC 5424 message up to its structured data
    std::array<std::optional<Record>, kFormats> plain_;   // file and Kafka
    std::array<std::optional<Record>, kFormats> syslog_;  // wrapped in RFC 5424
};

/// The "events dropped" notice a destination emits once it is back after shedding records: how
/// many records `destination` lost, in the destination's format. Action "events-dropped",
/// severity warning; the count is `tlsgate.exporter.dropped` (ECS/OCSF), SD-PARAM `dropped`,
/// CEF `cnt`, LEEF `dropped`.
Record makeDropNotice(std::uint64_t dropped, std::string_view destination, TimePoint at,
                      Transport transport, RecordFormat format, const FormatContext& context);

}  // namespace tlsgate::siem
