// Unit tests for the gateway configuration: INI files written to a per-test temporary directory,
// loaded, and the exact ConfigError text asserted. Single-threaded; failures are gtest assertions.
#include "tlsgate/gateway/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tlsgate::gateway {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "tlsgate-config-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        file_ = (dir_ / "tlsgate.conf").string();
    }
    void TearDown() override {
        std::error_code ec;
        fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(dir_, ec);
    }

    /// Writes `text` to a file in the test's directory and returns its path.
    std::string write(const std::string& text, const std::string& name = "tlsgate.conf") {
        const auto path = (dir_ / name).string();
        std::ofstream(path) << text;
        return path;
    }

    /// The message loading `text` (written to file_) fails with; "" when it loads.
    std::string errorFor(const std::string& text) {
        write(text);
        try {
            loadConfig(file_);
        } catch (const ConfigError& e) {
            return e.what();
        }
        return "";
    }

    fs::path dir_;
    std::string file_;  ///< where write() puts a file by default, set before any test body runs
};

std::string systemHostName() {
    std::array<char, 256> name{};
    ::gethostname(name.data(), name.size() - 1);
    return name.data();
}

TEST_F(ConfigTest, EmbeddedDefaultsLoadAndValidate) {
    const GatewayConfig c = defaultConfig();
    EXPECT_EQ(c.sourceFile, "");
    EXPECT_EQ(c.gateway.hostname, systemHostName());
    EXPECT_EQ(c.gateway.stateDirectory, "/var/lib/tlsgate");
    EXPECT_EQ(c.gateway.logLevel, "information");
    EXPECT_EQ(c.receive.listen.host, "0.0.0.0");
    EXPECT_EQ(c.receive.listen.port, 25);
    EXPECT_EQ(c.receive.tlsLevel, ReceiveTlsLevel::Attempt);
    EXPECT_EQ(c.receive.clientCertificate, ClientCertMode::DoNotRequest);
    EXPECT_EQ(c.send.tlsLevel, SendTlsLevel::Attempt);
    EXPECT_EQ(c.certificates.storeDirectory, "/var/lib/tlsgate/certs");
    EXPECT_EQ(c.certificates.validityDays, 825);
    EXPECT_TRUE(c.certificates.autoRenew);
    EXPECT_DOUBLE_EQ(c.certificates.renewAt, 0.6667);
    EXPECT_EQ(c.certificates.expiryWarningDays, (std::vector<int>{30, 14, 7, 1}));
    EXPECT_TRUE(c.certificates.useSystemCa);
    EXPECT_EQ(c.certificates.checkInterval, std::chrono::seconds(3600));
    EXPECT_EQ(c.certificates.changePoll, std::chrono::milliseconds(1000));
}

TEST_F(ConfigTest, EmptyFileGivesTheDefaultsAndRemembersItsName) {
    const auto path = write("; nothing set\n");
    const GatewayConfig c = loadConfig(path);
    EXPECT_EQ(c.sourceFile, path);
    EXPECT_EQ(c.gateway.hostname, systemHostName());
    EXPECT_EQ(c.certificates.storeDirectory, "/var/lib/tlsgate/certs");
    EXPECT_EQ(c.receive.tlsLevel, ReceiveTlsLevel::Attempt);
}

TEST_F(ConfigTest, EveryKeyIsRead) {
    const GatewayConfig c = loadConfig(write(R"(
[gateway]
hostname = mx1.example.org
state_directory = /srv/tlsgate
log_level = debug

[receive]
listen = 192.0.2.10:2525
tls_level = require
client_certificate = require

[send]
tls_level = require-verify

[certificates]
store_directory = /srv/certs
validity_days = 90
auto_renew = off
renew_at = 0.5
expiry_warning_days = 10,20
use_system_ca = no
check_interval = 600
change_poll_ms = 250
)"));
    EXPECT_EQ(c.gateway.hostname, "mx1.example.org");
    EXPECT_EQ(c.gateway.stateDirectory, "/srv/tlsgate");
    EXPECT_EQ(c.gateway.logLevel, "debug");
    EXPECT_EQ(c.receive.listen.toString(), "192.0.2.10:2525");
    EXPECT_EQ(c.receive.tlsLevel, ReceiveTlsLevel::Require);
    EXPECT_EQ(c.receive.clientCertificate, ClientCertMode::Require);
    EXPECT_EQ(c.send.tlsLevel, SendTlsLevel::RequireVerify);
    EXPECT_EQ(c.certificates.storeDirectory, "/srv/certs");
    EXPECT_EQ(c.certificates.validityDays, 90);
    EXPECT_FALSE(c.certificates.autoRenew);
    EXPECT_DOUBLE_EQ(c.certificates.renewAt, 0.5);
    EXPECT_EQ(c.certificates.expiryWarningDays, (std::vector<int>{20, 10}));
    EXPECT_FALSE(c.certificates.useSystemCa);
    EXPECT_EQ(c.certificates.checkInterval, std::chrono::seconds(600));
    EXPECT_EQ(c.certificates.changePoll, std::chrono::milliseconds(250));
}

TEST_F(ConfigTest, StoreDirectoryFollowsStateDirectory) {
    const GatewayConfig c = loadConfig(write("[gateway]\nstate_directory = /srv/tg/\n"));
    EXPECT_EQ(c.certificates.storeDirectory, "/srv/tg/certs");
}

TEST_F(ConfigTest, ValuesAndNamesAreTrimmedAndNamesIgnoreCase) {
    const GatewayConfig c = loadConfig(
        write("  [ Receive ]  \n\t TLS_Level   =   Require  \r\n[send]\ntls_level=none\n"));
    EXPECT_EQ(c.receive.tlsLevel, ReceiveTlsLevel::Require);
    EXPECT_EQ(c.send.tlsLevel, SendTlsLevel::NoTls);
}

TEST_F(ConfigTest, HashAndSemicolonLinesAreComments) {
    const GatewayConfig c = loadConfig(
        write("# a hash comment\n; a semicolon comment\n[send] ; after a section\n  # indented\n"
              "#tls_level = none\ntls_level = require-no-verify\n"));
    EXPECT_EQ(c.send.tlsLevel, SendTlsLevel::RequireNoVerify);
}

TEST_F(ConfigTest, CommentsAfterAValueArePartOfIt) {
    EXPECT_EQ(errorFor("[send]\ntls_level = none ; plain\n"),
              file_ +
                  ": send.tls_level = none ; plain: expected one of: none, attempt, "
                  "require-no-verify, require-verify");
}

struct BadValue {
    std::string section;
    std::string key;
    std::string value;
    std::string expected;
};

TEST_F(ConfigTest, EachBadValueNamesFileKeyValueAndWhatWasExpected) {
    const std::string dnsName =
        "expected a DNS name: labels of letters, digits and '-' (1 to 63 characters, not starting "
        "or ending with '-') separated by '.', at most 253 characters";
    const std::string listen =
        "expected address:port with an IPv4 address or an IPv6 address in brackets and a port "
        "between 1 and 65535 (e.g. 0.0.0.0:25, [::]:25)";
    const std::vector<BadValue> cases{
        {"gateway", "hostname", "mx_1.example.com", dnsName},
        {"gateway", "hostname", "", dnsName},
        {"gateway", "state_directory", "var/lib/tlsgate",
         "expected an absolute directory path (starting with /)"},
        {"gateway", "log_level", "verbose",
         "expected one of: fatal, critical, error, warning, notice, information, debug, trace"},
        {"receive", "listen", "0.0.0.0", listen},
        {"receive", "tls_level", "maybe", "expected one of: none, attempt, require"},
        {"receive", "client_certificate", "always",
         "expected one of: do-not-request, request, require"},
        {"send", "tls_level", "require",
         "expected one of: none, attempt, require-no-verify, require-verify"},
        {"certificates", "store_directory", "certs",
         "expected an absolute directory path (starting with /)"},
        {"certificates", "validity_days", "abc",
         "expected a whole number of days between 1 and 3650"},
        {"certificates", "validity_days", "0",
         "expected a whole number of days between 1 and 3650"},
        {"certificates", "validity_days", "3651",
         "expected a whole number of days between 1 and 3650"},
        {"certificates", "validity_days", "90d",
         "expected a whole number of days between 1 and 3650"},
        {"certificates", "auto_renew", "maybe", "expected true or false (or yes/no, on/off, 1/0)"},
        {"certificates", "renew_at", "0.96",
         "expected the fraction of a certificate's lifetime after which it is renewed, between "
         "0.1 and 0.95 (e.g. 0.6667)"},
        {"certificates", "renew_at", "2/3",
         "expected the fraction of a certificate's lifetime after which it is renewed, between "
         "0.1 and 0.95 (e.g. 0.6667)"},
        {"certificates", "renew_at", "nan",
         "expected the fraction of a certificate's lifetime after which it is renewed, between "
         "0.1 and 0.95 (e.g. 0.6667)"},
        {"certificates", "expiry_warning_days", "30,x",
         "expected a comma-separated list of distinct whole numbers of days between 1 and 365 "
         "(e.g. 30,14,7,1)"},
        {"certificates", "use_system_ca", "2", "expected true or false (or yes/no, on/off, 1/0)"},
        {"certificates", "check_interval", "59",
         "expected a whole number of seconds between 60 and 86400"},
        {"certificates", "check_interval", "86401",
         "expected a whole number of seconds between 60 and 86400"},
        {"certificates", "change_poll_ms", "99",
         "expected a whole number of milliseconds between 100 and 60000"},
        {"certificates", "change_poll_ms", "60001",
         "expected a whole number of milliseconds between 100 and 60000"},
    };
    for (const auto& bad : cases) {
        SCOPED_TRACE(bad.section + "." + bad.key + " = " + bad.value);
        EXPECT_EQ(
            errorFor("[" + bad.section + "]\n" + bad.key + " = " + bad.value + "\n"),
            file_ + ": " + bad.section + "." + bad.key + " = " + bad.value + ": " + bad.expected);
    }
}

TEST_F(ConfigTest, BoundaryValuesAreAccepted) {
    const GatewayConfig c = loadConfig(
        write("[certificates]\nvalidity_days = 3650\nrenew_at = 0.95\ncheck_interval = 60\n"
              "change_poll_ms = 60000\nexpiry_warning_days = 365\nauto_renew = YES\n"));
    EXPECT_EQ(c.certificates.validityDays, 3650);
    EXPECT_DOUBLE_EQ(c.certificates.renewAt, 0.95);
    EXPECT_EQ(c.certificates.checkInterval, std::chrono::seconds(60));
    EXPECT_EQ(c.certificates.changePoll, std::chrono::milliseconds(60000));
    EXPECT_TRUE(c.certificates.autoRenew);
    EXPECT_DOUBLE_EQ(loadConfig(write("[certificates]\nrenew_at = 0.1\n")).certificates.renewAt,
                     0.1);
}

TEST_F(ConfigTest, UnknownKeyIsRefusedNamingTheKnownOnes) {
    EXPECT_EQ(errorFor("[gateway]\nhostnme = mx.example.com\n"),
              file_ +
                  ": gateway.hostnme: unknown key (known keys in [gateway]: hostname, "
                  "state_directory, log_level, user)");
    EXPECT_EQ(errorFor("[send]\nlisten = 0.0.0.0:25\n"),
              file_ +
                  ": send.listen: unknown key (known keys in [send]: tls_level, tls_min_version, "
                  "tls_policy, routes, default_route, retry_min, retry_max, max_queue_lifetime, "
                  "workers, max_per_destination, connect_timeout, command_timeout, "
                  "connection_cache_time, connection_reuse_limit)");
}

TEST_F(ConfigTest, UnknownSectionIsRefusedEvenWhenEmpty) {
    EXPECT_EQ(errorFor("[gateway]\n[smtp]\n"),
              file_ +
                  ": [smtp]: unknown section (known sections: gateway, receive, send, "
                  "spool, certificates, snmp, siem, siem.NAME)");
    EXPECT_EQ(errorFor("[certificate]\nvalidity_days = 10\n"),
              file_ +
                  ": [certificate]: unknown section (known sections: gateway, receive, send, "
                  "spool, certificates, snmp, siem, siem.NAME)");
}

TEST_F(ConfigTest, KeyOutsideAnySectionIsRefused) {
    EXPECT_EQ(errorFor("hostname = mx.example.com\n[gateway]\n"),
              file_ +
                  ": hostname: key outside any section (known sections: gateway, receive, "
                  "send, spool, certificates, snmp, siem, siem.NAME)");
}

TEST_F(ConfigTest, RepeatedKeyIsRefusedWithBothLines) {
    EXPECT_EQ(errorFor("[send]\ntls_level = none\n\n[send]\nTLS_LEVEL = attempt\n"),
              file_ + ": send.tls_level: set twice (lines 2 and 5)");
}

TEST_F(ConfigTest, MalformedLinesAreRefusedWithTheirNumber) {
    EXPECT_EQ(errorFor("[gateway]\nhostname\n"),
              file_ + ": cannot read: line 2: \"hostname\": expected key = value");
    EXPECT_EQ(errorFor("\n[gateway\n"),
              file_ + ": cannot read: line 2: \"[gateway\": expected [section]");
    EXPECT_EQ(errorFor("[gateway] hostname = x\n"),
              file_ +
                  ": cannot read: line 1: \"[gateway] hostname = x\": unexpected text after the "
                  "section name");
    EXPECT_EQ(errorFor("[gateway]\n= x\n"),
              file_ + ": cannot read: line 2: \"= x\": expected key = value");
}

TEST_F(ConfigTest, ClientCertificateRequireNeedsRequireTls) {
    EXPECT_EQ(errorFor("[receive]\nclient_certificate = require\n"),
              file_ +
                  ": receive.client_certificate = require: requires receive.tls_level = require "
                  "(it is attempt)");
    EXPECT_EQ(errorFor("[receive]\nclient_certificate = require\ntls_level = none\n"),
              file_ +
                  ": receive.client_certificate = require: requires receive.tls_level = require "
                  "(it is none)");
    EXPECT_EQ(errorFor("[receive]\nclient_certificate = require\ntls_level = require\n"), "");
}

TEST_F(ConfigTest, ClientCertificateRequestNeedsSomeTls) {
    EXPECT_EQ(errorFor("[receive]\nclient_certificate = request\ntls_level = none\n"),
              file_ +
                  ": receive.client_certificate = request: requires receive.tls_level = attempt "
                  "or require (it is none)");
    EXPECT_EQ(errorFor("[receive]\nclient_certificate = request\n"), "");
    EXPECT_EQ(errorFor("[receive]\nclient_certificate = request\ntls_level = require\n"), "");
    EXPECT_EQ(errorFor("[receive]\ntls_level = none\n"), "");
}

TEST_F(ConfigTest, WarningThresholdsMustBeBelowTheValidity) {
    EXPECT_EQ(errorFor("[certificates]\nvalidity_days = 30\n"),
              file_ +
                  ": certificates.expiry_warning_days = 30,14,7,1: requires every threshold "
                  "below certificates.validity_days (it is 30)");
    EXPECT_EQ(errorFor("[certificates]\nvalidity_days = 30\nexpiry_warning_days = 7, 1\n"), "");
}

TEST_F(ConfigTest, ExpiryWarningDaysAreParsedAndSortedDescending) {
    const auto days = [this](const std::string& value) {
        return loadConfig(write("[certificates]\nexpiry_warning_days = " + value + "\n"))
            .certificates.expiryWarningDays;
    };
    EXPECT_EQ(days(" 7, 30 ,1,14 "), (std::vector<int>{30, 14, 7, 1}));
    EXPECT_EQ(days("5"), (std::vector<int>{5}));
    EXPECT_EQ(days("1,365,60"), (std::vector<int>{365, 60, 1}));

    const std::string expected =
        ": expected a comma-separated list of distinct whole numbers of days between 1 and 365 "
        "(e.g. 30,14,7,1)";
    for (const std::string bad : {"30,14,30", "0,7", "366", "30,,7", "30,7,", "", "-1", "7 1"}) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(errorFor("[certificates]\nexpiry_warning_days = " + bad + "\n"),
                  file_ + ": certificates.expiry_warning_days = " + bad + expected);
    }
}

TEST_F(ConfigTest, HostnameValidation) {
    const std::string label63(63, 'a');
    const std::string label64(64, 'a');
    // 4 labels of 63 plus 3 dots = 255; trimmed to exactly 253 and 254.
    const std::string long253 =
        (label63 + "." + label63 + "." + label63 + "." + label63).substr(0, 253);
    const std::string long254 = long253 + "a";
    for (const std::string& good :
         {std::string("mx.example.com"), std::string("a"), std::string("MX-1.Example.COM"),
          std::string("xn--bcher-kva.example"), label63 + ".example", long253}) {
        SCOPED_TRACE(good);
        EXPECT_EQ(errorFor("[gateway]\nhostname = " + good + "\n"), "");
    }
    for (const std::string& bad :
         {std::string("-mx.example.com"), std::string("mx-.example.com"),
          std::string("mx..example.com"), std::string("mx.example.com."), std::string(".mx"),
          std::string("mx_1.example.com"), std::string("mx example.com"),
          std::string("m\xc3\xbc.example"), label64 + ".example", long254}) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(errorFor("[gateway]\nhostname = " + bad + "\n"),
                  file_ + ": gateway.hostname = " + bad +
                      ": expected a DNS name: labels of letters, digits and '-' (1 to 63 "
                      "characters, not starting or ending with '-') separated by '.', at most "
                      "253 characters");
    }
}

TEST_F(ConfigTest, ListenAddresses) {
    const auto listen = [this](const std::string& value) {
        return loadConfig(write("[receive]\nlisten = " + value + "\n")).receive.listen;
    };
    const ListenAddress v6 = listen("[::1]:2525");
    EXPECT_EQ(v6.host, "::1");
    EXPECT_EQ(v6.port, 2525);
    EXPECT_EQ(v6.toString(), "[::1]:2525");
    EXPECT_EQ(listen("[::]:25").toString(), "[::]:25");
    EXPECT_EQ(listen("127.0.0.1:2525").host, "127.0.0.1");
    EXPECT_EQ(listen("127.0.0.1:65535").port, 65535);
    EXPECT_EQ(listen("[2001:db8::25]:587").toString(), "[2001:db8::25]:587");

    for (const std::string bad :
         {"::1:25", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "localhost:25",
          "[::1]2525", "[::1]:", "[::1", "127.1:25", "[127.0.0.1]:25", "256.0.0.1:25",
          "0.0.0.0:25x", ":25"}) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(errorFor("[receive]\nlisten = " + bad + "\n"),
                  file_ + ": receive.listen = " + bad +
                      ": expected address:port with an IPv4 address or an IPv6 address in "
                      "brackets and a port between 1 and 65535 (e.g. 0.0.0.0:25, [::]:25)");
    }
}

TEST_F(ConfigTest, MissingFileCannotBeRead) {
    const auto path = (dir_ / "absent.conf").string();
    try {
        loadConfig(path);
        FAIL() << "loaded a missing file";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), path + ": cannot read: No such file or directory");
    }
}

TEST_F(ConfigTest, DirectoryCannotBeRead) {
    try {
        loadConfig(dir_.string());
        FAIL() << "loaded a directory";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), dir_.string() + ": cannot read: it is a directory");
    }
}

TEST_F(ConfigTest, DevNullGivesTheDefaults) {
    EXPECT_EQ(loadConfig("/dev/null").receive.tlsLevel, ReceiveTlsLevel::Attempt);
}

TEST_F(ConfigTest, UnreadableFileCannotBeRead) {
    if (::geteuid() == 0) {
        GTEST_SKIP() << "root reads files whatever their mode";
    }
    const auto path = write("[gateway]\n");
    ASSERT_EQ(::chmod(path.c_str(), 0), 0);
    try {
        loadConfig(path);
        FAIL() << "loaded an unreadable file";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), path + ": cannot read: Permission denied");
    }
}

TEST_F(ConfigTest, LoadDefaultOrFilePrefersTheNamedFileThenTheDefaultFile) {
    const auto named = write("[send]\ntls_level = none\n", "named.conf");
    const auto fallback = write("[send]\ntls_level = require-verify\n", "default.conf");
    const auto absent = (dir_ / "absent.conf").string();

    EXPECT_EQ(loadDefaultOrFile(named, fallback).send.tlsLevel, SendTlsLevel::NoTls);
    const GatewayConfig fromDefault = loadDefaultOrFile(std::nullopt, fallback);
    EXPECT_EQ(fromDefault.sourceFile, fallback);
    EXPECT_EQ(fromDefault.send.tlsLevel, SendTlsLevel::RequireVerify);
    const GatewayConfig embedded = loadDefaultOrFile(std::nullopt, absent);
    EXPECT_EQ(embedded.sourceFile, "");
    EXPECT_EQ(embedded.send.tlsLevel, SendTlsLevel::Attempt);
    // A named file that is missing is an error, never a silent fallback.
    EXPECT_THROW(loadDefaultOrFile(absent, fallback), ConfigError);
}

TEST_F(ConfigTest, StoreOptionsCarryTheCertificateSettings) {
    const GatewayConfig c = loadConfig(write(
        "[gateway]\nhostname = mx.example.net\n[certificates]\nstore_directory = /srv/c\n"
        "validity_days = 400\nauto_renew = false\nrenew_at = 0.75\nexpiry_warning_days = 7,60\n"
        "use_system_ca = false\n"));
    const tlsgate::certmgr::StoreOptions o = storeOptions(c);
    EXPECT_EQ(o.directory, "/srv/c");
    EXPECT_EQ(o.hostname, "mx.example.net");
    EXPECT_EQ(o.defaultValidityDays, 400);
    EXPECT_FALSE(o.autoRenew);
    EXPECT_DOUBLE_EQ(o.renewAtFraction, 0.75);
    EXPECT_EQ(o.warningDays, (std::vector<int>{60, 7}));
    EXPECT_FALSE(o.useSystemCa);
}

TEST_F(ConfigTest, SnmpSectionDefaultsValuesAndRefusals) {
    const GatewayConfig defaults = loadConfig(write("[gateway]\nhostname = mx.example.net\n"));
    EXPECT_FALSE(defaults.snmp.enabled);
    EXPECT_EQ(defaults.snmp.agentxSocket, "/var/agentx/master");
    EXPECT_EQ(defaults.snmp.pingInterval, std::chrono::seconds(15));
    EXPECT_TRUE(defaults.snmp.traps);
    EXPECT_TRUE(defaults.snmp.disabledTraps.empty());
    EXPECT_EQ(defaults.snmp.trapLimit, 10);
    EXPECT_EQ(defaults.snmp.trapInterval, std::chrono::seconds(60));

    const GatewayConfig c =
        loadConfig(write("[gateway]\nhostname = mx.example.net\n[snmp]\nenabled = yes\n"
                         "agentx_socket = tcp:127.0.0.1:705\nping_interval = 1\ntraps = off\n"
                         "disabled_traps = tlsgateCertChanged, tlsgateInboundTlsRequired\n"
                         "trap_limit = 3\ntrap_interval = 5\n"));
    EXPECT_TRUE(c.snmp.enabled);
    EXPECT_EQ(c.snmp.agentxSocket, "tcp:127.0.0.1:705");
    EXPECT_EQ(c.snmp.pingInterval, std::chrono::seconds(1));
    EXPECT_FALSE(c.snmp.traps);
    EXPECT_EQ(c.snmp.disabledTraps,
              (std::vector<std::string>{"tlsgateCertChanged", "tlsgateInboundTlsRequired"}));
    EXPECT_EQ(c.snmp.trapLimit, 3);
    EXPECT_EQ(c.snmp.trapInterval, std::chrono::seconds(5));
    EXPECT_EQ(
        loadConfig(write("[snmp]\nagentx_socket = unix:/tmp/x/agentx.sock\n")).snmp.agentxSocket,
        "unix:/tmp/x/agentx.sock");

    EXPECT_EQ(errorFor("[snmp]\nagentx_socket = localhost\n"),
              file_ +
                  ": snmp.agentx_socket = localhost: expected unix:/absolute/path, /absolute/path "
                  "or tcp:HOST:PORT (e.g. tcp:127.0.0.1:705)");
    EXPECT_EQ(errorFor("[snmp]\nping_interval = 0\n"),
              file_ +
                  ": snmp.ping_interval = 0: expected a whole number of seconds between 1 and "
                  "3600");
    EXPECT_NE(errorFor("[snmp]\ndisabled_traps = tlsgateCertChanged, coldStart\n")
                  .find(": snmp.disabled_traps = tlsgateCertChanged, coldStart: expected a "
                        "comma-separated list of notification names of TLSGATE-MIB (\"coldStart\" "
                        "is not one;"),
              std::string::npos);
    EXPECT_NE(errorFor("[snmp]\nenabled = maybe\n").find("snmp.enabled = maybe: expected true"),
              std::string::npos);
    EXPECT_EQ(snmpNotificationNames().size(), 11u);
}

#ifdef TLSGATE_SOURCE_DIR
std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// etc/tlsgate.conf shows every key commented out with its default: it loads as the defaults,
/// and with every key uncommented it still does (hostname aside), and docs list every key.
TEST_F(ConfigTest, SendPolicyTableAndRoutesAreParsedAndCheckedAtLoad) {
    const GatewayConfig c = loadConfig(
        write("[send]\ntls_level = attempt\n"
              "tls_policy = Partner.example = require-verify, [192.0.2.1]:2525 = none\n"
              "routes = example.com = [127.0.0.1]:2526\nretry_min = 5\nretry_max = 60\n"));
    EXPECT_EQ(c.send.levelFor("partner.example", "partner.example"), SendTlsLevel::RequireVerify);
    EXPECT_EQ(c.send.levelFor("x.example", "[192.0.2.1]:2525"), SendTlsLevel::NoTls);
    EXPECT_EQ(c.send.levelFor("other.example", "other.example"), SendTlsLevel::Attempt);
    ASSERT_EQ(c.send.routes.size(), 1u);
    EXPECT_EQ(c.send.routes[0],
              (std::pair<std::string, std::string>{"example.com", "[127.0.0.1]:2526"}));
    EXPECT_EQ(errorFor("[send]\ntls_policy = a.example = maybe\n"),
              file_ +
                  ": send.tls_policy = a.example = maybe: expected destination=level pairs with a "
                  "level of none, attempt, require-no-verify or require-verify (\"maybe\" is not "
                  "one)");
    EXPECT_EQ(errorFor("[send]\nroutes = example.com\n"),
              file_ +
                  ": send.routes = example.com: expected a comma-separated list of name=value "
                  "pairs (\"example.com\" is not one)");
    EXPECT_EQ(errorFor("[send]\nretry_min = 600\nretry_max = 60\n"),
              file_ + ": send.retry_max = 60: requires at least send.retry_min (it is 600)");
}

TEST_F(ConfigTest, ExampleFileShowsTheDefaultsAndDocsListEveryKey) {
    const std::string example = slurp(TLSGATE_SOURCE_DIR "/etc/tlsgate.conf");
    const std::string docs = slurp(TLSGATE_SOURCE_DIR "/docs/configuration.md");
    ASSERT_FALSE(example.empty());
    ASSERT_FALSE(docs.empty());
    EXPECT_EQ(loadConfig(TLSGATE_SOURCE_DIR "/etc/tlsgate.conf").send.tlsLevel,
              SendTlsLevel::Attempt);

    const std::regex commentedKey(R"(^;([a-z_]+) =.*$)");
    const std::regex section(R"(^\[([a-z]+)\]$)");
    std::istringstream lines(example);
    std::string line;
    std::string current;
    std::string uncommented;
    int keys = 0;
    std::smatch match;
    while (std::getline(lines, line)) {
        if (std::regex_match(line, match, section)) {
            current = match[1];
        } else if (std::regex_match(line, match, commentedKey)) {
            const std::string row = "| " + current + " | `" + match[1].str() + "` |";
            line = line.substr(1);  // after the last use of `match`, which points into `line`
            ++keys;
            EXPECT_NE(docs.find(row), std::string::npos) << "docs/configuration.md lacks " << row;
        }
        uncommented += line + "\n";
    }
    EXPECT_EQ(keys, 57);
    const GatewayConfig all = loadConfig(write(uncommented));
    const GatewayConfig defaults = defaultConfig();
    EXPECT_EQ(all.gateway.hostname, "mx.example.com");
    EXPECT_EQ(all.gateway.stateDirectory, defaults.gateway.stateDirectory);
    EXPECT_EQ(all.gateway.logLevel, defaults.gateway.logLevel);
    EXPECT_EQ(all.receive.listen.toString(), defaults.receive.listen.toString());
    EXPECT_EQ(all.receive.tlsLevel, defaults.receive.tlsLevel);
    EXPECT_EQ(all.receive.clientCertificate, defaults.receive.clientCertificate);
    EXPECT_EQ(all.send.tlsLevel, defaults.send.tlsLevel);
    EXPECT_EQ(all.certificates.storeDirectory, defaults.certificates.storeDirectory);
    EXPECT_EQ(all.certificates.validityDays, defaults.certificates.validityDays);
    EXPECT_EQ(all.certificates.autoRenew, defaults.certificates.autoRenew);
    EXPECT_DOUBLE_EQ(all.certificates.renewAt, defaults.certificates.renewAt);
    EXPECT_EQ(all.certificates.expiryWarningDays, defaults.certificates.expiryWarningDays);
    EXPECT_EQ(all.certificates.useSystemCa, defaults.certificates.useSystemCa);
    EXPECT_EQ(all.certificates.checkInterval, defaults.certificates.checkInterval);
    EXPECT_EQ(all.certificates.changePoll, defaults.certificates.changePoll);
    EXPECT_FALSE(all.siem.enabled());
    EXPECT_EQ(all.siem.settings.context.observerHost, "mx.example.com");
    EXPECT_EQ(all.siem.settings.context.appName, defaults.siem.settings.context.appName);
    EXPECT_EQ(all.siem.settings.context.facility, defaults.siem.settings.context.facility);
    EXPECT_EQ(all.siem.settings.context.enterpriseNumber,
              defaults.siem.settings.context.enterpriseNumber);
    EXPECT_EQ(all.siem.settings.context.leefDelimiter,
              defaults.siem.settings.context.leefDelimiter);
    EXPECT_EQ(all.siem.stopTimeout, defaults.siem.stopTimeout);

    // The commented-out [siem.NAME] examples ('#' lines) load once uncommented and named.
    std::string withDestinations;
    std::istringstream again(example);
    while (std::getline(again, line)) {
        if (line.rfind("#[siem.", 0) == 0 ||
            std::regex_match(line, std::regex(R"(^#[a-z_.]+ = .*$)"))) {
            line = line.substr(1);
        } else if (line == ";destinations =") {
            line = "destinations = soc, lake";
        }
        withDestinations += line + "\n";
    }
    const GatewayConfig examples = loadConfig(write(withDestinations));
    ASSERT_EQ(examples.siem.settings.destinations.size(), 2u);
    EXPECT_EQ(examples.siem.settings.destinations[0].transport, siem::Transport::SyslogTls);
    EXPECT_EQ(examples.siem.settings.destinations[1].transport, siem::Transport::Kafka);
    for (const auto key : siemDestinationKeyNames()) {
        const std::string row = "| siem.NAME | `" + std::string(key) + "` |";
        EXPECT_NE(docs.find(row), std::string::npos) << "docs/configuration.md lacks " << row;
    }
}
#endif

TEST_F(ConfigTest, SiemIsOffByDefault) {
    const GatewayConfig c = loadConfig(write("[gateway]\nhostname = mx.example.net\n"));
    EXPECT_FALSE(c.siem.enabled());
    EXPECT_EQ(c.siem.settings.context.observerHost, "mx.example.net");
    EXPECT_EQ(c.siem.settings.context.appName, "tlsgate");
    EXPECT_EQ(c.siem.settings.context.facility, siem::SyslogFacility::Mail);
    EXPECT_EQ(c.siem.settings.context.enterpriseNumber, 32473u);
    EXPECT_EQ(c.siem.settings.context.leefDelimiter, '\t');
    EXPECT_EQ(c.siem.stopTimeout, std::chrono::seconds(5));
}

TEST_F(ConfigTest, SiemSectionsAreParsedInDestinationOrder) {
    // [siem] may come after the sections it names; names and section names ignore case.
    const GatewayConfig c = loadConfig(write(R"(
[gateway]
hostname = mx.example.net
state_directory = /srv/tg

[siem.Lake]
type = kafka
format = ocsf
brokers = k1.example.net:9093,k2.example.net:9093
topic = tlsgate-events
kafka.security.protocol = SASL_SSL
kafka.sasl.mechanism = SCRAM-SHA-512
buffer_dir =

[siem]
destinations = SOC, lake, archive
host_name = gw1.example.net
app_name = tlsgw
facility = local3
enterprise_number = 99999
leef_delimiter = ^
stop_timeout = 1500ms

[siem.soc]
type = syslog-tls
format = cef
host = siem.example.net
ca_file = /etc/tlsgate/siem-ca.pem
server_name = collector.example.net
connect_timeout = 2s
send_timeout = 3s
queue_capacity = 500
buffer_max_size = 64M
retry_min = 100ms
retry_max = 2m

[siem.archive]
type = file
path = /var/log/tlsgate/events.json
rotate_size = 1M
rotate_keep = 2
buffer_dir = /srv/siem-archive
)"));
    ASSERT_TRUE(c.siem.enabled());
    const auto& d = c.siem.settings.destinations;
    ASSERT_EQ(d.size(), 3u);
    EXPECT_EQ(d[0].name, "soc");
    EXPECT_EQ(d[0].transport, siem::Transport::SyslogTls);
    EXPECT_EQ(d[0].format, siem::RecordFormat::Cef);
    EXPECT_EQ(d[0].host, "siem.example.net");
    EXPECT_EQ(siem::effectivePort(d[0]), 6514);
    EXPECT_EQ(d[0].caFile, "/etc/tlsgate/siem-ca.pem");
    EXPECT_EQ(d[0].serverName, "collector.example.net");
    EXPECT_EQ(d[0].connectTimeout, std::chrono::seconds(2));
    EXPECT_EQ(d[0].sendTimeout, std::chrono::seconds(3));
    EXPECT_EQ(d[0].queueCapacity, 500u);
    EXPECT_EQ(d[0].bufferDir, "/srv/tg/siem/soc");  // the default, under the state directory
    EXPECT_EQ(d[0].bufferMaxBytes, 64ULL << 20);
    EXPECT_EQ(d[0].retryMin, std::chrono::milliseconds(100));
    EXPECT_EQ(d[0].retryMax, std::chrono::minutes(2));
    EXPECT_EQ(d[1].name, "lake");
    EXPECT_EQ(d[1].transport, siem::Transport::Kafka);
    EXPECT_EQ(d[1].format, siem::RecordFormat::Ocsf);
    EXPECT_EQ(d[1].brokers, "k1.example.net:9093,k2.example.net:9093");
    EXPECT_EQ(d[1].topic, "tlsgate-events");
    EXPECT_EQ(d[1].kafkaProperties,
              (std::vector<std::pair<std::string, std::string>>{
                  {"sasl.mechanism", "SCRAM-SHA-512"}, {"security.protocol", "SASL_SSL"}}));
    EXPECT_EQ(d[1].bufferDir, "");  // set empty: memory only
    EXPECT_EQ(d[2].name, "archive");
    EXPECT_EQ(d[2].transport, siem::Transport::File);
    EXPECT_EQ(d[2].format, siem::RecordFormat::Ecs);
    EXPECT_EQ(d[2].path, "/var/log/tlsgate/events.json");
    EXPECT_EQ(d[2].rotateBytes, 1ULL << 20);
    EXPECT_EQ(d[2].keepFiles, 2);
    EXPECT_EQ(d[2].bufferDir, "/srv/siem-archive");
    const auto& context = c.siem.settings.context;
    EXPECT_EQ(context.observerHost, "gw1.example.net");
    EXPECT_EQ(context.appName, "tlsgw");
    EXPECT_EQ(context.facility, siem::SyslogFacility::Local3);
    EXPECT_EQ(context.enterpriseNumber, 99999u);
    EXPECT_EQ(context.leefDelimiter, '^');
    EXPECT_EQ(c.siem.stopTimeout, std::chrono::milliseconds(1500));
}

TEST_F(ConfigTest, SiemRefusalsNameFileKeyAndValue) {
    const std::string tcp = "[siem]\ndestinations = soc\n[siem.soc]\ntype = syslog-tcp\nhost = h\n";
    ASSERT_EQ(errorFor(tcp), "");
    // A section for a name that destinations does not list, even an empty one.
    EXPECT_EQ(errorFor(tcp + "[siem.other]\n"),
              file_ +
                  ": [siem.other]: unknown section (siem.destinations does not name \"other\"; "
                  "it names: soc)");
    EXPECT_EQ(errorFor("[siem.soc]\ntype = file\n"),
              file_ +
                  ": [siem.soc]: unknown section (siem.destinations does not name \"soc\"; it "
                  "is empty)");
    // A listed name without a section (or without type).
    EXPECT_EQ(errorFor("[siem]\ndestinations = soc, lake\n[siem.soc]\ntype = syslog-tcp\nhost = "
                       "h\n[siem.lake]\ntopic = t\n"),
              file_ +
                  ": siem.destinations = soc, lake: expected a [siem.NAME] section setting type "
                  "for each name ([siem.lake] does not)");
    EXPECT_EQ(errorFor("[siem]\ndestinations = soc, soc\n"),
              file_ +
                  ": siem.destinations = soc, soc: expected a comma-separated list of distinct "
                  "destination names of letters, digits, '-' and '_' (\"soc\" is not one)");
    EXPECT_EQ(errorFor("[siem]\ndestinations = a b\n"),
              file_ +
                  ": siem.destinations = a b: expected a comma-separated list of distinct "
                  "destination names of letters, digits, '-' and '_' (\"a b\" is not one)");
    // Unknown keys name the known ones; kafka.* passes anything through.
    EXPECT_EQ(errorFor(tcp + "prot = 514\n"),
              file_ +
                  ": siem.soc.prot: unknown key (known keys in [siem.soc]: type, format, host, "
                  "port, ca_file, server_name, client_cert_file, client_key_file, "
                  "connect_timeout, send_timeout, brokers, topic, kafka.*, path, rotate_size, "
                  "rotate_keep, queue_capacity, buffer_dir, buffer_max_size, retry_min, "
                  "retry_max)");
    EXPECT_EQ(errorFor("[siem]\nfacilty = mail\n"),
              file_ +
                  ": siem.facilty: unknown key (known keys in [siem]: destinations, host_name, "
                  "app_name, facility, enterprise_number, leef_delimiter, stop_timeout)");
    EXPECT_EQ(errorFor(tcp + "port = 5514\nPort = 514\n"),
              file_ + ": siem.soc.port: set twice (lines 6 and 7)");
    // Bad values, in the siem library's words, prefixed with the file and the whole key.
    EXPECT_EQ(errorFor(tcp + "port = 70000\n"),
              file_ + ": siem.soc.port = 70000: expected a whole number up to 65535");
    EXPECT_EQ(errorFor(tcp + "format = xml\n"),
              file_ + ": siem.soc.format = xml: expected ecs (or json), ocsf, cef, leef or text");
    EXPECT_EQ(errorFor("[siem]\ndestinations = soc\n[siem.soc]\ntype = syslog\n"),
              file_ +
                  ": siem.soc.type = syslog: expected syslog-udp, syslog-tcp, syslog-tls, kafka "
                  "or file");
    EXPECT_EQ(errorFor(tcp + "retry_min = soon\n"),
              file_ +
                  ": siem.soc.retry_min = soon: expected a duration such as 500ms, 5s or 2m (at "
                  "most a day)");
    EXPECT_EQ(errorFor(tcp + "buffer_dir = spool/siem\n"),
              file_ +
                  ": siem.soc.buffer_dir = spool/siem: expected an absolute directory path "
                  "(starting with /), or nothing for no disk buffer");
    // Rules within a destination and between destinations (validateSettings).
    EXPECT_EQ(errorFor("[siem]\ndestinations = soc\n[siem.soc]\ntype = syslog-tls\nhost = h\n"),
              file_ +
                  ": siem.soc: ca_file is required for syslog-tls (the receiver's certificate is "
                  "verified)");
    EXPECT_EQ(errorFor("[siem]\ndestinations = k\n[siem.k]\ntype = kafka\nbrokers = b:9092\n"
                       "topic = t\nformat = cef\n"),
              file_ + ": siem.k: format = cef: kafka carries ecs or ocsf");
    EXPECT_EQ(errorFor("[siem]\ndestinations = k\n[siem.k]\ntype = kafka\nbrokers = b:9092\n"
                       "topic = t\nkafka.acks = 1\n"),
              file_ + ": siem.k: kafka.acks = 1: set by tlsgate, not configurable");
    EXPECT_EQ(errorFor("[siem]\ndestinations = a, b\n[siem.a]\ntype = syslog-udp\nhost = h\n"
                       "buffer_dir = /b\n[siem.b]\ntype = syslog-udp\nhost = h\nbuffer_dir = /b\n"),
              file_ + ": siem.b: buffer_dir = /b: shared with another destination");
    // The [siem] keys.
    EXPECT_EQ(errorFor("[siem]\nfacility = mailer\n"),
              file_ +
                  ": siem.facility = mailer: expected a syslog facility name: kern, user, mail, "
                  "daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, audit, alert, "
                  "clock, local0 to local7");
    EXPECT_EQ(errorFor("[siem]\nhost_name = gw 1\n"),
              file_ +
                  ": siem.host_name = gw 1: expected a DNS name or an IP address, or nothing for "
                  "gateway.hostname");
    EXPECT_EQ(errorFor("[siem]\napp_name = tls gate\n"),
              file_ +
                  ": siem.app_name = tls gate: expected 1 to 48 printable ASCII characters "
                  "without spaces (RFC 5424 APP-NAME)");
    EXPECT_EQ(errorFor("[siem]\nenterprise_number = 0\n"),
              file_ +
                  ": siem.enterprise_number = 0: expected an IANA private enterprise number (a "
                  "whole number between 1 and 2147483647)");
    for (const char* bad : {"|", "a", "-"}) {
        EXPECT_EQ(errorFor(std::string("[siem]\nleef_delimiter = ") + bad + "\n"),
                  file_ + ": siem.leef_delimiter = " + bad +
                      ": expected tab or one printable ASCII character that is not a letter, a "
                      "digit, '=', '|', '-', ':', '.', '\'' or '_' (e.g. ^)")
            << bad;
    }
    EXPECT_EQ(errorFor("[siem]\nstop_timeout = 10\n"),
              file_ +
                  ": siem.stop_timeout = 10: expected a duration such as 500ms, 5s or 2m, at "
                  "most 300s");
    EXPECT_EQ(errorFor("[siem]\nstop_timeout = 6m\n"),
              file_ +
                  ": siem.stop_timeout = 6m: expected a duration such as 500ms, 5s or 2m, at "
                  "most 300s");
    EXPECT_EQ(loadConfig(write("[siem]\nstop_timeout = 0s\nhost_name = 192.0.2.1\n"))
                  .siem.settings.context.observerHost,
              "192.0.2.1");
}

TEST(ConfigNames, SiemDestinationKeysAreTheSiemLibrarys) {
    // The structure check's list and applyDestinationKey agree: every listed key is one the
    // siem library knows (its refusal of an empty value is about the value, not the key).
    for (const auto key : siemDestinationKeyNames()) {
        const std::string name = key == "kafka.*" ? "kafka.linger.ms" : std::string(key);
        siem::DestinationSettings d;
        try {
            siem::applyDestinationKey(d, name, "");
        } catch (const std::invalid_argument& e) {
            EXPECT_EQ(std::string(e.what()).find("unknown key"), std::string::npos) << e.what();
        }
    }
    siem::DestinationSettings d;
    EXPECT_THROW(siem::applyDestinationKey(d, "prot", "1"), std::invalid_argument);
}

TEST(ConfigNames, TokensAndProductWords) {
    EXPECT_EQ(toString(ReceiveTlsLevel::NoTls), "none");
    EXPECT_EQ(toString(ReceiveTlsLevel::Require), "require");
    EXPECT_EQ(displayName(ReceiveTlsLevel::NoTls), "No TLS Encryption");
    EXPECT_EQ(displayName(ReceiveTlsLevel::Attempt), "Attempt TLS Encryption");
    EXPECT_EQ(displayName(ReceiveTlsLevel::Require), "Require TLS Encryption");
    EXPECT_EQ(toString(ClientCertMode::DoNotRequest), "do-not-request");
    EXPECT_EQ(displayName(ClientCertMode::Request), "Request Client Certificate");
    EXPECT_EQ(toString(SendTlsLevel::RequireNoVerify), "require-no-verify");
    EXPECT_EQ(toString(SendTlsLevel::RequireVerify), "require-verify");
    EXPECT_EQ(displayName(SendTlsLevel::RequireVerify),
              "Require TLS Encryption and Verify Certificate");
}

}  // namespace
}  // namespace tlsgate::gateway
