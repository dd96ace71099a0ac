// The sink factory: the transport picks the sink class. Never fails (sinks report errors later).
#include "tlsgate/siem/sink.h"

#include "tlsgate/siem/sink_file.h"
#include "tlsgate/siem/sink_kafka.h"
#include "tlsgate/siem/sink_syslog.h"

namespace tlsgate::siem {

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
