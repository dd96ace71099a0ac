// The `tlsgate` daemon: a thin main that parses the command line, loads the configuration, opens
// the certificate store and runs the certificate watcher until SIGTERM/SIGINT/SIGQUIT. Main thread
// plus the "eventlog" thread (and "snmp" with [snmp] enabled, "siem-NAME" per SIEM destination and
// "siem-watch" with [siem] destinations); errors are printed once here and returned as sysexits(3)
// codes.
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <Poco/AutoPtr.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/PatternFormatter.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionCallback.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <variant>
#include <vector>

#include "tlsgate/certmgr/certificate.h"
#include "tlsgate/certmgr/store.h"
#include "tlsgate/certmgr/watcher.h"
#include "tlsgate/common/event.h"
#include "tlsgate/common/event_bus.h"
#include "tlsgate/gateway/config.h"
#include "tlsgate/gateway/log_channel.h"
#include "tlsgate/gateway/queue_manager.h"
#include "tlsgate/gateway/smtp_client.h"
#include "tlsgate/gateway/smtp_server.h"
#include "tlsgate/gateway/spool.h"
#include "tlsgate/gateway/tls_server.h"
#include "tlsgate/siem/exporter.h"
#include "tlsgate/snmp/snmp_agent.h"
#include "tlsgate_mib.h"

#ifndef TLSGATE_VERSION
#define TLSGATE_VERSION "0.0.0"
#endif

namespace tlsgate::gateway {
namespace {

using Poco::Util::Application;

/// `"value"` with backslashes and double quotes escaped, for key=value log lines.
std::string quotedValue(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out + "\"";
}

/// One key=value line per certificate event; never carries key material (events hold none).
std::string describe(const CertificateEvent& event) {
    std::ostringstream line;
    line << "certificate event=" << toString(event.kind) << " id=" << event.certId
         << " subject=" << quotedValue(event.subject) << " sha256=" << event.sha256Fingerprint
         << " days_left=" << event.daysLeft;
    if (event.thresholdDays) {
        line << " threshold=" << *event.thresholdDays;
    }
    if (!event.role.empty()) {
        line << " role=" << event.role;
    }
    if (!event.detail.empty()) {
        line << " detail=" << quotedValue(event.detail);
    }
    return line.str();
}

Poco::Message::Priority priorityOf(CertificateEventKind kind) {
    switch (kind) {
        case CertificateEventKind::Expiring:
            return Poco::Message::PRIO_WARNING;
        case CertificateEventKind::Expired:
            return Poco::Message::PRIO_ERROR;
        default:
            return Poco::Message::PRIO_INFORMATION;
    }
}

/// The "eventlog" thread: an event bus subscriber that writes every certificate event to the log.
/// TLS sessions are logged by the sessions themselves: it takes no session event, so the mail
/// path never wakes it.
class EventLogger {
  public:
    EventLogger(EventBus& bus, Poco::Logger& log)
        : subscription_(bus.subscribe(
              "eventlog", 1024,
              [](const Event& e) { return std::holds_alternative<CertificateEvent>(e); })),
          log_(log) {}
    ~EventLogger() { stop(); }
    EventLogger(const EventLogger&) = delete;
    EventLogger& operator=(const EventLogger&) = delete;

    void start() {
        thread_ = std::thread([this] { run(); });
    }

    /// Stops and joins the thread; events still queued are written first.
    void stop() {
        if (!thread_.joinable()) {
            return;
        }
        stopping_ = true;
        thread_.join();
        subscription_->close();
        if (subscription_->dropped() > 0) {
            log_.warning("eventlog dropped=" + std::to_string(subscription_->dropped()));
        }
    }

  private:
    void run() {
        ::pthread_setname_np(::pthread_self(), "eventlog");
        for (;;) {
            const auto event = subscription_->pop(std::chrono::milliseconds(200));
            if (!event) {
                if (stopping_) {
                    return;  // the queue is drained
                }
                continue;
            }
            if (const auto* certificate = std::get_if<CertificateEvent>(&*event)) {
                log_.log(Poco::Message(log_.name(), describe(*certificate),
                                       priorityOf(certificate->kind)));
            }
        }
    }

    std::shared_ptr<Subscription> subscription_;
    Poco::Logger& log_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

/// The "siem-watch" thread: polls the SIEM exporter's stats once a second, keeps the rows of
/// tlsgateSiemDestTable for the SNMP agent, and logs and reports (tlsgateSiemDestinationDown/Up)
/// each destination going down and coming back. Down: it was connected and is not, or it never
/// was and a connect failed; up: connected again after a down.
class SiemWatch {
  public:
    SiemWatch(const siem::SiemExporter& exporter, Poco::Logger& log)
        : exporter_(exporter), log_(log) {
        poll();  // the table has rows from the start
    }
    ~SiemWatch() { stop(); }
    SiemWatch(const SiemWatch&) = delete;
    SiemWatch& operator=(const SiemWatch&) = delete;

    /// `notify` (may be empty) is called on this thread for each down/up transition.
    void start(std::function<void(const std::string&, bool, const std::string&)> notify) {
        notify_ = std::move(notify);
        thread_ = std::thread([this] { run(); });
    }

    void stop() {
        {
            const std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) {
            thread_.join();
        }
    }

    /// The latest rows, for SnmpAgentSources::siemDestinations (any thread).
    std::vector<snmp::SiemDestinationStatus> rows() const {
        const std::lock_guard lock(mutex_);
        return rows_;
    }

  private:
    struct State {
        bool connected = false;
        bool down = false;  ///< a down was reported and no up since
        std::uint64_t errors = 0;
        std::uint64_t buffered = 0;
        std::uint64_t bufferedTotal = 0;  ///< records that went to the buffer (sum of rises)
    };

    void run() {
        ::pthread_setname_np(::pthread_self(), "siem-watch");
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
            lock.unlock();
            poll();
            lock.lock();
        }
    }

    void poll() {
        std::vector<snmp::SiemDestinationStatus> rows;
        for (const auto& s : exporter_.stats()) {
            State& state = states_[s.name];
            if (s.buffered > state.buffered) {
                state.bufferedTotal += s.buffered - state.buffered;
            }
            state.buffered = s.buffered;
            if (s.connected && state.down) {
                state.down = false;
                log_.information("siem destination=" + s.name +
                                 " up sent=" + std::to_string(s.sent) +
                                 " buffered=" + std::to_string(s.buffered));
                if (notify_) {
                    notify_(s.name, true, "connected");
                }
            } else if (!s.connected && !state.down &&
                       (state.connected || s.errors > state.errors)) {
                state.down = true;
                const std::string reason = s.lastError.empty() ? "not connected" : s.lastError;
                log_.warning("siem destination=" + s.name + " down buffered=" +
                             std::to_string(s.buffered) + " error=" + quotedValue(reason));
                if (notify_) {
                    notify_(s.name, false, reason);
                }
            }
            state.connected = s.connected;
            state.errors = s.errors;

            snmp::SiemDestinationStatus row;
            row.name = s.name;
            row.connected = s.connected;
            row.recordsSent = s.sent;
            row.recordsBuffered = state.bufferedTotal;
            row.recordsDropped = s.dropped;
            row.bufferLength =
                static_cast<std::uint32_t>(std::min<std::uint64_t>(s.buffered, 0xffffffffULL));
            rows.push_back(std::move(row));
        }
        const std::lock_guard lock(mutex_);
        rows_ = std::move(rows);
    }

    const siem::SiemExporter& exporter_;
    Poco::Logger& log_;
    std::function<void(const std::string&, bool, const std::string&)> notify_;
    std::map<std::string, State> states_;  // the poll's own (constructor, then the thread)
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::vector<snmp::SiemDestinationStatus> rows_;
    std::thread thread_;
};

/// "127.0.0.1:514", "kafka1:9093,kafka2:9093 topic=t", "/var/log/x.json": where records go.
std::string targetOf(const siem::DestinationSettings& d) {
    switch (d.transport) {
        case siem::Transport::Kafka:
            return d.brokers + " topic=" + d.topic;
        case siem::Transport::File:
            return d.path;
        default:
            return d.host + ":" + std::to_string(siem::effectivePort(d));
    }
}

/// Every session holds a descriptor: the soft limit goes up to the hard one (systemd's default
/// soft limit is 1024), and a limit still below what max_connections needs is said at start.
void raiseDescriptorLimit(const GatewayConfig& config, Poco::Logger& log) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        return;
    }
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
        ::getrlimit(RLIMIT_NOFILE, &limit);
    }
    // Per session one socket (two while a message is written: the spool file), plus the
    // delivery workers' connections and files, the SIEM sinks, logs and libraries.
    const auto needed = static_cast<rlim_t>(config.receive.maxConnections) * 2 +
                        static_cast<rlim_t>(config.send.workers) * 2 + 256;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
        log.warning("open file limit " + std::to_string(limit.rlim_cur) + " is below the " +
                    std::to_string(needed) + " that receive.max_connections = " +
                    std::to_string(config.receive.maxConnections) +
                    " may need: raise it (LimitNOFILE= in the systemd unit)");
    }
}

/// Started as root with gateway.user set: hands the state to that user and becomes it (group,
/// no supplementary groups), so no session ever runs as root. Throws std::runtime_error.
void dropPrivileges(const GatewayConfig& config, Poco::Logger& log) {
    const std::string& user = config.gateway.user;
    if (user.empty()) {
        if (::geteuid() == 0) {
            log.warning(
                "running as root: set gateway.user (or use etc/tlsgate.service) so "
                "sessions do not run as root");
        }
        return;
    }
    const passwd* pw = ::getpwnam(user.c_str());
    if (pw == nullptr) {
        throw std::runtime_error("gateway.user = " + user + ": no such user");
    }
    if (::geteuid() != 0) {
        if (::geteuid() == pw->pw_uid) {
            return;  // already that user
        }
        throw std::runtime_error("gateway.user = " + user +
                                 ": switching users needs root; started as uid " +
                                 std::to_string(::geteuid()));
    }
    const uid_t uid = pw->pw_uid;
    const gid_t gid = pw->pw_gid;
    // The store, the spool and the SIEM buffers were made (or are) root's: give them away.
    for (const auto& dir : {config.gateway.stateDirectory, config.certificates.storeDirectory,
                            config.spool.directory}) {
        std::error_code error;
        if (!std::filesystem::exists(dir, error)) {
            continue;
        }
        if (::lchown(dir.c_str(), uid, gid) != 0) {
            throw std::runtime_error(dir.string() + ": cannot hand to " + user + ": " +
                                     std::strerror(errno));
        }
        for (auto it = std::filesystem::recursive_directory_iterator(dir, error);
             !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
            if (::lchown(it->path().c_str(), uid, gid) != 0) {
                throw std::runtime_error(it->path().string() + ": cannot hand to " + user + ": " +
                                         std::strerror(errno));
            }
        }
    }
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) {
        throw std::runtime_error("cannot become " + user + ": " + std::strerror(errno));
    }
    if (::setuid(0) == 0) {
        throw std::runtime_error("could regain root after becoming " + user + ": refusing to run");
    }
    log.information("running as user=" + user + " uid=" + std::to_string(uid) +
                    " gid=" + std::to_string(gid));
}

/// Every logger writes one line per message to stderr, UTC timestamps, at `level` and above.
void setUpLogging(const std::string& level) {
    Poco::AutoPtr<Poco::PatternFormatter> formatter(
        new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%iZ %p %t"));
    formatter->setProperty("times", "UTC");
    Poco::AutoPtr<LineChannel> stderrLines(new LineChannel(STDERR_FILENO));
    Poco::AutoPtr<Poco::FormattingChannel> channel(
        new Poco::FormattingChannel(formatter, stderrLines));
    Poco::Logger::setChannel("", channel);
    Poco::Logger::setLevel("", Poco::Logger::parseLevel(level));
}

/// Creates `dir` (mode 0700) and missing parents; an existing directory is left as it is.
void makePrivateDirectory(const std::filesystem::path& dir) {
    if (std::filesystem::is_directory(dir)) {
        return;
    }
    if (dir.has_parent_path()) {
        std::filesystem::create_directories(dir.parent_path());
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        throw std::filesystem::filesystem_error("cannot create directory", dir,
                                                std::error_code(errno, std::generic_category()));
    }
}

/// Blocks the termination signals on the calling thread before any other thread starts, so the
/// threads inherit the mask and only waitForTerminationRequest() ever receives them.
void blockTerminationSignals() {
    sigset_t set;
    sigemptyset(&set);
    if (std::getenv("POCO_ENABLE_DEBUGGER") == nullptr) {
        sigaddset(&set, SIGINT);  // as ServerApplication does
    }
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::string sourceName(const GatewayConfig& config) {
    return config.sourceFile.empty() ? std::string(kEmbeddedDefaultsName) : config.sourceFile;
}

std::string joinedDays(const std::vector<int>& days) {
    std::string out;
    for (const int d : days) {
        out += (out.empty() ? "" : ",") + std::to_string(d);
    }
    return out;
}

class TlsgateApplication : public Poco::Util::ServerApplication {
  public:
    /// False when Poco refused the command line before main() (an unknown option, say).
    bool mainRan() const { return mainRan_; }

  protected:
    void defineOptions(Poco::Util::OptionSet& options) override {
        ServerApplication::defineOptions(options);  // --daemon, --pidfile, --umask
        using Callback = Poco::Util::OptionCallback<TlsgateApplication>;
        options.addOption(Poco::Util::Option("help", "h", "print this help and exit")
                              .required(false)
                              .repeatable(false)
                              .callback(Callback(this, &TlsgateApplication::handleHelp)));
        options.addOption(Poco::Util::Option("version", "", "print the version and exit")
                              .required(false)
                              .repeatable(false)
                              .callback(Callback(this, &TlsgateApplication::handleVersion)));
        options.addOption(
            Poco::Util::Option("config", "c",
                               "read FILE instead of " + std::string(kDefaultConfigFile) +
                                   " (the built-in defaults apply when that does not exist)")
                .required(false)
                .repeatable(false)
                .argument("FILE")
                .callback(Callback(this, &TlsgateApplication::handleConfig)));
    }

    int main(const std::vector<std::string>& args) override {
        mainRan_ = true;
        if (helpRequested_) {
            printHelp();
            return EXIT_OK;
        }
        if (versionRequested_) {
            std::cout << "tlsgate " << TLSGATE_VERSION << '\n';
            return EXIT_OK;
        }
        const std::string command = args.empty() ? "run" : args.front();
        if (command == "run" && args.size() <= 1) {
            return runDaemon();
        }
        if (command == "check-config" && args.size() <= 2) {
            return checkConfig(args.size() == 2 ? std::optional(args[1]) : configFile_);
        }
        if (command == "queue" && args.size() == 1) {
            return listQueue();
        }
        if (command == "queue" && args.size() == 2 && args[1] == "flush") {
            return flushQueue();
        }
        if (command == "queue" && args.size() == 3 && args[1] == "delete") {
            return deleteFromQueue(args[2]);
        }
        if (command == "mib" && args.size() == 3 && args[1] == "export") {
            return exportMib(args[2]);
        }
        if (command == "version" && args.size() == 1) {
            std::cout << "tlsgate " << TLSGATE_VERSION << '\n';
            return EXIT_OK;
        }
        if (command == "run" || command == "check-config" || command == "version" ||
            command == "queue" || command == "mib") {
            std::cerr << "tlsgate: too many arguments for " << command << " (see tlsgate --help)\n";
        } else {
            std::cerr << "tlsgate: unknown command \"" << command
                      << "\" (commands: run, check-config, queue, mib export DIR, version; see "
                         "tlsgate --help)\n";
        }
        return EXIT_USAGE;
    }

  private:
    void handleHelp(const std::string&, const std::string&) {
        helpRequested_ = true;
        stopOptionsProcessing();
    }
    void handleVersion(const std::string&, const std::string&) { versionRequested_ = true; }
    void handleConfig(const std::string&, const std::string& value) { configFile_ = value; }

    void printHelp() const {
        Poco::Util::HelpFormatter help(options());
        help.setCommand(commandName());
        help.setUsage(
            "[options] [run | check-config [FILE] | queue [flush | delete ID] | mib export DIR | "
            "version]");
        help.setHeader(
            "The tlsgate SMTP TLS mail gateway.\n"
            "  run                  run the gateway (the default)\n"
            "  check-config [FILE]  check FILE (or --config's) and exit\n"
            "  version              print the version");
        help.setFooter(
            "Exit status: 0 success, 64 usage error, 70 startup failure, 73 cannot create a "
            "directory, 78 configuration error.");
        help.format(std::cout);
    }

    static int checkConfig(const std::optional<std::string>& file) {
        try {
            const GatewayConfig c = loadDefaultOrFile(file);
            makeRouter(c);  // the route targets' syntax lives with the router
            std::cout << sourceName(c) << ": configuration OK\n"
                      << "  receive: " << displayName(c.receive.tlsLevel) << ", "
                      << displayName(c.receive.clientCertificate) << ", on "
                      << c.receive.listen.toString() << '\n'
                      << "  send:    " << displayName(c.send.tlsLevel) << '\n'
                      << "  certificates: " << c.certificates.storeDirectory.string()
                      << " (hostname " << c.gateway.hostname << ", "
                      << "warnings at " << joinedDays(c.certificates.expiryWarningDays)
                      << " days)\n";
            if (c.siem.enabled()) {
                std::cout << "  siem:";
                for (const auto& d : c.siem.settings.destinations) {
                    std::cout << (&d == &c.siem.settings.destinations.front() ? " " : ", ")
                              << d.name << " (" << siem::toString(d.transport) << ", "
                              << siem::toString(d.format) << ")";
                }
                std::cout << '\n';
            }
            return EXIT_OK;
        } catch (const ConfigError& e) {
            std::cerr << e.what() << '\n';
            return EXIT_CONFIG;
        }
    }

    /// `tlsgate queue`: what the spool holds, oldest first.
    int listQueue() {
        GatewayConfig config;
        try {
            config = loadDefaultOrFile(configFile_);
        } catch (const ConfigError& e) {
            std::cerr << e.what() << '\n';
            return EXIT_CONFIG;
        }
        if (!std::filesystem::is_directory(config.spool.directory)) {
            std::cout << "queue is empty (no spool at " << config.spool.directory.string() << ")\n";
            return EXIT_OK;
        }
        try {
            Spool spool(config.spool.directory, SystemClock::instance(), Spool::Access::Inspect);
            std::vector<std::string> problems;
            const auto messages = spool.list(&problems);
            for (const auto& m : messages) {
                std::cout << m.queueId << "  " << certmgr::formatTime(m.envelope.received) << "  "
                          << m.size << " bytes  "
                          << (m.envelope.tls ? m.envelope.tlsVersion : "plain") << "  from <"
                          << m.envelope.sender << "> from " << m.envelope.clientAddress << '\n';
                const DeliveryState st = spool.state(m.queueId);
                for (const auto& r : m.envelope.recipients) {
                    const bool delivered = std::find(st.delivered.begin(), st.delivered.end(), r) !=
                                           st.delivered.end();
                    std::cout << "    to <" << r << ">" << (delivered ? " delivered" : "") << '\n';
                }
                if (st.attempts > 0) {
                    std::cout << "    attempts " << st.attempts << ", next "
                              << certmgr::formatTime(st.nextAttempt)
                              << ", last error: " << st.lastError << '\n';
                } else {
                    std::cout << "    not attempted yet\n";
                }
            }
            for (const auto& problem : problems) {
                std::cerr << "tlsgate: " << problem << '\n';
            }
            std::cout << messages.size() << (messages.size() == 1 ? " message" : " messages")
                      << " in " << config.spool.directory.string() << '\n';
            return problems.empty() ? EXIT_OK : EXIT_SOFTWARE;
        } catch (const std::exception& e) {
            std::cerr << "tlsgate: " << e.what() << '\n';
            return EXIT_SOFTWARE;
        }
    }

    /// The spool directory of the configuration, or an exit code when it cannot be read.
    std::optional<std::filesystem::path> spoolDirectory(int& rc) {
        try {
            return loadDefaultOrFile(configFile_).spool.directory;
        } catch (const ConfigError& e) {
            std::cerr << e.what() << '\n';
            rc = EXIT_CONFIG;
            return std::nullopt;
        }
    }

    /// `tlsgate mib export DIR`: writes TLSGATE-MIB.txt (built into the binary) for an operator's
    /// SNMP tools (an older copy there is replaced).
    static int exportMib(const std::string& dir) {
        const std::filesystem::path target = std::filesystem::path(dir) / "TLSGATE-MIB.txt";
        std::error_code error;
        std::filesystem::create_directories(dir, error);
        if (error) {
            std::cerr << "tlsgate: " << dir << ": cannot create: " << error.message() << '\n';
            return EXIT_CANTCREAT;
        }
        std::ofstream out(target, std::ios::binary | std::ios::trunc);
        out << kTlsgateMib;
        out.close();
        if (!out) {
            std::cerr << "tlsgate: " << target.string() << ": cannot write\n";
            return EXIT_CANTCREAT;
        }
        std::cout << "wrote " << target.string() << " (load it with: snmpwalk -M +" << dir
                  << " -m +TLSGATE-MIB ...)\n";
        return EXIT_OK;
    }

    /// `tlsgate queue flush`: asks the running daemon to retry every message now.
    int flushQueue() {
        int rc = EXIT_OK;
        const auto dir = spoolDirectory(rc);
        if (!dir) {
            return rc;
        }
        const auto request = *dir / "flush";
        std::ofstream(request) << "flush\n";
        if (!std::filesystem::exists(request)) {
            std::cerr << "tlsgate: cannot write " << request.string() << '\n';
            return EXIT_SOFTWARE;
        }
        std::cout << "flush requested: the running gateway retries every queued message within a "
                     "second\n";
        return EXIT_OK;
    }

    /// `tlsgate queue delete ID`: removes one message without delivering it.
    int deleteFromQueue(const std::string& id) {
        int rc = EXIT_OK;
        const auto dir = spoolDirectory(rc);
        if (!dir) {
            return rc;
        }
        try {
            Spool spool(*dir, SystemClock::instance(), Spool::Access::Inspect);
            if (!spool.contains(id)) {
                std::cerr << "tlsgate: no message " << id << " in " << dir->string() << '\n';
                return EXIT_SOFTWARE;
            }
            spool.remove(id);
            std::cout << "deleted " << id << '\n';
            return EXIT_OK;
        } catch (const std::exception& e) {
            std::cerr << "tlsgate: " << e.what() << '\n';
            return EXIT_SOFTWARE;
        }
    }

    int runDaemon() {
        const TimePoint startTime = std::chrono::system_clock::now();  // tlsgateStartTime
        GatewayConfig config;
        std::optional<Router> router;
        try {
            config = loadDefaultOrFile(configFile_);
            router.emplace(makeRouter(config));
        } catch (const ConfigError& e) {
            std::cerr << e.what() << '\n';
            return EXIT_CONFIG;
        }
        setUpLogging(config.gateway.logLevel);
        Poco::Logger& log = Poco::Logger::get("tlsgate");
        log.information("tlsgate " TLSGATE_VERSION " configuration=" + sourceName(config));

        try {
            makePrivateDirectory(config.gateway.stateDirectory);
            makePrivateDirectory(config.certificates.storeDirectory);
            makePrivateDirectory(config.spool.directory);
        } catch (const std::exception& e) {
            log.critical(std::string("tlsgate cannot start: ") + e.what());
            return EXIT_CANTCREAT;
        }

        blockTerminationSignals();
        try {
            certmgr::Store store(storeOptions(config));
            for (const auto& created : store.ensureDefault()) {
                log.information("certificate created id=" + created.id +
                                " key=" + quotedValue(created.info.keyDescription()) +
                                " subject=" + quotedValue(created.info.subject) +
                                " sha256=" + created.info.sha256Fingerprint +
                                " not_after=" + certmgr::formatTime(created.info.notAfter));
            }

            // Port 25 needs root (or CAP_NET_BIND_SERVICE): bind it now, then stop being root
            // before any thread starts or any file of the spool and the SIEM buffers is made.
            Poco::Net::ServerSocket listener = SmtpServer::bind(config.receive);
            raiseDescriptorLimit(config, log);
            dropPrivileges(config, log);

            EventBus bus;
            EventLogger eventLog(bus, Poco::Logger::get("tlsgate.events"));
            eventLog.start();

            // SIEM export ([siem] destinations): subscribed before anything publishes, stopped
            // after everything that publishes.
            std::optional<siem::SiemExporter> exporter;
            std::optional<SiemWatch> siemWatch;
            if (config.siem.enabled()) {
                siem::SiemSettings siemSettings = config.siem.settings;
                siemSettings.context.productVersion = TLSGATE_VERSION;
                siemSettings.context.procId = std::to_string(::getpid());
                exporter.emplace(std::move(siemSettings), bus);
                exporter->start();
                for (const auto& d : config.siem.settings.destinations) {
                    log.information("siem destination=" + d.name +
                                    " type=" + std::string(siem::toString(d.transport)) +
                                    " format=" + std::string(siem::toString(d.format)) +
                                    " target=" + quotedValue(targetOf(d)) + " buffer=" +
                                    (d.bufferDir.empty() ? std::string("memory") : d.bufferDir));
                }
                siemWatch.emplace(*exporter, Poco::Logger::get("tlsgate.siem"));
            }

            Spool spool(config.spool.directory);
            std::vector<std::string> problems;
            const auto queued = spool.list(&problems);
            for (const auto& problem : problems) {
                log.error("spool: " + problem);
            }
            log.information("spool=" + config.spool.directory.string() +
                            " queued=" + std::to_string(queued.size()));

            ServerTlsSettings tlsSettings;
            tlsSettings.clientCertificate = config.receive.clientCertificate;
            tlsSettings.minVersion = config.receive.tlsMinVersion;
            ServerTlsContextHolder tls(tlsSettings);
            const auto rebuildTls = [&] {
                const std::string error = tls.rebuild(store);
                if (error.empty()) {
                    std::string ids;
                    for (const auto& id : tls.current()->certificateIds()) {
                        ids += (ids.empty() ? "" : ",") + id;
                    }
                    log.information("tls server certificates=" + ids);
                } else {
                    log.error(
                        "tls context not rebuilt (STARTTLS keeps the previous certificates"
                        ", or answers 454 without any): " +
                        error);
                }
            };
            if (config.receive.tlsLevel != ReceiveTlsLevel::NoTls) {
                rebuildTls();
            }
            ClientTlsContextHolder clientTls;
            const auto rebuildClientTls = [&] {
                const std::string error = clientTls.rebuild(store, config.send.tlsMinVersion);
                if (!error.empty()) {
                    log.error("tls client context not rebuilt: " + error);
                }
            };
            rebuildClientTls();

            certmgr::CertificateWatcher watcher(
                store, bus, config.certificates.changePoll, config.certificates.checkInterval,
                [&] {
                    log.information("certificate store changed");
                    if (config.receive.tlsLevel != ReceiveTlsLevel::NoTls) {
                        rebuildTls();  // open sessions keep the context they started TLS with
                    }
                    rebuildClientTls();
                },
                [&log](const std::string& error) {
                    log.error("certificate watcher pass failed, retrying: " + error);
                });
            // Subscribed before the watcher's first pass publishes: the bus does not replay.
            std::shared_ptr<Subscription> snmpEvents;
            if (config.snmp.enabled) {
                snmpEvents = bus.subscribe("snmp", 1024, snmp::SnmpAgent::takes);
            }
            watcher.start();

            auto snapshot = std::make_shared<const GatewayConfig>(config);
            Counters counters;
            QueueManager queue(snapshot, spool, std::move(*router), clientTls, bus,
                               SystemClock::instance(), &counters);
            queue.start();

            // The SNMP subagent ([snmp] enabled): after the queue manager, stopped before it.
            snmp::SnmpAgentSources snmpSources;
            snmpSources.config = snapshot;
            snmpSources.counters = &counters;
            snmpSources.store = &store;
            snmpSources.events = std::move(snmpEvents);
            snmpSources.startTime = startTime;
            snmpSources.version = TLSGATE_VERSION;
            if (siemWatch) {
                snmpSources.siemDestinations = [&siemWatch] { return siemWatch->rows(); };
            }
            snmpSources.queueStatus = [&spool] {  // the agent caches it for a few seconds
                snmp::QueueStatus status;
                const auto messages = spool.list();
                status.length = static_cast<std::uint32_t>(messages.size());
                const auto now = std::chrono::system_clock::now();
                for (const auto& m : messages) {
                    status.bytes += m.size;
                    status.recipients += static_cast<std::uint32_t>(m.envelope.recipients.size());
                    const auto age =
                        std::chrono::duration_cast<std::chrono::seconds>(now - m.envelope.received)
                            .count();
                    status.oldestAgeSeconds = std::max(
                        status.oldestAgeSeconds,
                        static_cast<std::uint32_t>(std::clamp<std::int64_t>(age, 0, 0xffffffffLL)));
                }
                return status;
            };
            snmp::SnmpAgent snmpAgent(std::move(snmpSources));
            snmpAgent.start();
            if (siemWatch) {
                siemWatch->start(
                    [&snmpAgent](const std::string& name, bool up, const std::string& reason) {
                        snmpAgent.notifySiemDestination(name, up, reason);
                    });
            }
            // On an exception below, the watch must stop before snmpAgent goes away.
            struct StopWatch {
                std::optional<SiemWatch>& watch;
                ~StopWatch() {
                    if (watch) {
                        watch->stop();
                    }
                }
            } stopWatch{siemWatch};

            SessionServices services;
            services.config = snapshot;
            services.tls = &tls;
            services.spool = &spool;
            services.bus = &bus;
            services.onMessageQueued = [&queue](const std::string& id) { queue.queued(id); };
            services.counters = &counters;
            SmtpServer smtp(services);
            smtp.adopt(std::move(listener));
            smtp.start();

            log.information("tlsgate started hostname=" + config.gateway.hostname +
                            " store=" + config.certificates.storeDirectory.string() + " listen=" +
                            config.receive.listen.host + ":" + std::to_string(smtp.port()) +
                            " receive_tls=" + std::string(toString(config.receive.tlsLevel)) +
                            " send_tls=" + std::string(toString(config.send.tlsLevel)));
            waitForTerminationRequest();
            log.information("tlsgate stopping");
            smtp.stop();
            if (siemWatch) {
                siemWatch->stop();
            }
            snmpAgent.stop();
            queue.stop();
            watcher.stop();
            if (exporter) {
                exporter->stop(config.siem.stopTimeout);
                for (const auto& s : exporter->stats()) {
                    log.information("siem stopped destination=" + s.name +
                                    " sent=" + std::to_string(s.sent) +
                                    " buffered=" + std::to_string(s.buffered) +
                                    " dropped=" + std::to_string(s.dropped) +
                                    " errors=" + std::to_string(s.errors));
                }
            }
            eventLog.stop();
        } catch (const std::exception& e) {
            log.critical(std::string("tlsgate failed: ") + e.what());
            return EXIT_SOFTWARE;
        }
        log.information("tlsgate stopped");
        return EXIT_OK;
    }

    std::optional<std::string> configFile_;
    bool mainRan_ = false;
    bool helpRequested_ = false;
    bool versionRequested_ = false;
};

}  // namespace
}  // namespace tlsgate::gateway

int main(int argc, char** argv) {
    // A peer that hangs up while OpenSSL writes must cost one session, not the process.
    std::signal(SIGPIPE, SIG_IGN);
    tlsgate::gateway::TlsgateApplication app;
    const int rc = app.run(argc, argv);
    if (!app.mainRan() && rc == Poco::Util::Application::EXIT_CONFIG) {
        // ServerApplication has printed why the options were refused, and calls it EX_CONFIG;
        // it is a usage error.
        std::cerr << "tlsgate: see tlsgate --help\n";
        return Poco::Util::Application::EXIT_USAGE;
    }
    return rc;
}
