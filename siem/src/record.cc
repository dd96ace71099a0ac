// Event -> Record for one destination (format, RFC 5424 wrapping, Kafka key), and the exporter's
// own "events dropped" notice in every format. Pure; never throws on event content.
#include "tlsgate/siem/record.h"

#include "tlsgate/siem/escaping.h"
#include "tlsgate/siem/formatters.h"
#include "tlsgate/siem/json_value.h"
#include "tlsgate/siem/record_fields.h"
#include "tlsgate/siem/severity.h"

namespace tlsgate::siem {
namespace {

constexpr std::string_view kDropAction = "events-dropped";
constexpr Severity kDropSeverity = Severity::Warning;

std::string bodyOf(const Event& event, RecordFormat format, const FormatContext& context) {
    switch (format) {
        case RecordFormat::Ecs:
            return formatEcs(event, context);
        case RecordFormat::Ocsf:
            return formatOcsf(event, context);
        case RecordFormat::Cef:
            return formatCef(event, context);
        case RecordFormat::Leef:
            return formatLeef(event, context);
        case RecordFormat::Text:
            return formatText(event);
    }
    return formatEcs(event, context);
}

std::string keyOf(const Event& event) {
    if (const auto* session = std::get_if<TlsSessionEvent>(&event)) {
        return session->sessionId;
    }
    return std::get<CertificateEvent>(event).certId;
}

std::string dropText(std::uint64_t dropped, std::string_view destination) {
    return "Events dropped: " + std::to_string(dropped) + " records for destination " +
           std::string(destination) + " were lost (disk buffer full or queue overflow)";
}

std::string dropBody(std::uint64_t dropped, std::string_view destination, TimePoint at,
                     RecordFormat format, const FormatContext& context) {
    const std::string count = std::to_string(dropped);
    switch (format) {
        case RecordFormat::Ecs: {
            JsonValue doc = JsonValue::object();
            doc.set("@timestamp", rfc3339Millis(at));
            doc.set("ecs.version", kEcsVersion);
            doc.set("event.kind", "alert");
            doc.set("event.category", JsonValue::array().push("process"));
            doc.set("event.type", JsonValue::array().push("info"));
            doc.set("event.action", kDropAction);
            doc.set("event.outcome", "failure");
            doc.set("event.severity", syslogCode(kDropSeverity));
            doc.set("event.dataset", "tlsgate.exporter");
            doc.set("log.level", toString(kDropSeverity));
            doc.set("message", dropText(dropped, destination));
            doc.setIfNotEmpty("observer.hostname", context.observerHost);
            doc.set("observer.product", "tlsgate");
            doc.set("observer.vendor", "tlsgate");
            doc.setIfNotEmpty("observer.version", context.productVersion);
            doc.set("tlsgate.exporter.destination", destination);
            doc.set("tlsgate.exporter.dropped", dropped);
            return doc.dump();
        }
        case RecordFormat::Ocsf: {
            // OCSF Base Event (class 0): the exporter's own condition has no closer class.
            JsonValue doc = JsonValue::object();
            doc.set("class_uid", 0);
            doc.set("class_name", "Base Event");
            doc.set("category_uid", 0);
            doc.set("category_name", "Uncategorized");
            doc.set("activity_id", 99);
            doc.set("activity_name", "Other");
            doc.set("type_uid", 99);
            doc.set("type_name", "Base Event: Other");
            doc.set("time", epochMillis(at));
            doc.set("severity_id", ocsfSeverityId(kDropSeverity));
            doc.set("severity", ocsfSeverityName(kDropSeverity));
            doc.set("status_id", 2);
            doc.set("status", "Failure");
            doc.set("message", dropText(dropped, destination));
            doc.set("metadata.version", kOcsfVersion);
            doc.set("metadata.product.name", "tlsgate");
            doc.set("metadata.product.vendor_name", "tlsgate");
            doc.setIfNotEmpty("metadata.product.version", context.productVersion);
            doc.set("metadata.event_code", kDropAction);
            doc.set("count", dropped);
            doc.set("unmapped.tlsgate.destination", destination);
            doc.setIfNotEmpty("unmapped.tlsgate.observer_hostname", context.observerHost);
            return doc.dump();
        }
        case RecordFormat::Cef:
            return "CEF:0|tlsgate|tlsgate|" + escapeCefHeader(context.productVersion) + '|' +
                   std::string(kDropAction) + "|Events dropped|" +
                   std::to_string(cefSeverity(kDropSeverity)) +
                   "|rt=" + std::to_string(epochMillis(at)) + " act=" + std::string(kDropAction) +
                   " outcome=failure cnt=" + count + " cs1=" + escapeCefValue(destination) +
                   " cs1Label=destination msg=" + escapeCefValue(dropText(dropped, destination));
        case RecordFormat::Leef:
            return "LEEF:2.0|tlsgate|tlsgate|" + replaceLeef(context.productVersion, '\t') + '|' +
                   std::string(kDropAction) + "|devTime=" + rfc3339Millis(at) +
                   "\tdevTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSX\tsev=" +
                   std::to_string(leefSeverity(kDropSeverity)) + "\tdropped=" + count +
                   "\tdestination=" + replaceLeef(destination, '\t');
        case RecordFormat::Text:
            return dropText(dropped, destination);
    }
    return dropText(dropped, destination);
}

}  // namespace

Record makeRecord(const Event& event, Transport transport, RecordFormat format,
                  const FormatContext& context) {
    return EventRecords(event, context).get(transport, format);
}

static_assert(static_cast<std::size_t>(RecordFormat::Text) + 1 == 5, "EventRecords::kFormats");

EventRecords::EventRecords(const Event& event, const FormatContext& context)
    : event_(event), context_(context) {}

const Record& EventRecords::get(Transport transport, RecordFormat format) {
    const auto index = static_cast<std::size_t>(format);
    auto& record = isSyslog(transport) ? syslog_.at(index) : plain_.at(index);
    if (!record) {
        auto& body = bodies_.at(index);
        if (!body) {
            body = format == RecordFormat::Leef ? formatLeef(event_, context_, fields())
                                                : bodyOf(event_, format, context_);
        }
        if (!isSyslog(transport)) {
            record = Record{keyOf(event_), *body};
        } else {
            // formatSyslog(event, context, body), with the part before the body made once.
            if (!syslogHead_) {
                syslogHead_ = formatSyslog(event_, context_, {}, fields());
            }
            std::string payload;
            payload.reserve(syslogHead_->size() + 1 + body->size());
            payload += *syslogHead_;
            if (!body->empty()) {
                payload += ' ';
                payload += *body;
            }
            record = Record{keyOf(event_), std::move(payload)};
        }
    }
    return *record;
}

const FlatFields& EventRecords::fields() {
    if (!fields_) {
        fields_ = flatFieldsOf(event_);
    }
    return *fields_;
}

Record makeDropNotice(std::uint64_t dropped, std::string_view destination, TimePoint at,
                      Transport transport, RecordFormat format, const FormatContext& context) {
    Record record;
    std::string body = dropBody(dropped, destination, at, format, context);
    if (!isSyslog(transport)) {
        record.payload = std::move(body);
        return record;
    }
    const int pri = static_cast<int>(context.facility) * 8 + syslogCode(kDropSeverity);
    record.payload = "<" + std::to_string(pri) + ">1 " + rfc3339Millis(at) + ' ' +
                     syslogHeaderField(context.observerHost, 255) + ' ' +
                     syslogHeaderField(context.appName, 48) + ' ' +
                     syslogHeaderField(context.procId, 128) + ' ' + std::string(kDropAction) +
                     " [" + sdName("tlsgate@" + std::to_string(context.enterpriseNumber)) +
                     " action=\"" + std::string(kDropAction) + "\" destination=\"" +
                     escapeSdParamValue(destination) + "\" dropped=\"" + std::to_string(dropped) +
                     "\"] " + body;
    return record;
}

}  // namespace tlsgate::siem
