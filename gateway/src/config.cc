// Reading, checking and defaulting the gateway's INI file (see docs/configuration.md).
// Pure functions, any thread; every refusal is a ConfigError naming file, key and value.
#include "tlsgate/gateway/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/IniFileConfiguration.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "tlsgate/siem/context.h"
#include "tlsgate/siem/formatters.h"
#include "tlsgate/siem/settings.h"

namespace tlsgate::gateway {
namespace {

/// Every section and key the file may hold, in the order the documentation lists them.
struct KnownSection {
    std::string_view name;
    std::vector<std::string_view> keys;
};

const std::vector<KnownSection>& knownSections() {
    static const std::vector<KnownSection> sections{
        {"gateway", {"hostname", "state_directory", "log_level", "user"}},
        {"receive",
         {"listen", "tls_level", "client_certificate", "tls_min_version", "relay_domains",
          "trusted_networks", "max_message_size", "max_recipients", "command_line_limit",
          "text_line_limit", "max_errors", "max_commands", "command_timeout", "data_timeout",
          "max_connections", "max_connections_per_client"}},
        {"send",
         {"tls_level", "tls_min_version", "tls_policy", "routes", "default_route", "retry_min",
          "retry_max", "max_queue_lifetime", "workers", "max_per_destination", "connect_timeout",
          "command_timeout", "connection_cache_time", "connection_reuse_limit"}},
        {"spool", {"directory"}},
        {"certificates",
         {"store_directory", "validity_days", "auto_renew", "renew_at", "expiry_warning_days",
          "use_system_ca", "check_interval", "change_poll_ms"}},
        {"snmp",
         {"enabled", "agentx_socket", "ping_interval", "traps", "disabled_traps", "trap_limit",
          "trap_interval"}},
        {"siem",
         {"destinations", "host_name", "app_name", "facility", "enterprise_number",
          "leef_delimiter", "stop_timeout"}},
    };
    return sections;
}

/// "siem." + NAME: one section per SIEM destination, its keys those of siemDestinationKeyNames().
constexpr std::string_view kSiemDestinationPrefix = "siem.";

bool isSiemDestinationSection(std::string_view name) {
    return name.starts_with(kSiemDestinationPrefix);
}

bool isSiemDestinationKey(std::string_view key) {
    if (key.starts_with("kafka.")) {
        return key.size() > 6;  // a librdkafka property, passed through
    }
    const auto& names = siemDestinationKeyNames();
    return key != "kafka.*" && std::find(names.begin(), names.end(), key) != names.end();
}

const KnownSection* findSection(std::string_view name) {
    for (const auto& section : knownSections()) {
        if (section.name == name) {
            return &section;
        }
    }
    return nullptr;
}

template <class Range>
std::string joined(const Range& items) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) {
            out += ", ";
        }
        out += item;
    }
    return out;
}

std::string knownSectionNames() {
    std::vector<std::string_view> names;
    for (const auto& section : knownSections()) {
        names.push_back(section.name);
    }
    names.push_back("siem.NAME");
    return joined(names);
}

std::string trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n\f\v");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(" \t\r\n\f\v");
    return std::string(text.substr(first, last - first + 1));
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

/// The names of siem.destinations as the structure check sees them: split at commas, trimmed,
/// lower case (section names are case-insensitive). The loader checks them properly.
std::vector<std::string> looseNames(std::string_view text) {
    std::vector<std::string> names;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto comma = text.find(',', start);
        if (comma == std::string_view::npos) {
            comma = text.size();
        }
        std::string name = lower(trim(text.substr(start, comma - start)));
        if (!name.empty()) {
            names.push_back(std::move(name));
        }
        start = comma + 1;
    }
    return names;
}

/// The whole file, or ConfigError "FILE: cannot read: reason". Read here rather than by Poco
/// because Poco's reader loops forever on a directory and reports errors without errno's reason.
/// Anything else that reads (a FIFO, /dev/null) is allowed.
std::string readFile(const std::string& file) {
    const auto cannotRead = [&file](int error) {
        return ConfigError(file + ": cannot read: " + std::generic_category().message(error));
    };
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw cannotRead(errno);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int error = errno;
        ::close(fd);
        throw cannotRead(error);
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        throw ConfigError(file + ": cannot read: it is a directory");
    }
    std::string text;
    std::array<char, 8192> buffer{};
    for (;;) {
        const ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            const int error = errno;
            ::close(fd);
            throw cannotRead(error);
        }
        if (n == 0) {
            break;
        }
        text.append(buffer.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    return text;
}

/// What the structure check hands on: the text for Poco and the "section.key" names it sets.
struct CheckedText {
    std::string text;
    std::vector<std::string> keys;
};

/// Checks the file's structure line by line (sections and keys known, each key once, every
/// line a comment, a [section] or key = value; [siem.NAME] only for names in siem.destinations)
/// and returns the text Poco is given: '#' comments blanked, section names lower-cased. Poco
/// alone would read a '#' line as a key and accept typos, lines without '=' and repeated keys
/// silently.
CheckedText checkStructure(const std::string& text, const std::string& label) {
    std::istringstream in(text);
    std::ostringstream out;
    std::string line;
    std::string section;
    std::map<std::string, int> seenAt;  // "section.key" -> line number
    std::vector<std::string> keys;
    std::vector<std::string> siemSections;  // [siem.NAME] as written, checked at the end
    std::string siemDestinations;           // siem.destinations as written
    int number = 0;
    const auto syntax = [&](const std::string& what) {
        return ConfigError(label + ": cannot read: line " + std::to_string(number) + ": " + what);
    };
    while (std::getline(in, line)) {
        ++number;
        const std::string t = trim(line);
        if (t.empty() || t.front() == ';' || t.front() == '#') {
            out << '\n';
            continue;
        }
        if (t.front() == '[') {
            const auto close = t.find(']');
            if (close == std::string::npos) {
                throw syntax("\"" + t + "\": expected [section]");
            }
            const std::string rest = trim(std::string_view(t).substr(close + 1));
            if (!rest.empty() && rest.front() != ';' && rest.front() != '#') {
                throw syntax("\"" + t + "\": unexpected text after the section name");
            }
            const std::string name = trim(std::string_view(t).substr(1, close - 1));
            if (isSiemDestinationSection(lower(name))) {
                section = lower(name);
                siemSections.push_back(name);
                out << '[' << section << "]\n";
                continue;
            }
            if (findSection(lower(name)) == nullptr) {
                throw ConfigError(label + ": [" + name + "]: unknown section (known sections: " +
                                  knownSectionNames() + ")");
            }
            section = lower(name);
            out << '[' << section << "]\n";
            continue;
        }
        const auto equals = t.find('=');
        if (equals == std::string::npos) {
            throw syntax("\"" + t + "\": expected key = value");
        }
        const std::string key = trim(std::string_view(t).substr(0, equals));
        if (key.empty()) {
            throw syntax("\"" + t + "\": expected key = value");
        }
        if (section.empty()) {
            throw ConfigError(label + ": " + key + ": key outside any section (known sections: " +
                              knownSectionNames() + ")");
        }
        const std::string lowerKey = lower(key);
        if (isSiemDestinationSection(section)) {
            if (!isSiemDestinationKey(lowerKey)) {
                throw ConfigError(label + ": " + section + "." + key +
                                  ": unknown key (known keys in [" + section +
                                  "]: " + joined(siemDestinationKeyNames()) + ")");
            }
        } else if (const KnownSection* known = findSection(section);
                   std::find(known->keys.begin(), known->keys.end(), lowerKey) ==
                   known->keys.end()) {
            throw ConfigError(label + ": " + section + "." + key +
                              ": unknown key (known keys in [" + section +
                              "]: " + joined(known->keys) + ")");
        }
        const std::string fullKey = section + "." + lowerKey;
        if (const auto [it, inserted] = seenAt.emplace(fullKey, number); !inserted) {
            throw ConfigError(label + ": " + fullKey + ": set twice (lines " +
                              std::to_string(it->second) + " and " + std::to_string(number) + ")");
        }
        if (fullKey == "siem.destinations") {
            siemDestinations = t.substr(equals + 1);
        }
        keys.push_back(fullKey);
        out << t << '\n';
    }
    // Only now: [siem] may follow the [siem.NAME] sections it names.
    const auto names = looseNames(siemDestinations);
    for (const auto& written : siemSections) {
        const std::string name = lower(written).substr(kSiemDestinationPrefix.size());
        if (std::find(names.begin(), names.end(), name) == names.end()) {
            throw ConfigError(
                label + ": [" + written + "]: unknown section (siem.destinations does not name \"" +
                name + "\"; " +
                (names.empty() ? std::string("it is empty") : "it names: " + joined(names)) + ")");
        }
    }
    return {out.str(), std::move(keys)};
}

/// "section.key" -> trimmed value, for the keys the file sets.
using Values = std::map<std::string, std::string>;

Values readValues(const std::string& text, const std::string& label) {
    const CheckedText checked = checkStructure(text, label);
    Values values;
    try {
        std::istringstream in(checked.text);
        Poco::AutoPtr<Poco::Util::IniFileConfiguration> ini(
            new Poco::Util::IniFileConfiguration(in));
        for (const auto& fullKey : checked.keys) {  // each a known key, each once
            if (ini->hasProperty(fullKey)) {
                // Raw: no ${...} expansion, a value means what it says.
                values[fullKey] = trim(ini->getRawString(fullKey));
            }
        }
    } catch (const Poco::Exception& e) {
        throw ConfigError(label + ": cannot read: " + e.displayText());
    }
    return values;
}

std::string systemHostName() {
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) != 0) {
        return {};
    }
    return std::string(name.data());
}

bool isDnsName(std::string_view name) {
    if (name.empty() || name.size() > 253) {
        return false;
    }
    std::size_t start = 0;
    while (start <= name.size()) {
        auto end = name.find('.', start);
        if (end == std::string_view::npos) {
            end = name.size();
        }
        const auto label = name.substr(start, end - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
            return false;
        }
        for (const char c : label) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-';
            if (!ok) {
                return false;
            }
        }
        start = end + 1;
    }
    return true;
}

/// A whole number in [min, max] with nothing around it, or nothing.
std::optional<int> parseInt(std::string_view text, int min, int max) {
    int value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end || value < min || value > max) {
        return std::nullopt;
    }
    return value;
}

template <class Enum>
struct Choice {
    std::string_view token;
    Enum value;
};

constexpr std::array kReceiveTlsLevels{
    Choice<ReceiveTlsLevel>{"none", ReceiveTlsLevel::NoTls},
    Choice<ReceiveTlsLevel>{"attempt", ReceiveTlsLevel::Attempt},
    Choice<ReceiveTlsLevel>{"require", ReceiveTlsLevel::Require},
};
constexpr std::array kClientCertModes{
    Choice<ClientCertMode>{"do-not-request", ClientCertMode::DoNotRequest},
    Choice<ClientCertMode>{"request", ClientCertMode::Request},
    Choice<ClientCertMode>{"require", ClientCertMode::Require},
};
constexpr std::array kSendTlsLevels{
    Choice<SendTlsLevel>{"none", SendTlsLevel::NoTls},
    Choice<SendTlsLevel>{"attempt", SendTlsLevel::Attempt},
    Choice<SendTlsLevel>{"require-no-verify", SendTlsLevel::RequireNoVerify},
    Choice<SendTlsLevel>{"require-verify", SendTlsLevel::RequireVerify},
};
constexpr std::array<std::string_view, 8> kLogLevels{"fatal",  "critical",    "error", "warning",
                                                     "notice", "information", "debug", "trace"};

template <class Enum, std::size_t N>
std::string_view tokenOf(const std::array<Choice<Enum>, N>& choices, Enum value) {
    for (const auto& choice : choices) {
        if (choice.value == value) {
            return choice.token;
        }
    }
    return "unknown";
}

/// Turns the values the file sets (or the defaults) into a GatewayConfig, one key at a time in
/// documentation order, then checks the rules that span keys.
class Loader {
  public:
    Loader(std::string label, Values values)
        : label_(std::move(label)), values_(std::move(values)) {}

    GatewayConfig load() {
        GatewayConfig c;
        loadGateway(c.gateway);
        loadReceive(c.receive);
        loadSend(c.send);
        c.spool.directory =
            absolutePath("spool.directory", (c.gateway.stateDirectory / "spool").string());
        loadCertificates(c.certificates, c.gateway.stateDirectory);
        loadSnmp(c.snmp);
        loadSiem(c.siem, c.gateway);
        checkCrossFieldRules(c);
        return c;
    }

  private:
    /// The value as written, or `fallback` when the file does not set the key.
    std::string value(const std::string& key, std::string fallback) const {
        const auto it = values_.find(key);
        return it != values_.end() ? it->second : std::move(fallback);
    }

    [[noreturn]] void fail(const std::string& key, const std::string& text,
                           const std::string& expected) const {
        throw ConfigError(label_ + ": " + key + " = " + text + ": " + expected);
    }

    template <class Enum, std::size_t N>
    Enum choice(const std::string& key, std::string_view fallback,
                const std::array<Choice<Enum>, N>& choices) const {
        const std::string text = value(key, std::string(fallback));
        const std::string token = lower(text);
        std::vector<std::string_view> tokens;
        for (const auto& c : choices) {
            if (c.token == token) {
                return c.value;
            }
            tokens.push_back(c.token);
        }
        fail(key, text, "expected one of: " + joined(tokens));
    }

    int integer(const std::string& key, int fallback, int min, int max,
                const std::string& unit) const {
        const std::string text = value(key, std::to_string(fallback));
        if (const auto n = parseInt(text, min, max)) {
            return *n;
        }
        fail(key, text,
             "expected a whole number of " + unit + " between " + std::to_string(min) + " and " +
                 std::to_string(max));
    }

    bool boolean(const std::string& key, bool fallback) const {
        const std::string text = value(key, fallback ? "true" : "false");
        const std::string token = lower(text);
        if (token == "true" || token == "yes" || token == "on" || token == "1") {
            return true;
        }
        if (token == "false" || token == "no" || token == "off" || token == "0") {
            return false;
        }
        fail(key, text, "expected true or false (or yes/no, on/off, 1/0)");
    }

    std::filesystem::path absolutePath(const std::string& key, const std::string& fallback) const {
        const std::string text = value(key, fallback);
        if (text.empty() || text.front() != '/') {
            fail(key, text, "expected an absolute directory path (starting with /)");
        }
        return std::filesystem::path(text).lexically_normal();
    }

    void loadGateway(GatewaySettings& g) const {
        const bool fromSystem = values_.find("gateway.hostname") == values_.end();
        const std::string host = value("gateway.hostname", systemHostName());
        if (!isDnsName(host)) {
            fail("gateway.hostname", host,
                 std::string("expected a DNS name: labels of letters, digits and '-' (1 to 63 "
                             "characters, not starting or ending with '-') separated by '.', at "
                             "most 253 characters") +
                     (fromSystem ? " (this is the system host name; set gateway.hostname)" : ""));
        }
        g.hostname = host;
        g.stateDirectory = absolutePath("gateway.state_directory", "/var/lib/tlsgate");
        const std::string level = value("gateway.log_level", "information");
        const auto it = std::find(kLogLevels.begin(), kLogLevels.end(), lower(level));
        if (it == kLogLevels.end()) {
            fail("gateway.log_level", level, "expected one of: " + joined(kLogLevels));
        }
        g.logLevel = std::string(*it);
        g.user = trim(value("gateway.user", ""));
        if (!g.user.empty() && !std::all_of(g.user.begin(), g.user.end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' ||
                       c == '.';
            })) {
            fail("gateway.user", g.user, "expected a user name (letters, digits, _ - .)");
        }
    }

    void loadReceive(ReceiveSettings& r) const {
        const std::string text = value("receive.listen", "0.0.0.0:25");
        const auto address = parseListen(text);
        if (!address) {
            fail("receive.listen", text,
                 "expected address:port with an IPv4 address or an IPv6 address in brackets and a "
                 "port between 1 and 65535 (e.g. 0.0.0.0:25, [::]:25)");
        }
        r.listen = *address;
        r.tlsLevel = choice("receive.tls_level", "attempt", kReceiveTlsLevels);
        r.clientCertificate =
            choice("receive.client_certificate", "do-not-request", kClientCertModes);
        const std::string version = value("receive.tls_min_version", "TLSv1.2");
        if (lower(version) == "tlsv1.2") {
            r.tlsMinVersion = "TLSv1.2";
        } else if (lower(version) == "tlsv1.3") {
            r.tlsMinVersion = "TLSv1.3";
        } else {
            fail("receive.tls_min_version", version, "expected TLSv1.2 or TLSv1.3");
        }
        const std::string domains = value("receive.relay_domains", "");
        for (const auto& item : splitList(domains)) {
            if (!isDnsName(item)) {
                fail("receive.relay_domains", domains,
                     "expected a comma-separated list of domain names (\"" + item +
                         "\" is not one)");
            }
            r.relayDomains.push_back(lower(item));
        }
        const std::string networks = value("receive.trusted_networks", "127.0.0.0/8, ::1/128");
        for (const auto& item : splitList(networks)) {
            const auto network = parseNetwork(item);
            if (!network) {
                fail("receive.trusted_networks", networks,
                     "expected a comma-separated list of networks like 192.0.2.0/24 or "
                     "2001:db8::/32 (\"" +
                         item + "\" is not one)");
            }
            r.trustedNetworks.push_back(*network);
        }
        r.maxMessageSize = static_cast<std::uint64_t>(
            integer("receive.max_message_size", 10240000, 1024, 1000000000, "bytes"));
        r.maxRecipients = integer("receive.max_recipients", 1000, 1, 100000, "recipients");
        r.commandLineLimit = static_cast<std::size_t>(
            integer("receive.command_line_limit", 512, 512, 65536, "bytes"));
        r.textLineLimit = static_cast<std::size_t>(
            integer("receive.text_line_limit", 4096, 1000, 1048576, "bytes"));
        r.maxErrors = integer("receive.max_errors", 20, 1, 10000, "errors");
        r.maxCommands = integer("receive.max_commands", 5000, 10, 1000000, "commands");
        r.commandTimeout =
            std::chrono::seconds(integer("receive.command_timeout", 300, 1, 3600, "seconds"));
        r.dataTimeout =
            std::chrono::seconds(integer("receive.data_timeout", 180, 1, 3600, "seconds"));
        r.maxConnections = integer("receive.max_connections", 500, 1, 100000, "connections");
        r.maxConnectionsPerClient =
            integer("receive.max_connections_per_client", 20, 1, 100000, "connections");
    }

    void loadSend(SendSettings& s) const {
        s.tlsLevel = choice("send.tls_level", "attempt", kSendTlsLevels);
        const std::string version = value("send.tls_min_version", "TLSv1.2");
        if (lower(version) == "tlsv1.2") {
            s.tlsMinVersion = "TLSv1.2";
        } else if (lower(version) == "tlsv1.3") {
            s.tlsMinVersion = "TLSv1.3";
        } else {
            fail("send.tls_min_version", version, "expected TLSv1.2 or TLSv1.3");
        }
        const std::string policy = value("send.tls_policy", "");
        for (const auto& [destination, level] : pairs("send.tls_policy", policy)) {
            const auto it =
                std::find_if(kSendTlsLevels.begin(), kSendTlsLevels.end(),
                             // clang < 16 cannot capture a structured binding
                             [&, &name = level](const auto& c) { return c.token == lower(name); });
            if (it == kSendTlsLevels.end()) {
                fail("send.tls_policy", policy,
                     "expected destination=level pairs with a level of none, attempt, "
                     "require-no-verify or require-verify (\"" +
                         level + "\" is not one)");
            }
            s.tlsPolicy.emplace_back(lower(destination), it->value);
        }
        for (auto& [domain, target] : pairs("send.routes", value("send.routes", ""))) {
            s.routes.emplace_back(lower(domain), target);
        }
        s.defaultRoute = trim(value("send.default_route", ""));
        s.retryMin = std::chrono::seconds(integer("send.retry_min", 300, 1, 86400, "seconds"));
        s.retryMax = std::chrono::seconds(integer("send.retry_max", 3600, 1, 604800, "seconds"));
        s.maxQueueLifetime = std::chrono::seconds(
            integer("send.max_queue_lifetime", 432000, 10, 3024000, "seconds"));
        s.workers = integer("send.workers", 8, 1, 256, "workers");
        s.maxPerDestination = integer("send.max_per_destination", 4, 1, 256, "connections");
        s.connectTimeout =
            std::chrono::seconds(integer("send.connect_timeout", 30, 1, 600, "seconds"));
        s.commandTimeout =
            std::chrono::seconds(integer("send.command_timeout", 300, 1, 3600, "seconds"));
        s.connectionCacheTime =
            std::chrono::seconds(integer("send.connection_cache_time", 2, 0, 300, "seconds"));
        s.connectionReuseLimit = integer("send.connection_reuse_limit", 100, 1, 100000, "messages");
        if (s.retryMax < s.retryMin) {
            throw ConfigError(label_ + ": send.retry_max = " + std::to_string(s.retryMax.count()) +
                              ": requires at least send.retry_min (it is " +
                              std::to_string(s.retryMin.count()) + ")");
        }
    }

    /// "key=value, key=value" with non-empty keys and values.
    std::vector<std::pair<std::string, std::string>> pairs(const std::string& key,
                                                           const std::string& text) const {
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& item : splitList(text)) {
            const auto eq = item.find('=');
            if (eq == std::string::npos || trim(item.substr(0, eq)).empty() ||
                trim(item.substr(eq + 1)).empty()) {
                fail(key, text,
                     "expected a comma-separated list of name=value pairs (\"" + item +
                         "\" is not one)");
            }
            out.emplace_back(trim(item.substr(0, eq)), trim(item.substr(eq + 1)));
        }
        return out;
    }

    /// Items of a comma-separated list, trimmed; empty items are not allowed except an empty list.
    static std::vector<std::string> splitList(const std::string& text) {
        std::vector<std::string> items;
        if (trim(text).empty()) {
            return items;
        }
        std::size_t start = 0;
        while (start <= text.size()) {
            auto comma = text.find(',', start);
            if (comma == std::string::npos) {
                comma = text.size();
            }
            items.push_back(trim(std::string_view(text).substr(start, comma - start)));
            start = comma + 1;
        }
        return items;
    }

    static std::optional<Network> parseNetwork(const std::string& text) {
        Network n;
        const auto slash = text.find('/');
        const std::string host = text.substr(0, slash);
        n.v6 = host.find(':') != std::string::npos;
        if (::inet_pton(n.v6 ? AF_INET6 : AF_INET, host.c_str(), n.address.data()) != 1) {
            return std::nullopt;
        }
        const int maxPrefix = n.v6 ? 128 : 32;
        if (slash == std::string::npos) {
            n.prefix = maxPrefix;
        } else {
            const auto prefix = parseInt(std::string_view(text).substr(slash + 1), 0, maxPrefix);
            if (!prefix) {
                return std::nullopt;
            }
            n.prefix = *prefix;
        }
        n.text = host + "/" + std::to_string(n.prefix);
        return n;
    }

    static std::optional<ListenAddress> parseListen(const std::string& text) {
        std::string host;
        std::string_view port;
        bool v6 = false;
        if (!text.empty() && text.front() == '[') {
            const auto close = text.find(']');
            if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
                return std::nullopt;
            }
            host = text.substr(1, close - 1);
            port = std::string_view(text).substr(close + 2);
            v6 = true;
        } else {
            const auto colon = text.find(':');
            if (colon == std::string::npos || text.find(':', colon + 1) != std::string::npos) {
                return std::nullopt;  // no port, or an IPv6 address without brackets
            }
            host = text.substr(0, colon);
            port = std::string_view(text).substr(colon + 1);
        }
        // inet_pton, not Poco: it refuses the shorthand forms ("127.1") inet_aton accepts.
        std::array<unsigned char, sizeof(in6_addr)> buffer{};
        if (::inet_pton(v6 ? AF_INET6 : AF_INET, host.c_str(), buffer.data()) != 1) {
            return std::nullopt;
        }
        const auto number = parseInt(port, 1, 65535);
        if (!number) {
            return std::nullopt;
        }
        return ListenAddress{host, static_cast<std::uint16_t>(*number)};
    }

    void loadCertificates(CertificateSettings& s, const std::filesystem::path& stateDir) {
        s.storeDirectory =
            absolutePath("certificates.store_directory", (stateDir / "certs").string());
        s.validityDays = integer("certificates.validity_days", 825, 1, 3650, "days");
        s.autoRenew = boolean("certificates.auto_renew", true);
        const std::string renewAt = value("certificates.renew_at", "0.6667");
        double fraction = 0;
        const auto* end = renewAt.data() + renewAt.size();
        const auto [ptr, ec] =
            std::from_chars(renewAt.data(), end, fraction, std::chars_format::fixed);
        if (renewAt.empty() || ec != std::errc() || ptr != end ||
            !(fraction >= 0.1 && fraction <= 0.95)) {
            fail("certificates.renew_at", renewAt,
                 "expected the fraction of a certificate's lifetime after which it is renewed, "
                 "between 0.1 and 0.95 (e.g. 0.6667)");
        }
        s.renewAt = fraction;
        warningDaysText_ = value("certificates.expiry_warning_days", "30,14,7,1");
        s.expiryWarningDays = warningDays(warningDaysText_);
        s.useSystemCa = boolean("certificates.use_system_ca", true);
        s.checkInterval = std::chrono::seconds(
            integer("certificates.check_interval", 3600, 60, 86400, "seconds"));
        s.changePoll = std::chrono::milliseconds(
            integer("certificates.change_poll_ms", 1000, 100, 60000, "milliseconds"));
    }

    void loadSnmp(SnmpSettings& s) const {
        s.enabled = boolean("snmp.enabled", false);
        const std::string socket = value("snmp.agentx_socket", "/var/agentx/master");
        if (!isAgentxSocket(socket)) {
            fail("snmp.agentx_socket", socket,
                 "expected unix:/absolute/path, /absolute/path or tcp:HOST:PORT (e.g. "
                 "tcp:127.0.0.1:705)");
        }
        s.agentxSocket = socket;
        s.pingInterval =
            std::chrono::seconds(integer("snmp.ping_interval", 15, 1, 3600, "seconds"));
        s.traps = boolean("snmp.traps", true);
        const std::string disabled = value("snmp.disabled_traps", "");
        for (const auto& name : splitList(disabled)) {
            const auto& names = snmpNotificationNames();
            if (std::find(names.begin(), names.end(), name) == names.end()) {
                fail("snmp.disabled_traps", disabled,
                     "expected a comma-separated list of notification names of TLSGATE-MIB (\"" +
                         name + "\" is not one; known: " + joined(names) + ")");
            }
            s.disabledTraps.push_back(name);
        }
        s.trapLimit = integer("snmp.trap_limit", 10, 1, 100000, "notifications");
        s.trapInterval =
            std::chrono::seconds(integer("snmp.trap_interval", 60, 1, 86400, "seconds"));
    }

    /// [siem] and the [siem.NAME] sections of the names in siem.destinations, in that order.
    void loadSiem(SiemConfig& s, const GatewaySettings& g) const {
        const std::string list = value("siem.destinations", "");
        std::vector<std::string> names;
        for (const auto& item : splitList(list)) {
            const std::string name = lower(item);
            const bool ok =
                !name.empty() && name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") ==
                                     std::string::npos;
            if (!ok || std::find(names.begin(), names.end(), name) != names.end()) {
                fail("siem.destinations", list,
                     "expected a comma-separated list of distinct destination names of letters, "
                     "digits, '-' and '_' (\"" +
                         item + "\" is not one)");
            }
            names.push_back(name);
        }
        for (const auto& name : names) {
            const std::string prefix = std::string(kSiemDestinationPrefix) + name + ".";
            if (values_.find(prefix + "type") == values_.end()) {
                fail("siem.destinations", list,
                     "expected a [siem.NAME] section setting type for each name ([siem." + name +
                         "] does not)");
            }
            siem::DestinationSettings d;
            d.name = name;
            // Lossless by default: spill to disk under the state directory.
            d.bufferDir = (g.stateDirectory / "siem" / name).string();
            for (auto it = values_.lower_bound(prefix);
                 it != values_.end() && it->first.starts_with(prefix); ++it) {
                try {
                    siem::applyDestinationKey(d, std::string_view(it->first).substr(prefix.size()),
                                              it->second);
                } catch (const std::invalid_argument& e) {
                    throw ConfigError(label_ + ": " + prefix + e.what());
                }
            }
            if (!d.bufferDir.empty() && d.bufferDir.front() != '/') {
                fail(prefix + "buffer_dir", d.bufferDir,
                     "expected an absolute directory path (starting with /), or nothing for no "
                     "disk buffer");
            }
            s.settings.destinations.push_back(std::move(d));
        }

        siem::FormatContext& context = s.settings.context;
        const std::string host = value("siem.host_name", "");
        std::array<unsigned char, sizeof(in6_addr)> address{};
        if (host.empty()) {
            context.observerHost = g.hostname;
        } else if (isDnsName(host) || ::inet_pton(AF_INET, host.c_str(), address.data()) == 1 ||
                   ::inet_pton(AF_INET6, host.c_str(), address.data()) == 1) {
            context.observerHost = host;
        } else {
            fail("siem.host_name", host,
                 "expected a DNS name or an IP address, or nothing for gateway.hostname");
        }
        const std::string app = value("siem.app_name", "tlsgate");
        const bool printable =
            std::all_of(app.begin(), app.end(), [](char c) { return c > ' ' && c < 0x7f; });
        if (app.empty() || app.size() > 48 || !printable) {
            fail("siem.app_name", app,
                 "expected 1 to 48 printable ASCII characters without spaces (RFC 5424 APP-NAME)");
        }
        context.appName = app;
        const std::string facility = value("siem.facility", "mail");
        if (const auto f = siem::syslogFacilityFromName(lower(facility))) {
            context.facility = *f;
        } else {
            fail("siem.facility", facility,
                 "expected a syslog facility name: kern, user, mail, daemon, auth, syslog, lpr, "
                 "news, uucp, cron, authpriv, ftp, ntp, audit, alert, clock, local0 to local7");
        }
        const std::string pen =
            value("siem.enterprise_number", std::to_string(siem::kDocumentationPen));
        if (const auto n = parseInt(pen, 1, 2147483647)) {
            context.enterpriseNumber = static_cast<std::uint32_t>(*n);
        } else {
            fail("siem.enterprise_number", pen,
                 "expected an IANA private enterprise number (a whole number between 1 and "
                 "2147483647)");
        }
        const std::string delimiter = value("siem.leef_delimiter", "tab");
        if (lower(delimiter) == "tab") {
            context.leefDelimiter = '\t';
        } else if (delimiter.size() == 1 && delimiter[0] > ' ' && delimiter[0] < 0x7f &&
                   siem::usableLeefDelimiter(delimiter[0])) {
            context.leefDelimiter = delimiter[0];
        } else {
            fail("siem.leef_delimiter", delimiter,
                 "expected tab or one printable ASCII character that is not a letter, a digit, "
                 "'=', '|', '-', ':', '.', '\'' or '_' (e.g. ^)");
        }
        s.stopTimeout = duration("siem.stop_timeout", "5s", std::chrono::minutes(5));
        try {
            siem::validateSettings(s.settings);
        } catch (const std::invalid_argument& e) {
            throw ConfigError(label_ + ": " + e.what());
        }
    }

    /// "500ms", "5s" or "2m" (the [siem.NAME] durations' syntax), at most `max`.
    std::chrono::milliseconds duration(const std::string& key, const std::string& fallback,
                                       std::chrono::milliseconds max) const {
        const std::string text = value(key, fallback);
        std::string_view digits = text;
        std::int64_t unit = 0;
        if (digits.ends_with("ms")) {
            unit = 1;
            digits.remove_suffix(2);
        } else if (digits.ends_with('s')) {
            unit = 1000;
            digits.remove_suffix(1);
        } else if (digits.ends_with('m')) {
            unit = 60000;
            digits.remove_suffix(1);
        }
        std::int64_t number = 0;
        const auto* end = digits.data() + digits.size();
        const auto [ptr, ec] = std::from_chars(digits.data(), end, number);
        if (unit == 0 || digits.empty() || ec != std::errc() || ptr != end || number < 0 ||
            number > max.count() / unit) {
            fail(key, text,
                 "expected a duration such as 500ms, 5s or 2m, at most " +
                     std::to_string(max.count() / 1000) + "s");
        }
        return std::chrono::milliseconds(number * unit);
    }

    /// "unix:/path", "/path" or "tcp:host:port" with a port from 1 to 65535.
    static bool isAgentxSocket(const std::string& text) {
        if (text.rfind("unix:/", 0) == 0 || (!text.empty() && text.front() == '/')) {
            return true;
        }
        if (text.rfind("tcp:", 0) != 0) {
            return false;
        }
        const auto colon = text.rfind(':');
        return colon > 4 && parseInt(std::string_view(text).substr(colon + 1), 1, 65535);
    }

    std::vector<int> warningDays(const std::string& text) const {
        std::vector<int> days;
        std::size_t start = 0;
        while (start <= text.size()) {
            auto comma = text.find(',', start);
            if (comma == std::string::npos) {
                comma = text.size();
            }
            const auto n =
                parseInt(trim(std::string_view(text).substr(start, comma - start)), 1, 365);
            if (!n || std::find(days.begin(), days.end(), *n) != days.end()) {
                fail("certificates.expiry_warning_days", text,
                     "expected a comma-separated list of distinct whole numbers of days between 1 "
                     "and 365 (e.g. 30,14,7,1)");
            }
            days.push_back(*n);
            start = comma + 1;
        }
        std::sort(days.begin(), days.end(), std::greater<>());
        return days;
    }

    void checkCrossFieldRules(const GatewayConfig& c) const {
        const auto receiveTls = std::string(toString(c.receive.tlsLevel));
        const auto clientCert = std::string(toString(c.receive.clientCertificate));
        if (c.receive.clientCertificate == ClientCertMode::Require &&
            c.receive.tlsLevel != ReceiveTlsLevel::Require) {
            throw ConfigError(label_ + ": receive.client_certificate = " + clientCert +
                              ": requires receive.tls_level = require (it is " + receiveTls + ")");
        }
        if (c.receive.clientCertificate == ClientCertMode::Request &&
            c.receive.tlsLevel == ReceiveTlsLevel::NoTls) {
            throw ConfigError(label_ + ": receive.client_certificate = " + clientCert +
                              ": requires receive.tls_level = attempt or require (it is " +
                              receiveTls + ")");
        }
        // A default certificate that is "expiring" from the day it is made helps nobody.
        if (c.certificates.expiryWarningDays.front() >= c.certificates.validityDays) {
            throw ConfigError(label_ + ": certificates.expiry_warning_days = " + warningDaysText_ +
                              ": requires every threshold below certificates.validity_days (it "
                              "is " +
                              std::to_string(c.certificates.validityDays) + ")");
        }
    }

    const std::string label_;
    const Values values_;
    std::string warningDaysText_;
};

}  // namespace

const std::vector<std::string_view>& siemDestinationKeyNames() {
    static const std::vector<std::string_view> names{"type",
                                                     "format",
                                                     "host",
                                                     "port",
                                                     "ca_file",
                                                     "server_name",
                                                     "client_cert_file",
                                                     "client_key_file",
                                                     "connect_timeout",
                                                     "send_timeout",
                                                     "brokers",
                                                     "topic",
                                                     "kafka.*",
                                                     "path",
                                                     "rotate_size",
                                                     "rotate_keep",
                                                     "queue_capacity",
                                                     "buffer_dir",
                                                     "buffer_max_size",
                                                     "retry_min",
                                                     "retry_max"};
    return names;
}

std::string_view toString(ReceiveTlsLevel level) {
    return tokenOf(kReceiveTlsLevels, level);
}

const std::vector<std::string_view>& snmpNotificationNames() {
    static const std::vector<std::string_view> names{"tlsgateInboundHandshakeFailed",
                                                     "tlsgateInboundTlsRequired",
                                                     "tlsgateClientCertRejected",
                                                     "tlsgateOutboundVerifyFailed",
                                                     "tlsgateOutboundTlsDeferred",
                                                     "tlsgateCertExpiring",
                                                     "tlsgateCertExpired",
                                                     "tlsgateCertChanged",
                                                     "tlsgateSiemDestinationDown",
                                                     "tlsgateSiemDestinationUp",
                                                     "tlsgateNotificationsSuppressed"};
    return names;
}
std::string_view toString(ClientCertMode mode) {
    return tokenOf(kClientCertModes, mode);
}
std::string_view toString(SendTlsLevel level) {
    return tokenOf(kSendTlsLevels, level);
}

std::string_view displayName(ReceiveTlsLevel level) {
    switch (level) {
        case ReceiveTlsLevel::NoTls:
            return "No TLS Encryption";
        case ReceiveTlsLevel::Attempt:
            return "Attempt TLS Encryption";
        case ReceiveTlsLevel::Require:
            return "Require TLS Encryption";
    }
    return "unknown";
}

std::string_view displayName(ClientCertMode mode) {
    switch (mode) {
        case ClientCertMode::DoNotRequest:
            return "Do Not Request Client Certificate";
        case ClientCertMode::Request:
            return "Request Client Certificate";
        case ClientCertMode::Require:
            return "Require Client Certificate";
    }
    return "unknown";
}

std::string_view displayName(SendTlsLevel level) {
    switch (level) {
        case SendTlsLevel::NoTls:
            return "No TLS Encryption";
        case SendTlsLevel::Attempt:
            return "Attempt TLS Encryption";
        case SendTlsLevel::RequireNoVerify:
            return "Require TLS Encryption (Do Not Verify Certificate)";
        case SendTlsLevel::RequireVerify:
            return "Require TLS Encryption and Verify Certificate";
    }
    return "unknown";
}

std::string ListenAddress::toString() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

GatewayConfig loadConfig(const std::string& file) {
    const std::string text = readFile(file);
    GatewayConfig config = Loader(file, readValues(text, file)).load();
    config.sourceFile = file;
    return config;
}

GatewayConfig defaultConfig() {
    return Loader(std::string(kEmbeddedDefaultsName), {}).load();
}

GatewayConfig loadDefaultOrFile(const std::optional<std::string>& file,
                                const std::string& defaultFile) {
    if (file) {
        return loadConfig(*file);
    }
    std::error_code ec;
    if (std::filesystem::exists(defaultFile, ec)) {
        return loadConfig(defaultFile);
    }
    return defaultConfig();
}

tlsgate::certmgr::StoreOptions storeOptions(const GatewayConfig& config) {
    tlsgate::certmgr::StoreOptions options;
    options.directory = config.certificates.storeDirectory;
    options.hostname = config.gateway.hostname;
    options.defaultValidityDays = config.certificates.validityDays;
    options.autoRenew = config.certificates.autoRenew;
    options.renewAtFraction = config.certificates.renewAt;
    options.warningDays = config.certificates.expiryWarningDays;
    options.useSystemCa = config.certificates.useSystemCa;
    return options;
}

}  // namespace tlsgate::gateway

namespace tlsgate::gateway {

bool Network::contains(const std::string& ip) const {
    std::array<unsigned char, 16> bytes{};
    bool isV6 = ip.find(':') != std::string::npos;
    if (::inet_pton(isV6 ? AF_INET6 : AF_INET, ip.c_str(), bytes.data()) != 1) {
        return false;
    }
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (isV6 && !v6 && std::equal(bytes.begin(), bytes.begin() + 12, kMapped)) {
        std::copy(bytes.begin() + 12, bytes.end(), bytes.begin());  // ::ffff:192.0.2.1
        isV6 = false;
    }
    if (isV6 != v6) {
        return false;
    }
    int bits = prefix;
    for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
        const auto mask = static_cast<unsigned char>(bits >= 8 ? 0xff : 0xff << (8 - bits));
        if ((bytes[i] & mask) != (address[i] & mask)) {
            return false;
        }
    }
    return true;
}

bool ReceiveSettings::isTrusted(const std::string& ip) const {
    return std::any_of(trustedNetworks.begin(), trustedNetworks.end(),
                       [&](const Network& n) { return n.contains(ip); });
}

SendTlsLevel SendSettings::levelFor(const std::string& domain,
                                    const std::string& destination) const {
    for (const auto& [name, level] : tlsPolicy) {
        if (name == domain || name == destination) {
            return level;
        }
    }
    return tlsLevel;
}

bool ReceiveSettings::isRelayDomain(const std::string& domain) const {
    return std::find(relayDomains.begin(), relayDomains.end(), domain) != relayDomains.end();
}

}  // namespace tlsgate::gateway
