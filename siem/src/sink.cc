// The sink factory (the transport picks the sink class; never fails: sinks report errors later)
// and the record-by-record batch every sink without a batched write uses.
#include "tlsgate/siem/sink.h"

#include "tlsgate/siem/sink_file.h"
#include "tlsgate/siem/sink_kafka.h"
#include "tlsgate/siem/sink_syslog.h"

namespace tlsgate::siem {

BatchResult Sink::sendBatch(std::span<const Record> records) {
    BatchResult result;
    for (const Record& record : records) {
        const SendResult sent = send(record);
        if (sent == SendResult::Sent) {
            ++result.sent;
        } else if (sent == SendResult::Queued) {
            ++result.queued;
        } else {
            result.stop = sent;
            break;
        }
    }
    return result;
}

std::unique_ptr<Sink> makeSink(const DestinationSettings& destination, SinkListener& listener) {
    switch (destination.transport) {
        case Transport::SyslogUdp:
            return std::make_unique<SyslogUdpSink>(destination);
        case Transport::SyslogTcp:
        case Transport::SyslogTls:
            return std::make_unique<SyslogStreamSink>(destination);
        case Transport::Kafka:
            return std::make_unique<KafkaSink>(destination, listener);
        case Transport::File:
            return std::make_unique<FileSink>(destination);
    }
    return std::make_unique<FileSink>(destination);
}

}  // namespace tlsgate::siem
