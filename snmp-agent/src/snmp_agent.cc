// The AgentX subagent (see snmp_agent.h): one "snmp" thread initialises Net-SNMP as a subagent,
// registers TLSGATE-MIB's scalars and tables and the standard MTA tables (mta_mib.h), runs the
// select loop, turns bus events into
// notifications (rate-limited) and shuts Net-SNMP down. No Net-SNMP call is made on any other
// thread. Errors are logged to "tlsgate.snmp"; nothing here throws after start().
#include "tlsgate/snmp/snmp_agent.h"

// clang-format off
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/agent/net-snmp-agent-includes.h>
#include <net-snmp/library/large_fd_set.h>
// clang-format on

#include <pthread.h>

#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "tlsgate/certmgr/certificate.h"
#include "tlsgate/certmgr/store.h"
#include "tlsgate/gateway/config.h"
#include "tlsgate/gateway/counters.h"
#include "tlsgate/snmp/mta_mib.h"
#include "tlsgate/snmp/notification.h"
#include "tlsgate/snmp/trap_throttle.h"

namespace tlsgate::snmp {
namespace {

using OidVector = std::vector<oid>;
using Clock = std::chrono::steady_clock;

/// tlsgateMIB: the one place the (temporary) enterprise arc is written in the agent.
const OidVector kMibRoot{1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 1};
/// snmpTrapOID.0
const OidVector kSnmpTrapOid{1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0};

constexpr const char* kAppName = "tlsgate";
constexpr auto kLoopWait = std::chrono::milliseconds(100);
constexpr auto kQueueCache = std::chrono::seconds(3);
constexpr auto kTableRefresh = std::chrono::seconds(5);
constexpr auto kTableRefreshAfterChange = std::chrono::seconds(1);
constexpr std::size_t kEventsPerIteration = 256;

/// tlsgateMIB.arcs...
OidVector mibOid(std::initializer_list<oid> arcs) {
    OidVector out = kMibRoot;
    out.insert(out.end(), arcs);
    return out;
}

struct VarbindsDeleter {
    void operator()(netsnmp_variable_list* list) const { snmp_free_varbind(list); }
};
using VarbindsPtr = std::unique_ptr<netsnmp_variable_list, VarbindsDeleter>;

void setCounter64(netsnmp_variable_list* vb, std::uint64_t value) {
    counter64 c{};
    c.high = static_cast<u_long>(value >> 32);
    c.low = static_cast<u_long>(value & 0xffffffffULL);
    snmp_set_var_typed_value(vb, ASN_COUNTER64, &c, sizeof(c));
}

void setUnsignedType(netsnmp_variable_list* vb, u_char type, std::int64_t value) {
    const u_long v = static_cast<u_long>(std::clamp<std::int64_t>(value, 0, 0xffffffffLL));
    snmp_set_var_typed_value(vb, type, &v, sizeof(v));
}

void setGauge(netsnmp_variable_list* vb, std::int64_t value) {
    setUnsignedType(vb, ASN_GAUGE, value);
}

void setInteger(netsnmp_variable_list* vb, std::int64_t value) {
    const long v = static_cast<long>(std::clamp<std::int64_t>(value, INT32_MIN, INT32_MAX));
    snmp_set_var_typed_value(vb, ASN_INTEGER, &v, sizeof(v));
}

void setText(netsnmp_variable_list* vb, const std::string& text) {
    snmp_set_var_typed_value(vb, ASN_OCTET_STR, text.data(), text.size());
}

/// A read-only scalar: fills the varbind of a GET.
struct Scalar {
    std::function<void(netsnmp_variable_list*)> get;
};

int scalarHandler(netsnmp_mib_handler* /*handler*/, netsnmp_handler_registration* reginfo,
                  netsnmp_agent_request_info* reqinfo, netsnmp_request_info* requests) {
    const auto* scalar = static_cast<const Scalar*>(reginfo->my_reg_void);
    if (reqinfo->mode == MODE_GET) {
        for (auto* r = requests; r != nullptr; r = r->next) {
            scalar->get(r->requestvb);
        }
    }
    return SNMP_ERR_NOERROR;
}

/// One row of tlsgateCertTable, as served (computed at refresh time).
struct CertRow {
    std::uint32_t index = 0;
    std::string id;
    long role = 1;
    long status = 1;
    std::string subject;
    std::string issuer;
    std::string serial;
    std::string notBefore;  // DateAndTime
    std::string notAfter;   // DateAndTime
    std::int64_t daysLeft = 0;
    std::string keyType;
    std::int64_t keyBits = 0;
    std::string sha256;
};

struct SiemRow {
    std::uint32_t index = 0;
    SiemDestinationStatus status;
};

template <class Row>
using RowFiller = void (*)(const Row&, unsigned int column, netsnmp_variable_list*);

void fillCertColumn(const CertRow& row, unsigned int column, netsnmp_variable_list* vb) {
    switch (column) {
        case 2:
            setText(vb, row.id);
            break;
        case 3:
            setInteger(vb, row.role);
            break;
        case 4:
            setInteger(vb, row.status);
            break;
        case 5:
            setText(vb, row.subject);
            break;
        case 6:
            setText(vb, row.issuer);
            break;
        case 7:
            setText(vb, row.serial);
            break;
        case 8:
            setText(vb, row.notBefore);
            break;
        case 9:
            setText(vb, row.notAfter);
            break;
        case 10:
            setInteger(vb, row.daysLeft);
            break;
        case 11:
            setText(vb, row.keyType);
            break;
        case 12:
            setUnsignedType(vb, ASN_UNSIGNED, row.keyBits);
            break;
        case 13:
            setText(vb, row.sha256);
            break;
        default:
            break;
    }
}

void fillSiemColumn(const SiemRow& row, unsigned int column, netsnmp_variable_list* vb) {
    switch (column) {
        case 2:
            setText(vb, row.status.name);
            break;
        case 3:
            setInteger(vb, row.status.connected ? 1 : 2);  // TruthValue
            break;
        case 4:
            setCounter64(vb, row.status.recordsSent);
            break;
        case 5:
            setCounter64(vb, row.status.recordsBuffered);
            break;
        case 6:
            setCounter64(vb, row.status.recordsDropped);
            break;
        case 7:
            setGauge(vb, row.status.bufferLength);
            break;
        default:
            break;
    }
}

template <class Row, RowFiller<Row> Fill>
int tableHandler(netsnmp_mib_handler* /*handler*/, netsnmp_handler_registration* /*reginfo*/,
                 netsnmp_agent_request_info* reqinfo, netsnmp_request_info* requests) {
    if (reqinfo->mode != MODE_GET) {
        return SNMP_ERR_NOERROR;
    }
    for (auto* r = requests; r != nullptr; r = r->next) {
        if (r->processed != 0) {
            continue;
        }
        const auto* row = static_cast<const Row*>(netsnmp_tdata_extract_entry(r));
        const netsnmp_table_request_info* info = netsnmp_extract_table_info(r);
        if (row == nullptr || info == nullptr) {
            netsnmp_set_request_error(reqinfo, r, SNMP_NOSUCHINSTANCE);
            continue;
        }
        Fill(*row, info->colnum, r->requestvb);
    }
    return SNMP_ERR_NOERROR;
}

/// A tdata table whose rows point into `rows`, rebuilt whole on refresh.
template <class Row>
struct Table {
    netsnmp_tdata* data = nullptr;
    std::vector<std::unique_ptr<Row>> rows;

    void clear() {
        if (data != nullptr) {
            while (netsnmp_tdata_row* row = netsnmp_tdata_row_first(data)) {
                netsnmp_tdata_remove_and_delete_row(data, row);
            }
        }
        rows.clear();
    }

    void replace(std::vector<std::unique_ptr<Row>> next) {
        clear();
        rows = std::move(next);
        for (const auto& r : rows) {
            netsnmp_tdata_row* row = netsnmp_tdata_create_row();
            if (row == nullptr) {
                continue;
            }
            row->data = r.get();
            const u_long index = r->index;
            snmp_varlist_add_variable(&row->indexes, nullptr, 0, ASN_UNSIGNED, &index,
                                      sizeof(index));
            netsnmp_tdata_add_row(data, row);
        }
    }
};

/// One row of a table whose columns are computed at request time (the MTA tables).
struct ComputedRow {
    std::function<std::optional<mta::Value>(unsigned int column)> column;
};

/// A tdata table of ComputedRows with Integer32 indexes, filled once at registration.
struct ComputedTable {
    netsnmp_tdata* data = nullptr;
    std::vector<std::unique_ptr<ComputedRow>> rows;

    void clear() {
        if (data != nullptr) {
            while (netsnmp_tdata_row* row = netsnmp_tdata_row_first(data)) {
                netsnmp_tdata_remove_and_delete_row(data, row);
            }
        }
        rows.clear();
    }

    void add(const std::vector<long>& indexes,
             std::function<std::optional<mta::Value>(unsigned int)> column) {
        netsnmp_tdata_row* row = netsnmp_tdata_create_row();
        if (row == nullptr) {
            throw std::bad_alloc();
        }
        rows.push_back(std::make_unique<ComputedRow>(ComputedRow{std::move(column)}));
        row->data = rows.back().get();
        for (const long index : indexes) {
            snmp_varlist_add_variable(&row->indexes, nullptr, 0, ASN_INTEGER, &index,
                                      sizeof(index));
        }
        netsnmp_tdata_add_row(data, row);
    }
};

void setValue(netsnmp_variable_list* vb, const mta::Value& v) {
    switch (v.type) {
        case mta::Value::Type::Counter32: {
            const u_long c =
                static_cast<u_long>(static_cast<std::uint64_t>(v.number) & 0xffffffffULL);
            snmp_set_var_typed_value(vb, ASN_COUNTER, &c, sizeof(c));
            break;
        }
        case mta::Value::Type::Gauge32:
            setGauge(vb, v.number);
            break;
        case mta::Value::Type::Integer32:
            setInteger(vb, v.number);
            break;
        case mta::Value::Type::TimeTicks:
            setUnsignedType(vb, ASN_TIMETICKS, v.number);
            break;
        case mta::Value::Type::Text:
            setText(vb, v.text);
            break;
        case mta::Value::Type::Oid: {
            const OidVector name(v.oid.begin(), v.oid.end());
            snmp_set_var_typed_value(vb, ASN_OBJECT_ID, name.data(), name.size() * sizeof(oid));
            break;
        }
    }
}

int computedTableHandler(netsnmp_mib_handler* /*handler*/,
                         netsnmp_handler_registration* /*reginfo*/,
                         netsnmp_agent_request_info* reqinfo, netsnmp_request_info* requests) {
    if (reqinfo->mode != MODE_GET) {
        return SNMP_ERR_NOERROR;
    }
    for (auto* r = requests; r != nullptr; r = r->next) {
        if (r->processed != 0) {
            continue;
        }
        const auto* row = static_cast<const ComputedRow*>(netsnmp_tdata_extract_entry(r));
        const netsnmp_table_request_info* info = netsnmp_extract_table_info(r);
        if (row == nullptr || info == nullptr) {
            netsnmp_set_request_error(reqinfo, r, SNMP_NOSUCHINSTANCE);
            continue;
        }
        const auto value = row->column(info->colnum);
        if (!value) {
            netsnmp_set_request_error(reqinfo, r, SNMP_NOSUCHOBJECT);
            continue;
        }
        setValue(r->requestvb, *value);
    }
    return SNMP_ERR_NOERROR;
}

/// `d` in hundredths of a second (TimeInterval), at least 0.
std::int64_t hundredths(Clock::duration d) {
    return std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(d).count() / 10);
}

long roleOf(const std::vector<certmgr::Role>& roles) {
    const bool server = std::find(roles.begin(), roles.end(), certmgr::Role::Server) != roles.end();
    const bool client = std::find(roles.begin(), roles.end(), certmgr::Role::Client) != roles.end();
    return server && client ? 4 : server ? 2 : client ? 3 : 1;
}

long statusOf(certmgr::CertificateStatus status) {
    switch (status) {
        case certmgr::CertificateStatus::Valid:
            return 1;
        case certmgr::CertificateStatus::Expiring:
            return 2;
        case certmgr::CertificateStatus::Expired:
            return 3;
        case certmgr::CertificateStatus::NotYetValid:
            return 4;
    }
    return 1;
}

/// Net-SNMP's log lines, into "tlsgate.snmp" (`clientArg`: a malloc'd Poco::Logger*).
int logCallback(int /*major*/, int /*minor*/, void* serverArg, void* clientArg) {
    const auto* message = static_cast<const snmp_log_message*>(serverArg);
    auto* const* logger = static_cast<Poco::Logger* const*>(clientArg);
    if (message == nullptr || message->msg == nullptr || logger == nullptr) {
        return 0;
    }
    Poco::Logger* log = *logger;
    std::string text(message->msg);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
        text.pop_back();
    }
    if (text.empty()) {
        return 0;
    }
    Poco::Message::Priority priority = Poco::Message::PRIO_INFORMATION;
    if (message->priority <= LOG_ERR) {
        priority = Poco::Message::PRIO_ERROR;
    } else if (message->priority == LOG_WARNING) {
        priority = Poco::Message::PRIO_WARNING;
    } else if (message->priority == LOG_NOTICE) {
        priority = Poco::Message::PRIO_NOTICE;
    } else if (message->priority >= LOG_DEBUG) {
        priority = Poco::Message::PRIO_DEBUG;
    }
    log->log(Poco::Message(log->name(), "net-snmp: " + text, priority));
    return 0;
}

}  // namespace

class SnmpAgent::Impl {
  public:
    explicit Impl(SnmpAgentSources sources)
        : sources_(std::move(sources)),
          log_(Poco::Logger::get("tlsgate.snmp")),
          throttle_(sources_.config->snmp.trapLimit, sources_.config->snmp.trapInterval) {
        for (const auto& name : sources_.config->snmp.disabledTraps) {
            if (const auto type = notificationTypeNamed(name)) {
                disabled_[static_cast<std::size_t>(*type)] = true;
            }
        }
    }

    void start() {
        std::lock_guard lock(mutex_);
        if (thread_.joinable() || !sources_.config->snmp.enabled) {
            return;
        }
        stopping_ = false;
        thread_ = std::thread([this] { run(); });
    }

    void stop() {
        std::lock_guard lock(mutex_);
        if (!thread_.joinable()) {
            return;
        }
        stopping_ = true;
        thread_.join();
    }

    bool running() const { return running_.load(); }

    void notifySiemDestination(const std::string& destination, bool up, const std::string& reason) {
        if (!running_) {
            return;
        }
        std::lock_guard lock(pendingMutex_);
        if (pending_.size() < 1024) {
            pending_.push_back(siemDestinationChange(destination, up, reason));
        }
    }

  private:
    void run() {
        ::pthread_setname_np(::pthread_self(), "snmp");
        running_ = true;
        try {
            initialise();
            log_.information(
                "snmp agentx subagent started socket=" + sources_.config->snmp.agentxSocket +
                " ping_interval=" + std::to_string(sources_.config->snmp.pingInterval.count()) +
                " traps=" + (sources_.config->snmp.traps ? "on" : "off"));
            loop();
        } catch (const std::exception& e) {
            log_.error(std::string("snmp agent failed: ") + e.what());
        }
        shutdown();
        running_ = false;
    }

    void initialise() {
        const auto& settings = sources_.config->snmp;
        // Net-SNMP free()s a callback's client argument at snmp_shutdown(): it gets a malloc'd
        // pointer to the logger, which it then owns.
        auto* logger = static_cast<Poco::Logger**>(std::malloc(sizeof(Poco::Logger*)));
        if (logger == nullptr) {
            throw std::bad_alloc();
        }
        *logger = &log_;
        snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, logCallback, logger);
        snmp_enable_calllog();
        netsnmp_ds_set_boolean(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_ROLE, 1);
        netsnmp_ds_set_string(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_X_SOCKET,
                              settings.agentxSocket.c_str());
        netsnmp_ds_set_int(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_AGENTX_PING_INTERVAL,
                           static_cast<int>(settings.pingInterval.count()));
        // Alarms (pings, reconnects) run from this loop, never from SIGALRM.
        netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_ALARM_DONT_USE_SIG, 1);
        // The gateway's own file is its configuration: no snmp.conf, no persistent state.
        netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
        netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
        netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
        netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
        // The agent serves numeric OIDs and needs no MIB files: load none (as Debian's
        // snmp.conf does), so there are no warnings about missing ones either.
        std::string noMibs = "mibs :";
        netsnmp_config_remember(noMibs.data());
        if (init_agent(kAppName) != 0) {
            throw std::runtime_error("init_agent failed");
        }
        initialised_ = true;
        // init_agent() sets its defaults (a 15 s ping): ours go after it, before init_snmp()
        // connects to the master.
        netsnmp_ds_set_string(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_X_SOCKET,
                              settings.agentxSocket.c_str());
        netsnmp_ds_set_int(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_AGENTX_PING_INTERVAL,
                           static_cast<int>(settings.pingInterval.count()));
        registerGateway();
        registerCounters();
        registerStatus();
        registerCertificates();
        registerSiem();
        registerTraps();
        registerMta();
        init_snmp(kAppName);
    }

    void loop() {
        while (!stopping_) {
            netsnmp_large_fd_set fds;
            netsnmp_large_fd_set_init(&fds, FD_SETSIZE);
            int numfds = 0;
            int block = 0;
            timeval timeout{0, static_cast<suseconds_t>(kLoopWait.count() * 1000)};
            snmp_select_info2(&numfds, &fds, &timeout, &block);
            const int count = netsnmp_large_fd_set_select(numfds, &fds, nullptr, nullptr, &timeout);
            if (count > 0) {
                snmp_read2(&fds);
            } else if (count == 0) {
                snmp_timeout();
            }
            netsnmp_large_fd_set_cleanup(&fds);
            run_alarms();
            netsnmp_check_outstanding_agent_requests();
            trackActivity();
            processEvents();
            refreshTables(false);
        }
    }

    void shutdown() {
        if (!initialised_) {
            return;
        }
        certTable_.clear();
        siemTable_.clear();
        applTable_.clear();
        mtaTable_.clear();
        mtaGroupTable_.clear();
        snmp_shutdown(kAppName);
        log_.information("snmp agent stopped traps_sent=" + std::to_string(trapsSent_.load()) +
                         " traps_suppressed=" + std::to_string(trapsSuppressed_.load()));
    }

    // --- registration

    void registerScalar(const char* name, const OidVector& where,
                        std::function<void(netsnmp_variable_list*)> get) {
        scalars_.push_back(std::make_unique<Scalar>(Scalar{std::move(get)}));
        netsnmp_handler_registration* reg = netsnmp_create_handler_registration(
            name, scalarHandler, where.data(), where.size(), HANDLER_CAN_RONLY);
        if (reg == nullptr) {
            throw std::runtime_error(std::string("cannot register ") + name);
        }
        reg->my_reg_void = scalars_.back().get();
        if (netsnmp_register_scalar(reg) != MIB_REGISTERED_OK) {
            throw std::runtime_error(std::string("cannot register ") + name);
        }
    }

    void registerCounter(const char* name, const OidVector& where,
                         const gateway::Counters::Counter& counter) {
        registerScalar(name, where, [&counter](netsnmp_variable_list* vb) {
            setCounter64(vb, counter.load(std::memory_order_relaxed));
        });
    }

    void registerGateway() {
        const auto& config = *sources_.config;
        registerScalar("tlsgateVersion", mibOid({1, 1, 1}),
                       [this](netsnmp_variable_list* vb) { setText(vb, sources_.version); });
        registerScalar("tlsgateHostName", mibOid({1, 1, 2}), [this](netsnmp_variable_list* vb) {
            setText(vb, sources_.config->gateway.hostname);
        });
        const std::string started = dateAndTime(sources_.startTime);
        registerScalar("tlsgateStartTime", mibOid({1, 1, 3}),
                       [started](netsnmp_variable_list* vb) { setText(vb, started); });
        // The enumerations follow the configuration enums' order, starting at 1.
        const long receive = static_cast<long>(config.receive.tlsLevel) + 1;
        const long clientCert = static_cast<long>(config.receive.clientCertificate) + 1;
        const long send = static_cast<long>(config.send.tlsLevel) + 1;
        registerScalar("tlsgateReceiveTlsLevel", mibOid({1, 2, 1}),
                       [receive](netsnmp_variable_list* vb) { setInteger(vb, receive); });
        registerScalar("tlsgateClientCertMode", mibOid({1, 2, 2}),
                       [clientCert](netsnmp_variable_list* vb) { setInteger(vb, clientCert); });
        registerScalar("tlsgateSendTlsLevel", mibOid({1, 2, 3}),
                       [send](netsnmp_variable_list* vb) { setInteger(vb, send); });
    }

    void registerCounters() {
        const gateway::Counters& c = *sources_.counters;
        registerCounter("tlsgateInConnections", mibOid({1, 3, 1}), c.inboundConnections);
        registerCounter("tlsgateInStartTlsAdvertised", mibOid({1, 3, 2}), c.startTlsAdvertised);
        registerCounter("tlsgateInStartTlsStarted", mibOid({1, 3, 3}), c.startTlsStarted);
        registerCounter("tlsgateInHandshakesFailed", mibOid({1, 3, 4}), c.inboundHandshakesFailed);
        registerCounter("tlsgateInPlaintextSessions", mibOid({1, 3, 5}), c.sessionsPlaintext);
        registerCounter("tlsgateInTlsRequiredRejections", mibOid({1, 3, 6}), c.rejectedTlsRequired);
        registerCounter("tlsgateInClientCertsPresented", mibOid({1, 3, 7}), c.clientCertsPresented);
        registerCounter("tlsgateInClientCertsVerified", mibOid({1, 3, 8}), c.clientCertsVerified);
        // "presented but failed verification, plus sessions refused because a required client
        // certificate was missing": two gateway counters.
        registerScalar(
            "tlsgateInClientCertsFailed", mibOid({1, 3, 9}), [&c](netsnmp_variable_list* vb) {
                setCounter64(vb, c.clientCertsFailed.load(std::memory_order_relaxed) +
                                     c.clientCertRejections.load(std::memory_order_relaxed));
            });
        registerCounter("tlsgateInRelayDenials", mibOid({1, 3, 10}), c.relayDenied);
        registerCounter("tlsgateInMessagesAccepted", mibOid({1, 3, 11}), c.messagesAccepted);

        registerCounter("tlsgateOutConnections", mibOid({1, 4, 1}), c.outboundConnections);
        registerCounter("tlsgateOutStartTlsUsed", mibOid({1, 4, 2}), c.outboundStartTlsUsed);
        registerCounter("tlsgateOutStartTlsNotOffered", mibOid({1, 4, 3}),
                        c.outboundStartTlsNotOffered);
        registerCounter("tlsgateOutHandshakesFailed", mibOid({1, 4, 4}),
                        c.outboundHandshakesFailed);
        registerCounter("tlsgateOutVerifyFailures", mibOid({1, 4, 5}),
                        c.outboundVerificationFailures);
        registerCounter("tlsgateOutMessagesDelivered", mibOid({1, 4, 6}), c.messagesDelivered);
        registerCounter("tlsgateOutMessagesDeferredTls", mibOid({1, 4, 7}),
                        c.messagesDeferredTlsPolicy);
        registerCounter("tlsgateOutMessagesDeferredOther", mibOid({1, 4, 8}),
                        c.messagesDeferredOther);
        registerCounter("tlsgateOutMessagesBounced", mibOid({1, 4, 9}), c.messagesBounced);
    }

    void registerStatus() {
        const gateway::Counters& c = *sources_.counters;
        registerScalar("tlsgateQueueLength", mibOid({1, 5, 1}),
                       [this](netsnmp_variable_list* vb) { setGauge(vb, queueStatus().length); });
        registerScalar(
            "tlsgateQueueOldestAge", mibOid({1, 5, 2}),
            [this](netsnmp_variable_list* vb) { setGauge(vb, queueStatus().oldestAgeSeconds); });
        registerScalar("tlsgateOpenSessions", mibOid({1, 5, 3}), [&c](netsnmp_variable_list* vb) {
            setGauge(vb, c.openSessions.load(std::memory_order_relaxed));
        });
        registerScalar("tlsgateOpenTlsSessions", mibOid({1, 5, 4}),
                       [&c](netsnmp_variable_list* vb) {
                           setGauge(vb, c.openTlsSessions.load(std::memory_order_relaxed));
                       });
    }

    /// `where` is the table's OID (tlsgateCertTable); the helper adds the entry arc (.1).
    template <class Row>
    void registerTable(const char* name, const OidVector& where, Table<Row>& table,
                       Netsnmp_Node_Handler* handler, unsigned int maxColumn) {
        table.data = netsnmp_tdata_create_table(name, 0);
        netsnmp_handler_registration* reg = netsnmp_create_handler_registration(
            name, handler, where.data(), where.size(), HANDLER_CAN_RONLY);
        auto* info = static_cast<netsnmp_table_registration_info*>(
            std::calloc(1, sizeof(netsnmp_table_registration_info)));
        if (table.data == nullptr || reg == nullptr || info == nullptr) {
            throw std::runtime_error(std::string("cannot register ") + name);
        }
        netsnmp_table_helper_add_indexes(info, ASN_UNSIGNED, 0);
        info->min_column = 2;  // column 1 is the not-accessible index
        info->max_column = maxColumn;
        if (netsnmp_tdata_register(reg, table.data, info) != MIB_REGISTERED_OK) {
            throw std::runtime_error(std::string("cannot register ") + name);
        }
    }

    void registerCertificates() {
        registerScalar("tlsgateCertCount", mibOid({1, 6, 1}), [this](netsnmp_variable_list* vb) {
            setGauge(vb, static_cast<std::int64_t>(certTable_.rows.size()));
        });
        registerTable("tlsgateCertTable", mibOid({1, 6, 2}), certTable_,
                      tableHandler<CertRow, fillCertColumn>, 13);
        refreshCertificates();
    }

    void registerSiem() {
        registerTable("tlsgateSiemDestTable", mibOid({1, 7, 1}), siemTable_,
                      tableHandler<SiemRow, fillSiemColumn>, 7);
        refreshSiem();
    }

    void registerTraps() {
        registerScalar("tlsgateTrapsSent", mibOid({1, 8, 1}),
                       [this](netsnmp_variable_list* vb) { setCounter64(vb, trapsSent_.load()); });
        registerScalar(
            "tlsgateTrapsSuppressed", mibOid({1, 8, 2}),
            [this](netsnmp_variable_list* vb) { setCounter64(vb, trapsSuppressed_.load()); });
    }

    /// applTable, mtaTable and mtaGroupTable (mta_mib.h): fixed rows whose columns are
    /// computed from the counters when asked.
    void registerMta() {
        agentStart_ = Clock::now();
        // The gateway's start on the steady clock (TimeIntervals must not jump with the wall
        // clock): the agent's start less how long after the gateway's start it came.
        gatewayStart_ =
            *agentStart_ -
            std::max(Clock::duration{}, std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::system_clock::now() - sources_.startTime));
        const gateway::Counters& c = *sources_.counters;
        seenInbound_ = c.inboundConnections.load(std::memory_order_relaxed);
        seenOutbound_ = c.outboundConnections.load(std::memory_order_relaxed);
        seenAttempts_ = outboundAttempts();
        const long appl = mta::kApplIndex;
        registerComputedTable("applTable", mta::kApplTable, applTable_, 1, mta::kApplMinColumn,
                              mta::kApplMaxColumn);
        applTable_.add(
            {appl}, [this](unsigned int column) { return mta::applColumn(mtaSnapshot(), column); });
        registerComputedTable("mtaTable", mta::kMtaTable, mtaTable_, 1, mta::kMtaMinColumn,
                              mta::kMtaMaxColumn);
        mtaTable_.add(
            {appl}, [this](unsigned int column) { return mta::mtaColumn(mtaSnapshot(), column); });
        registerComputedTable("mtaGroupTable", mta::kMtaGroupTable, mtaGroupTable_, 2,
                              mta::kGroupMinColumn, mta::kGroupMaxColumn);
        for (const std::uint32_t group : {mta::kReceivingGroup, mta::kSendingGroup}) {
            mtaGroupTable_.add({appl, static_cast<long>(group)},
                               [this, group](unsigned int column) {
                                   return mta::mtaGroupColumn(mtaSnapshot(), group, column);
                               });
        }
    }

    /// `where` is the table's OID; the helper adds the entry arc (.1). Integer32 indexes.
    void registerComputedTable(const char* name, const std::vector<std::uint32_t>& where,
                               ComputedTable& table, int indexCount, unsigned int minColumn,
                               unsigned int maxColumn) {
        const OidVector tableOid(where.begin(), where.end());
        table.data = netsnmp_tdata_create_table(name, 0);
        netsnmp_handler_registration* reg = netsnmp_create_handler_registration(
            name, computedTableHandler, tableOid.data(), tableOid.size(), HANDLER_CAN_RONLY);
        auto* info = static_cast<netsnmp_table_registration_info*>(
            std::calloc(1, sizeof(netsnmp_table_registration_info)));
        if (table.data == nullptr || reg == nullptr || info == nullptr) {
            throw std::runtime_error(std::string("cannot register ") + name);
        }
        if (indexCount == 2) {
            netsnmp_table_helper_add_indexes(info, ASN_INTEGER, ASN_INTEGER, 0);
        } else {
            netsnmp_table_helper_add_indexes(info, ASN_INTEGER, 0);
        }
        info->min_column = minColumn;
        info->max_column = maxColumn;
        if (netsnmp_tdata_register(reg, table.data, info) != MIB_REGISTERED_OK) {
            throw std::runtime_error(std::string("cannot register ") + name);
        }
    }

    std::uint64_t outboundAttempts() const {
        const gateway::Counters& c = *sources_.counters;
        return c.outboundConnections.load(std::memory_order_relaxed) +
               c.messagesDelivered.load(std::memory_order_relaxed) +
               c.messagesDeferredTlsPolicy.load(std::memory_order_relaxed) +
               c.messagesDeferredOther.load(std::memory_order_relaxed) +
               c.messagesBounced.load(std::memory_order_relaxed);
    }

    /// Notes when inbound and outbound activity last happened (the counters moved, or inbound
    /// sessions are open): every loop iteration (at most 100 ms late) and on each MTA read.
    void trackActivity() {
        if (!initialised_ || !agentStart_) {
            return;
        }
        const gateway::Counters& c = *sources_.counters;
        const auto now = Clock::now();
        const std::uint64_t inbound = c.inboundConnections.load(std::memory_order_relaxed);
        if (inbound != seenInbound_ || c.openSessions.load(std::memory_order_relaxed) > 0) {
            seenInbound_ = inbound;
            lastInbound_ = now;
            lastInboundStamp_ = netsnmp_get_agent_uptime();
        }
        const std::uint64_t outbound = c.outboundConnections.load(std::memory_order_relaxed);
        if (outbound != seenOutbound_) {
            seenOutbound_ = outbound;
            lastOutbound_ = now;
            lastOutboundStamp_ = netsnmp_get_agent_uptime();
        }
        const std::uint64_t attempts = outboundAttempts();
        if (attempts != seenAttempts_) {
            seenAttempts_ = attempts;
            lastOutboundAttempt_ = now;
        }
    }

    /// The outcome of the last delivery attempt, for mtaGroupOutboundConnectFailureReason.
    void observeDelivery(const Event& event) {
        const auto* e = std::get_if<TlsSessionEvent>(&event);
        if (e == nullptr || e->direction != Direction::Outbound) {
            return;
        }
        if (e->kind == TlsSessionEventKind::Delivered) {
            lastDeliveryFailure_ = std::string();
        } else if (e->kind == TlsSessionEventKind::Deferred ||
                   e->kind == TlsSessionEventKind::Bounced) {
            lastDeliveryFailure_ = truncateUtf8(e->reason, 255);
        }
    }

    mta::Snapshot mtaSnapshot() {
        trackActivity();
        const gateway::Counters& c = *sources_.counters;
        const auto relaxed = std::memory_order_relaxed;
        mta::Snapshot s;
        s.version = sources_.version;
        s.inboundConnections = c.inboundConnections.load(relaxed);
        s.connectionsRefusedByLimit = c.connectionsRefusedByLimit.load(relaxed);
        s.messagesAccepted = c.messagesAccepted.load(relaxed);
        s.bytesAccepted = c.bytesAccepted.load(relaxed);
        s.messagesRejected = c.messagesRejected.load(relaxed);
        s.rejectedTlsRequired = c.rejectedTlsRequired.load(relaxed);
        s.relayDenied = c.relayDenied.load(relaxed);
        s.openSessions = c.openSessions.load(relaxed);
        s.outboundConnections = c.outboundConnections.load(relaxed);
        s.messagesDelivered = c.messagesDelivered.load(relaxed);
        s.bytesDelivered = c.bytesDelivered.load(relaxed);
        s.messagesBounced = c.messagesBounced.load(relaxed);
        s.queue = queueStatus();
        s.lastInboundStamp = static_cast<std::uint32_t>(lastInboundStamp_ & 0xffffffffUL);
        s.lastOutboundStamp = static_cast<std::uint32_t>(lastOutboundStamp_ & 0xffffffffUL);
        const auto now = Clock::now();
        s.sinceStart = hundredths(now - gatewayStart_);
        const auto since = [now](const std::optional<Clock::time_point>& t) {
            return t ? std::optional<std::int64_t>(hundredths(now - *t)) : std::nullopt;
        };
        s.sinceInbound = since(lastInbound_);
        s.sinceOutbound = since(lastOutbound_);
        s.sinceOutboundAttempt = since(lastOutboundAttempt_);
        s.lastDeliveryFailure = lastDeliveryFailure_;
        return s;
    }

    // --- snapshots

    QueueStatus queueStatus() {
        const auto now = Clock::now();
        if (sources_.queueStatus && (!queueCachedAt_ || now - *queueCachedAt_ >= kQueueCache)) {
            try {
                queueCache_ = sources_.queueStatus();
            } catch (const std::exception& e) {
                log_.warning(std::string("snmp queue status unavailable: ") + e.what());
            }
            queueCachedAt_ = now;
        }
        return queueCache_;
    }

    void refreshTables(bool force) {
        const auto now = Clock::now();
        const auto since = now - tablesRefreshedAt_;
        if (force || since >= kTableRefresh ||
            (storeChanged_ && since >= kTableRefreshAfterChange)) {
            refreshCertificates();
            refreshSiem();
        }
    }

    /// The store's certificates and trust anchors, with indexes kept per store id.
    void refreshCertificates() {
        tablesRefreshedAt_ = Clock::now();
        storeChanged_ = false;
        if (sources_.store == nullptr) {
            return;
        }
        std::vector<std::unique_ptr<CertRow>> rows;
        try {
            const TimePoint now = sources_.store->clock().now();
            const int window = sources_.store->options().warningWindow();
            for (const auto& c : sources_.store->list()) {
                auto row = makeRow(c.id, c.info, now, window);
                row->role = roleOf(c.roles);
                rows.push_back(std::move(row));
            }
            for (const auto& ca : sources_.store->listCas()) {
                auto row = makeRow(ca.id, ca.info, now, window);
                row->role = 5;  // trustAnchor
                rows.push_back(std::move(row));
            }
        } catch (const std::exception& e) {
            log_.warning(std::string("snmp certificate table not refreshed: ") + e.what());
            return;
        }
        std::sort(rows.begin(), rows.end(),
                  [](const auto& a, const auto& b) { return a->index < b->index; });
        certTable_.replace(std::move(rows));
    }

    std::unique_ptr<CertRow> makeRow(const std::string& id, const certmgr::CertificateInfo& info,
                                     TimePoint now, int window) {
        auto row = std::make_unique<CertRow>();
        auto [it, inserted] = certIndexes_.emplace(id, nextCertIndex_);
        if (inserted) {
            ++nextCertIndex_;
        }
        row->index = it->second;
        row->id = truncateUtf8(id, 64);
        row->status = statusOf(certmgr::statusAt(info, now, window));
        row->subject = truncateUtf8(info.subject, 1024);
        row->issuer = truncateUtf8(info.issuer, 1024);
        row->serial = truncateUtf8(info.serial, 64);
        row->notBefore = dateAndTime(info.notBefore);
        row->notAfter = dateAndTime(info.notAfter);
        row->daysLeft = certmgr::daysLeft(info.notAfter, now);
        row->keyType =
            truncateUtf8(info.curve.empty() ? info.keyType : info.keyType + " " + info.curve, 32);
        row->keyBits = info.keyBits;
        row->sha256 = info.sha256Fingerprint.size() == 95 ? info.sha256Fingerprint : "";
        return row;
    }

    void refreshSiem() {
        if (!sources_.siemDestinations) {
            return;  // no SIEM sinks yet: the table stays empty
        }
        std::vector<std::unique_ptr<SiemRow>> rows;
        try {
            std::uint32_t index = 0;
            for (auto& destination : sources_.siemDestinations()) {
                auto row = std::make_unique<SiemRow>();
                row->index = ++index;
                row->status = std::move(destination);
                row->status.name = truncateUtf8(row->status.name, 64);
                rows.push_back(std::move(row));
            }
        } catch (const std::exception& e) {
            log_.warning(std::string("snmp SIEM destination table not refreshed: ") + e.what());
            return;
        }
        siemTable_.replace(std::move(rows));
    }

    // --- notifications

    void processEvents() {
        const TimePoint now = std::chrono::system_clock::now();
        for (const auto& summary : throttle_.closeIntervals(now)) {
            log_.warning(
                "snmp notifications suppressed type=" + std::string(mibName(summary.type)) +
                " count=" + std::to_string(summary.suppressed) +
                " interval=" + std::to_string(throttle_.interval().count()));
            send(suppressedSummary(summary.type, summary.suppressed, throttle_.interval()), now,
                 false);
        }
        std::deque<Notification> pending;
        {
            std::lock_guard lock(pendingMutex_);
            pending.swap(pending_);
        }
        for (const auto& n : pending) {
            send(n, now, true);
        }
        if (!sources_.events) {
            return;
        }
        for (std::size_t i = 0; i < kEventsPerIteration; ++i) {
            const auto event = sources_.events->pop(std::chrono::milliseconds(0));
            if (!event) {
                break;
            }
            if (std::holds_alternative<CertificateEvent>(*event)) {
                storeChanged_ = true;
            }
            observeDelivery(*event);
            if (const auto notification = notificationFor(*event)) {
                send(*notification, now, true);
            }
        }
    }

    /// Sends `n` unless notifications or its type are switched off, or (when `limited`) it is
    /// over the rate limit.
    void send(const Notification& n, TimePoint now, bool limited) {
        if (!sources_.config->snmp.traps || disabled_[static_cast<std::size_t>(n.type)]) {
            return;
        }
        if (limited && !throttle_.admit(n.type, now)) {
            ++trapsSuppressed_;
            return;
        }
        const OidVector trapOid = mibOid({0, static_cast<oid>(n.type)});
        netsnmp_variable_list* raw = nullptr;
        snmp_varlist_add_variable(&raw, kSnmpTrapOid.data(), kSnmpTrapOid.size(), ASN_OBJECT_ID,
                                  trapOid.data(), trapOid.size() * sizeof(oid));
        VarbindsPtr vars(raw);
        const OidVector host = mibOid({1, 1, 2, 0});
        const std::string& hostname = sources_.config->gateway.hostname;
        snmp_varlist_add_variable(&raw, host.data(), host.size(), ASN_OCTET_STR, hostname.data(),
                                  hostname.size());
        for (const auto& v : n.values) {
            const OidVector name = mibOid({1, 9, static_cast<oid>(v.object), 0});
            switch (v.kind) {
                case NotifyValue::Kind::Text:
                    snmp_varlist_add_variable(&raw, name.data(), name.size(), ASN_OCTET_STR,
                                              v.text.data(), v.text.size());
                    break;
                case NotifyValue::Kind::Integer: {
                    const long number =
                        static_cast<long>(std::clamp<std::int64_t>(v.number, INT32_MIN, INT32_MAX));
                    snmp_varlist_add_variable(&raw, name.data(), name.size(), ASN_INTEGER, &number,
                                              sizeof(number));
                    break;
                }
                case NotifyValue::Kind::Unsigned: {
                    const u_long number =
                        static_cast<u_long>(std::clamp<std::int64_t>(v.number, 0, 0xffffffffLL));
                    snmp_varlist_add_variable(&raw, name.data(), name.size(), ASN_UNSIGNED, &number,
                                              sizeof(number));
                    break;
                }
                case NotifyValue::Kind::Oid: {
                    const OidVector type = mibOid({0, static_cast<oid>(v.number)});
                    snmp_varlist_add_variable(&raw, name.data(), name.size(), ASN_OBJECT_ID,
                                              type.data(), type.size() * sizeof(oid));
                    break;
                }
            }
        }
        send_v2trap(vars.get());
        ++trapsSent_;
        log_.debug("snmp notification sent type=" + std::string(mibName(n.type)));
    }

    SnmpAgentSources sources_;
    Poco::Logger& log_;

    std::mutex mutex_;  // start/stop
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> running_{false};
    bool initialised_ = false;

    // "snmp" thread only
    std::vector<std::unique_ptr<Scalar>> scalars_;
    Table<CertRow> certTable_;
    Table<SiemRow> siemTable_;
    std::map<std::string, std::uint32_t> certIndexes_;
    std::uint32_t nextCertIndex_ = 1;
    Clock::time_point tablesRefreshedAt_{};
    bool storeChanged_ = false;
    std::optional<Clock::time_point> queueCachedAt_;
    QueueStatus queueCache_;
    TrapThrottle throttle_;
    std::array<bool, kNotificationTypeCount + 1> disabled_{};
    std::atomic<std::uint64_t> trapsSent_{0};
    std::atomic<std::uint64_t> trapsSuppressed_{0};
    // MTA tables (mta_mib.h)
    ComputedTable applTable_;
    ComputedTable mtaTable_;
    ComputedTable mtaGroupTable_;
    std::optional<Clock::time_point> agentStart_;
    Clock::time_point gatewayStart_{};
    std::uint64_t seenInbound_ = 0;
    std::uint64_t seenOutbound_ = 0;
    std::uint64_t seenAttempts_ = 0;
    std::optional<Clock::time_point> lastInbound_;
    std::optional<Clock::time_point> lastOutbound_;
    std::optional<Clock::time_point> lastOutboundAttempt_;
    u_long lastInboundStamp_ = 0;
    u_long lastOutboundStamp_ = 0;
    std::optional<std::string> lastDeliveryFailure_;

    std::mutex pendingMutex_;
    std::deque<Notification> pending_;
};

SnmpAgent::SnmpAgent(SnmpAgentSources sources)
    : impl_(std::make_unique<Impl>(std::move(sources))) {}

SnmpAgent::~SnmpAgent() {
    stop();
}

void SnmpAgent::start() {
    impl_->start();
}

void SnmpAgent::stop() {
    impl_->stop();
}

bool SnmpAgent::running() const {
    return impl_->running();
}

bool SnmpAgent::takes(const Event& event) {
    const auto* e = std::get_if<TlsSessionEvent>(&event);
    return e == nullptr || e->direction == Direction::Outbound ||
           e->kind == TlsSessionEventKind::HandshakeFailed ||
           e->kind == TlsSessionEventKind::PolicyDecision;
}

void SnmpAgent::notifySiemDestination(const std::string& destination, bool up,
                                      const std::string& reason) {
    impl_->notifySiemDestination(destination, up, reason);
}

}  // namespace tlsgate::snmp

// --- the standard MTA objects (mta_mib.h): pure mapping from a snapshot to column values

namespace tlsgate::snmp::mta {
namespace {

constexpr std::int64_t kMaxTimeInterval = 2147483647;

Value counter32(std::uint64_t n) {
    return {Value::Type::Counter32, static_cast<std::int64_t>(n & 0xffffffffULL), {}, {}};
}

Value gauge32(std::uint64_t n) {
    return {Value::Type::Gauge32,
            static_cast<std::int64_t>(std::min<std::uint64_t>(n, 0xffffffffULL)),
            {},
            {}};
}

Value integer32(std::int64_t n) {
    return {Value::Type::Integer32, n, {}, {}};
}

Value timeStamp(std::uint32_t ticks) {
    return {Value::Type::TimeTicks, ticks, {}, {}};
}

/// TimeInterval: hundredths of a second, 0..2147483647.
Value timeInterval(std::int64_t hundredths) {
    return integer32(std::clamp<std::int64_t>(hundredths, 0, kMaxTimeInterval));
}

Value text(std::string s) {
    return {Value::Type::Text, 0, std::move(s), {}};
}

/// A "time since the last ..." column: since the gateway started when there was none (the
/// same value as mtaGroupCreationTime, which is how a reader tells "never").
Value since(const std::optional<std::int64_t>& t, const Snapshot& s) {
    return timeInterval(t.value_or(s.sinceStart));
}

std::optional<Value> receivingColumn(const Snapshot& s, unsigned column) {
    switch (column) {
        case 2:  // mtaGroupReceivedMessages
            return counter32(s.messagesAccepted);
        case 3:  // mtaGroupRejectedMessages: 552 after DATA, 530 at MAIL, RCPTs refused
            return counter32(s.messagesRejected + s.rejectedTlsRequired + s.relayDenied);
        case 13:  // mtaGroupInboundAssociations
            return gauge32(static_cast<std::uint64_t>(std::max<std::int64_t>(s.openSessions, 0)));
        case 15:  // mtaGroupAccumulatedInboundAssociations
            return counter32(s.inboundConnections);
        case 17:  // mtaGroupLastInboundActivity
            return since(s.sinceInbound, s);
        case 18:  // mtaGroupLastOutboundActivity: the receiving group makes no associations
        case 34:  // mtaGroupLastOutboundAssociationAttempt
            return since(std::nullopt, s);
        case 19:  // mtaGroupRejectedInboundAssociations: refused by the connection limits
            return counter32(s.connectionsRefusedByLimit);
        case 21:  // mtaGroupInboundRejectionReason
            return text(s.connectionsRefusedByLimit == 0 ? "never" : "connection limit reached");
        case 22:  // mtaGroupOutboundConnectFailureReason
            return text("never");
        case 25:  // mtaGroupName
            return text("receiving");
        case 28:  // mtaGroupDescription
            return text("tlsgate receiving: inbound SMTP, messages accepted into the queue");
        default:
            return std::nullopt;
    }
}

std::optional<Value> sendingColumn(const Snapshot& s, unsigned column) {
    switch (column) {
        case 3:  // mtaGroupRejectedMessages: given up on (bounced)
            return counter32(s.messagesBounced);
        case 4:  // mtaGroupStoredMessages
            return gauge32(s.queue.length);
        case 5:  // mtaGroupTransmittedMessages
            return counter32(s.messagesDelivered);
        case 7:  // mtaGroupStoredVolume
            return gauge32(kiloOctets(s.queue.bytes));
        case 8:  // mtaGroupTransmittedVolume
            return counter32(kiloOctets(s.bytesDelivered));
        case 10:  // mtaGroupStoredRecipients
            return gauge32(s.queue.recipients);
        case 12:  // mtaGroupOldestMessageStored
            return timeInterval(static_cast<std::int64_t>(s.queue.oldestAgeSeconds) * 100);
        case 16:  // mtaGroupAccumulatedOutboundAssociations
            return counter32(s.outboundConnections);
        case 17:  // mtaGroupLastInboundActivity: the sending group accepts no associations
            return since(std::nullopt, s);
        case 18:  // mtaGroupLastOutboundActivity
            return since(s.sinceOutbound, s);
        case 34:  // mtaGroupLastOutboundAssociationAttempt
            return since(s.sinceOutboundAttempt, s);
        case 21:  // mtaGroupInboundRejectionReason
            return text("never");
        case 22:  // mtaGroupOutboundConnectFailureReason: the last delivery attempt's failure
            return text(s.lastDeliveryFailure.value_or("never"));
        case 25:  // mtaGroupName
            return text("sending");
        case 28:  // mtaGroupDescription
            return text("tlsgate sending: outbound SMTP, delivery from the queue to next hops");
        default:
            return std::nullopt;
    }
}

}  // namespace

std::uint64_t kiloOctets(std::uint64_t octets) {
    return octets / 1024 + (octets % 1024 != 0 ? 1 : 0);
}

std::optional<Value> applColumn(const Snapshot& s, unsigned column) {
    switch (column) {
        case 2:  // applName
            return text("tlsgate");
        case 3:  // applDirectoryName: no directory entry
            return text("");
        case 4:  // applVersion
            return text(s.version);
        case 5:  // applUptime: the gateway started as the agent's clock did (see mta_mib.h)
        case 7:  // applLastChange: up since then
            return timeStamp(0);
        case 6:  // applOperStatus: up(1)
            return integer32(1);
        case 8:  // applInboundAssociations
            return gauge32(static_cast<std::uint64_t>(std::max<std::int64_t>(s.openSessions, 0)));
        case 9:  // applOutboundAssociations: no gauge of open delivery connections
            return gauge32(0);
        case 10:  // applAccumulatedInboundAssociations
            return counter32(s.inboundConnections);
        case 11:  // applAccumulatedOutboundAssociations
            return counter32(s.outboundConnections);
        case 12:  // applLastInboundActivity
            return timeStamp(s.lastInboundStamp);
        case 13:  // applLastOutboundActivity
            return timeStamp(s.lastOutboundStamp);
        case 14:  // applRejectedInboundAssociations
            return counter32(s.connectionsRefusedByLimit);
        case 15:  // applFailedOutboundAssociations: no counter of failed connects
            return counter32(0);
        case 16:  // applDescription
            return text("tlsgate SMTP TLS gateway");
        case 17:  // applURL
            return text("");
        default:
            return std::nullopt;
    }
}

std::optional<Value> mtaColumn(const Snapshot& s, unsigned column) {
    switch (column) {
        case 1:  // mtaReceivedMessages
            return counter32(s.messagesAccepted);
        case 2:  // mtaStoredMessages
            return gauge32(s.queue.length);
        case 3:  // mtaTransmittedMessages
            return counter32(s.messagesDelivered);
        case 4:  // mtaReceivedVolume
            return counter32(kiloOctets(s.bytesAccepted));
        case 5:  // mtaStoredVolume
            return gauge32(kiloOctets(s.queue.bytes));
        case 6:  // mtaTransmittedVolume
            return counter32(kiloOctets(s.bytesDelivered));
        case 8:  // mtaStoredRecipients
            return gauge32(s.queue.recipients);
        case 7:   // mtaReceivedRecipients: no recipient counters (yet)
        case 9:   // mtaTransmittedRecipients
        case 10:  // mtaSuccessfulConvertedMessages: tlsgate converts nothing
        case 11:  // mtaFailedConvertedMessages
        case 12:  // mtaLoopsDetected: no loop detection
            return counter32(0);
        default:
            return std::nullopt;
    }
}

std::optional<Value> mtaGroupColumn(const Snapshot& s, std::uint32_t group, unsigned column) {
    if (group != kReceivingGroup && group != kSendingGroup) {
        return std::nullopt;
    }
    if (auto v = group == kReceivingGroup ? receivingColumn(s, column) : sendingColumn(s, column)) {
        return v;
    }
    // What both groups show the same way, and the other group's side of the traffic.
    switch (column) {
        case 2:   // mtaGroupReceivedMessages (sending: receives from no one)
        case 3:   // mtaGroupRejectedMessages
        case 5:   // mtaGroupTransmittedMessages (receiving: hands to the queue, sends nothing)
        case 8:   // mtaGroupTransmittedVolume
        case 9:   // mtaGroupReceivedRecipients: no recipient counters (yet)
        case 11:  // mtaGroupTransmittedRecipients
        case 15:  // mtaGroupAccumulatedInboundAssociations
        case 16:  // mtaGroupAccumulatedOutboundAssociations
        case 19:  // mtaGroupRejectedInboundAssociations
        case 20:  // mtaGroupFailedOutboundAssociations: no counter of failed connects
        case 26:  // mtaGroupSuccessfulConvertedMessages
        case 27:  // mtaGroupFailedConvertedMessages
        case 33:  // mtaGroupLoopsDetected
            return counter32(0);
        case 6:  // mtaGroupReceivedVolume
            return counter32(group == kReceivingGroup ? kiloOctets(s.bytesAccepted) : 0);
        case 4:   // mtaGroupStoredMessages (receiving: the queue belongs to sending)
        case 7:   // mtaGroupStoredVolume
        case 10:  // mtaGroupStoredRecipients
        case 13:  // mtaGroupInboundAssociations
        case 14:  // mtaGroupOutboundAssociations: no gauge of open delivery connections
            return gauge32(0);
        case 12:  // mtaGroupOldestMessageStored
        case 23:  // mtaGroupScheduledRetry: not known per group
            return timeInterval(0);
        case 24:  // mtaGroupMailProtocol: {applTCPProtoID 25}
            return Value{Value::Type::Oid, 0, {}, kSmtpProtocol};
        case 29:  // mtaGroupURL
        case 32:  // mtaGroupOldestMessageId: not known
            return text("");
        case 30:  // mtaGroupCreationTime: the gateway's start
            return timeInterval(s.sinceStart);
        case 31:  // mtaGroupHierarchy: both groups together are one breakdown of the MTA
            return integer32(-1);
        default:
            return std::nullopt;
    }
}

}  // namespace tlsgate::snmp::mta
