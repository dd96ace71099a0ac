// The gateway's configuration: one INI file read once into GatewayConfig and validated as a whole.
// Any thread (pure functions of the file); every refusal throws ConfigError naming file, key,
// value.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tlsgate/certmgr/store.h"
#include "tlsgate/siem/settings.h"

namespace tlsgate::gateway {

/// Where the daemon and the certmgr CLI look when no file is named.
inline constexpr std::string_view kDefaultConfigFile = "/etc/tlsgate/tlsgate.conf";
/// What error messages name as the "file" when no file was read.
inline constexpr std::string_view kEmbeddedDefaultsName = "(built-in defaults)";

/// Whether mail is accepted without TLS (receive.tls_level).
enum class ReceiveTlsLevel {
    NoTls,    ///< "none": STARTTLS is not offered
    Attempt,  ///< "attempt": STARTTLS offered, plaintext accepted
    Require,  ///< "require": mail is refused until the client has started TLS
};

/// Whether the receiving side asks the client for a certificate (receive.client_certificate).
enum class ClientCertMode {
    DoNotRequest,  ///< "do-not-request"
    Request,       ///< "request": asked for, verified when given, not required
    /// "require": no mail without a verified client certificate: MAIL/RCPT/DATA get
    /// 421 4.7.1 with the reason (the handshake itself completes, so the reason can be told)
    Require,
};

/// How the sending side treats the next hop (send.tls_level).
enum class SendTlsLevel {
    NoTls,            ///< "none": never STARTTLS
    Attempt,          ///< "attempt": STARTTLS when offered, plaintext otherwise
    RequireNoVerify,  ///< "require-no-verify": TLS or no delivery, any certificate
    RequireVerify,    ///< "require-verify": TLS with a verified certificate matching the name
};

/// The config token ("attempt"), as written in the file.
std::string_view toString(ReceiveTlsLevel level);
std::string_view toString(ClientCertMode mode);
std::string_view toString(SendTlsLevel level);
/// The product's words ("Attempt TLS Encryption"), for summaries and the admin UI.
std::string_view displayName(ReceiveTlsLevel level);
std::string_view displayName(ClientCertMode mode);
std::string_view displayName(SendTlsLevel level);

/// An address to listen on. `host` is a numeric IPv4 or IPv6 address, without brackets.
struct ListenAddress {
    std::string host = "0.0.0.0";
    std::uint16_t port = 25;
    /// "0.0.0.0:25" or "[::]:25".
    std::string toString() const;
};

/// [gateway]
struct GatewaySettings {
    std::string hostname;  ///< our DNS name: EHLO, banner, the default certificate
    std::filesystem::path stateDirectory = "/var/lib/tlsgate";
    std::string logLevel = "information";  ///< a Poco level name, lower case
    /// Started as root, the daemon binds its port and then runs as this user (its state is
    /// handed to it); empty: stay who we are.
    std::string user;
};

/// An IPv4 or IPv6 network, "192.0.2.0/24" or "2001:db8::/32".
struct Network {
    std::string text;  ///< as written (normalised)
    bool v6 = false;
    std::array<unsigned char, 16> address{};  ///< network bytes (4 used for IPv4)
    int prefix = 0;
    /// Whether `ip` (numeric text, IPv4-mapped IPv6 counted as IPv4) lies in this network.
    bool contains(const std::string& ip) const;
};

/// [receive]
struct ReceiveSettings {
    ListenAddress listen;
    ReceiveTlsLevel tlsLevel = ReceiveTlsLevel::Attempt;
    ClientCertMode clientCertificate = ClientCertMode::DoNotRequest;
    std::string tlsMinVersion = "TLSv1.2";     ///< "TLSv1.2" or "TLSv1.3"
    std::vector<std::string> relayDomains;     ///< lower case; RCPT to these is accepted
    std::vector<Network> trustedNetworks;      ///< clients here may relay anywhere
    std::uint64_t maxMessageSize = 10240000;   ///< bytes, advertised with SIZE
    int maxRecipients = 1000;                  ///< per message
    std::size_t commandLineLimit = 512;        ///< bytes with CRLF (RFC 5321: 512)
    std::size_t textLineLimit = 4096;          ///< DATA lines with CRLF (RFC 5321: 1000)
    int maxErrors = 20;                        ///< per session, then 421
    int maxCommands = 5000;                    ///< per session, then 421
    std::chrono::seconds commandTimeout{300};  ///< RFC 5321 4.5.3.2.7
    std::chrono::seconds dataTimeout{180};     ///< per DATA read, RFC 5321 4.5.3.2.5
    int maxConnections = 500;                  ///< in total, then 421 4.7.0
    int maxConnectionsPerClient = 20;          ///< per client address, then 421 4.7.0
    bool isTrusted(const std::string& ip) const;
    bool isRelayDomain(const std::string& domain) const;
};

/// [spool]
struct SpoolSettings {
    std::filesystem::path directory;  ///< defaults to <state_directory>/spool
};

/// [send]
struct SendSettings {
    SendTlsLevel tlsLevel = SendTlsLevel::Attempt;
    std::string tlsMinVersion = "TLSv1.2";
    /// Per-destination levels (domain or route target, lower case) overriding tls_level, in the
    /// order written: "example.com=require-verify, [192.0.2.1]:2525=none".
    std::vector<std::pair<std::string, SendTlsLevel>> tlsPolicy;
    /// domain -> target ("[192.0.2.1]:2525", "relay.example.com"); checked by the daemon's
    /// check-config (the route syntax lives with the router).
    std::vector<std::pair<std::string, std::string>> routes;
    std::string defaultRoute;  ///< smarthost; empty: MX lookup
    std::chrono::seconds retryMin{300};
    std::chrono::seconds retryMax{3600};
    std::chrono::seconds maxQueueLifetime{432000};  ///< 5 days, then bounce
    int workers = 8;
    int maxPerDestination = 4;
    std::chrono::seconds connectTimeout{30};
    std::chrono::seconds commandTimeout{300};
    /// How long a connection to a next hop stays open after a delivery, for the next message to
    /// the same host; 0: a new connection for every delivery.
    std::chrono::seconds connectionCacheTime{2};
    /// Messages sent over one connection before it is closed.
    int connectionReuseLimit = 100;
    /// The level for mail to `domain` routed to `destination`: the first policy entry naming
    /// either, else tls_level.
    SendTlsLevel levelFor(const std::string& domain, const std::string& destination) const;
};

/// [certificates]
struct CertificateSettings {
    std::filesystem::path storeDirectory;  ///< defaults to <state_directory>/certs
    int validityDays = 825;
    bool autoRenew = true;
    double renewAt = 0.6667;                           ///< fraction of the lifetime
    std::vector<int> expiryWarningDays{30, 14, 7, 1};  ///< distinct, sorted descending
    bool useSystemCa = true;
    std::chrono::seconds checkInterval{3600};
    std::chrono::milliseconds changePoll{1000};
};

/// [snmp]
struct SnmpSettings {
    bool enabled = false;  ///< false: no agent thread, no AgentX connection, no traps
    /// The AgentX master's socket: "unix:/path", "/path" or "tcp:127.0.0.1:705".
    std::string agentxSocket = "/var/agentx/master";
    std::chrono::seconds pingInterval{15};  ///< AgentX ping; a restarted master is found again
    bool traps = true;                      ///< notifications as a whole
    /// Notification names switched off (MIB names, e.g. "tlsgateCertChanged"), in file order.
    std::vector<std::string> disabledTraps;
    int trapLimit = 10;  ///< notifications per type per trap_interval
    std::chrono::seconds trapInterval{60};
};

/// The notification names that [snmp] disabled_traps accepts (the MIB's NOTIFICATION-TYPEs).
const std::vector<std::string_view>& snmpNotificationNames();

/// [siem] and one [siem.NAME] section per destination. The [siem.NAME] keys are parsed by the
/// siem library (applyDestinationKey) and the whole checked by its validateSettings.
struct SiemConfig {
    /// The destinations in the order siem.destinations names them (empty: no SIEM export), and
    /// the FormatContext from host_name, app_name, facility, enterprise_number and
    /// leef_delimiter (productVersion and procId are the daemon's to fill in).
    tlsgate::siem::SiemSettings settings;
    std::chrono::milliseconds stopTimeout{5000};  ///< the shutdown flush bound
    bool enabled() const { return !settings.destinations.empty(); }
};

/// The [siem.NAME] keys the structure check accepts, in documentation order; "kafka.*" stands
/// for any key starting with "kafka." (a librdkafka property).
const std::vector<std::string_view>& siemDestinationKeyNames();

/// The whole configuration, validated. Build it only through loadConfig() / defaultConfig().
struct GatewayConfig {
    std::string sourceFile;  ///< the file read; empty for the embedded defaults
    GatewaySettings gateway;
    ReceiveSettings receive;
    SendSettings send;
    SpoolSettings spool;
    CertificateSettings certificates;
    SnmpSettings snmp;
    SiemConfig siem;
};

/// A refused configuration. what() is one line an operator can act on:
/// "FILE: section.key = VALUE: what was expected", "FILE: cannot read: reason",
/// "FILE: section.key: unknown key (known keys in [section]: ...)".
class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// Reads and validates `file`; throws ConfigError.
GatewayConfig loadConfig(const std::string& file);
/// The embedded defaults (hostname from the system), validated the same way; throws ConfigError
/// when the system host name is not a usable DNS name.
GatewayConfig defaultConfig();
/// `file` when given; otherwise `defaultFile` when it exists; otherwise the embedded defaults.
GatewayConfig loadDefaultOrFile(const std::optional<std::string>& file,
                                const std::string& defaultFile = std::string(kDefaultConfigFile));

/// The certificate store's options from [gateway] and [certificates].
tlsgate::certmgr::StoreOptions storeOptions(const GatewayConfig& config);

}  // namespace tlsgate::gateway
