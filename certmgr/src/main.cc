// `certmgr`: the command line over the certificate store. A thin main: options through
// Poco::Util, everything else in tlsgate_certmgr. Errors print one "certmgr: ..." line on stderr;
// exit 0 success, 1 refused or failed, 64 usage, 78 configuration (`check`: 0, 1, 2, 3 on error).
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Util/Application.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionException.h>
#include <Poco/Util/OptionSet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "tlsgate/certmgr/certificate.h"
#include "tlsgate/certmgr/generate.h"
#include "tlsgate/certmgr/import.h"
#include "tlsgate/certmgr/store.h"
#include "tlsgate/gateway/config.h"

namespace {

using namespace tlsgate::certmgr;
using Poco::Util::Application;
using Poco::Util::Option;
using Poco::Util::OptionSet;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 64;
constexpr int kExitConfig = 78;

/// A usage error: wrong arguments for a command.
class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct CommandSpec {
    std::string name;
    std::string synopsis;
    std::set<std::string> options;  ///< command-specific options it accepts
    std::size_t minArgs;
    std::size_t maxArgs;
};

const std::vector<CommandSpec>& commands() {
    static const std::vector<CommandSpec> kCommands = {
        {"init", "init [--hostname NAME]", {"hostname"}, 0, 0},
        {"import",
         "import --cert FILE [--key FILE] [--chain FILE] | --pkcs12 FILE  [--password-file FILE] "
         "[--role server|client] [--activate]",
         {"cert", "key", "chain", "pkcs12", "password-file", "role", "activate"},
         0,
         0},
        {"list", "list [--json]", {"json"}, 0, 0},
        {"show", "show ID [--json]", {"json"}, 1, 1},
        {"activate", "activate ID --role server|client", {"role"}, 1, 1},
        {"export", "export ID [--out FILE] [--with-key]", {"out", "with-key"}, 1, 1},
        {"remove", "remove ID", {}, 1, 1},
        {"generate",
         "generate [--key-type ecdsa|ecdsa-p384|rsa|rsa3072|rsa4096] [--days N] [--name DNS]... "
         "[--activate] [--role server|client]",
         {"key-type", "days", "name", "activate", "role"},
         0,
         0},
        {"tlsa", "tlsa ID [--port N] [--hostname NAME]", {"port", "hostname"}, 1, 1},
        {"check", "check", {}, 0, 0},
        {"ca", "ca add FILE | ca list [--json] | ca remove ID", {"json"}, 1, 2},
    };
    return kCommands;
}

std::string readWholeFile(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw std::runtime_error(file + ": cannot read: " + std::strerror(errno));
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

/// Reads a password without echo from a terminal, or one line from a pipe.
std::string readPasswordFromStdin(const std::string& what) {
    bool terminal = ::isatty(STDIN_FILENO) != 0;
    termios saved{};
    if (terminal) {
        std::cerr << "Password for " << what << ": " << std::flush;
        ::tcgetattr(STDIN_FILENO, &saved);
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string line;
    bool got = static_cast<bool>(std::getline(std::cin, line));
    if (terminal) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        std::cerr << '\n';
    }
    if (!got) {
        throw std::runtime_error("a password is needed for " + what +
                                 ": give --password-file FILE or write it on standard input");
    }
    if (!line.empty() && line.back() == '\r') {
        line.pop_back();
    }
    return line;
}

Poco::JSON::Object::Ptr certificateJson(const StoredCertificate& c, tlsgate::TimePoint now,
                                        int warningWindow) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    const CertificateInfo& i = c.info;
    o->set("id", c.id);
    o->set("subject", i.subject);
    o->set("issuer", i.issuer);
    o->set("serial", i.serial);
    o->set("not_before", formatTime(i.notBefore));
    o->set("not_after", formatTime(i.notAfter));
    o->set("days_left", daysLeft(i.notAfter, now));
    o->set("key_type", i.keyDescription());
    o->set("key_bits", i.keyBits);
    o->set("signature_algorithm", i.signatureAlgorithm);
    o->set("sha256_fingerprint", i.sha256Fingerprint);
    o->set("sha1_fingerprint", i.sha1Fingerprint);
    o->set("spki_sha256", i.spkiSha256Base64);
    Poco::JSON::Array roles;
    for (Role r : c.roles) {
        roles.add(std::string(toString(r)));
    }
    o->set("roles", roles);
    o->set("status", std::string(toString(statusAt(i, now, warningWindow))));
    o->set("origin", c.origin);
    Poco::JSON::Array names;
    for (const auto& n : i.dnsNames) {
        names.add(n);
    }
    o->set("dns_names", names);
    Poco::JSON::Array ips;
    for (const auto& n : i.ipAddresses) {
        ips.add(n);
    }
    o->set("ip_addresses", ips);
    o->set("chain_length", c.chainLength);
    o->set("added", formatTime(c.added));
    return o;
}

std::string rolesText(const std::vector<Role>& roles) {
    std::string out;
    for (Role r : roles) {
        out += (out.empty() ? "" : ", ") + std::string(toString(r));
    }
    return out.empty() ? "-" : out;
}

class CertmgrApp : public Application {
  public:
    CertmgrApp() { setUnixOptions(true); }

  protected:
    void defineOptions(OptionSet& options) override {
        Application::defineOptions(options);
        auto add = [&](const char* full, const char* shortName, const char* help,
                       const char* argument = nullptr, bool repeatable = false) {
            Option option(full, shortName, help);
            option.required(false).repeatable(repeatable);
            if (argument != nullptr) {
                option.argument(argument);
            }
            options.addOption(option);
        };
        add("help", "h", "print this help");
        add("store", "", "certificate store directory (overrides the configuration)", "DIR");
        add("config", "c", "configuration file (default /etc/tlsgate/tlsgate.conf if present)",
            "FILE");
        add("json", "", "print JSON");
        add("hostname", "", "host name for the default certificate or the TLSA owner", "NAME");
        add("cert", "", "PEM file with the certificate (and possibly chain and key)", "FILE");
        add("key", "", "PEM file with the private key", "FILE");
        add("chain", "", "PEM file with the intermediate certificates", "FILE");
        add("pkcs12", "", "PKCS#12 file with certificate, chain and key", "FILE");
        add("password-file", "", "read the key or PKCS#12 password from FILE", "FILE");
        add("role", "", "server or client", "ROLE");
        add("activate", "", "activate after import or generation");
        add("out", "", "write to FILE instead of standard output", "FILE");
        add("with-key", "", "export the private key too (only with --out; file made 0600)");
        add("key-type", "", "ecdsa, ecdsa-p384, rsa, rsa3072 or rsa4096", "TYPE");
        add("days", "", "validity in days", "N");
        add("name", "", "DNS name (repeatable; the first is the CN)", "DNS", true);
        add("port", "", "port of the TLSA owner name (default 25)", "N");
    }

  public:
    /// Whether `--name` is an option's full name. Poco also accepts unique prefixes ("--pass"
    /// for --password-file); certmgr does not, so a mistyped option never means another one.
    bool isFullOptionName(const std::string& name) {
        OptionSet all;
        defineOptions(all);
        return std::any_of(all.begin(), all.end(),
                           [&](const Option& o) { return o.fullName() == name; });
    }

  protected:
    void handleOption(const std::string& name, const std::string& value) override {
        Application::handleOption(name, value);
        values_.emplace(name, value);
    }

    int main(const std::vector<std::string>& args) override {
        if (has("help") || args.empty()) {
            printHelp();
            return args.empty() && !has("help") ? kExitUsage : 0;
        }
        try {
            return dispatch(args);
        } catch (const UsageError& e) {
            std::cerr << "certmgr: " << e.what() << "\n(see certmgr --help)\n";
            return kExitUsage;
        } catch (const tlsgate::gateway::ConfigError& e) {
            std::cerr << "certmgr: " << e.what() << '\n';
            return kExitConfig;
        } catch (const std::exception& e) {
            std::cerr << "certmgr: " << e.what() << '\n';
            return args.front() == "check" ? 3 : kExitFailed;
        }
    }

  private:
    bool has(const std::string& name) const { return values_.count(name) != 0; }
    std::string value(const std::string& name) const {
        auto it = values_.find(name);
        return it == values_.end() ? std::string{} : it->second;
    }
    std::vector<std::string> allValues(const std::string& name) const {
        std::vector<std::string> out;
        auto [begin, end] = values_.equal_range(name);
        for (auto it = begin; it != end; ++it) {
            out.push_back(it->second);
        }
        return out;
    }
    int intValue(const std::string& name, int min, int max) const {
        std::string text = value(name);
        try {
            std::size_t used = 0;
            int n = std::stoi(text, &used);
            if (used == text.size() && n >= min && n <= max) {
                return n;
            }
        } catch (const std::exception&) {
        }
        throw UsageError("--" + name + " " + text + ": expected a whole number from " +
                         std::to_string(min) + " to " + std::to_string(max));
    }
    Role roleValue(Role fallback) const {
        if (!has("role")) {
            return fallback;
        }
        try {
            return parseRole(value("role"));
        } catch (const std::invalid_argument& e) {
            throw UsageError(std::string("--role: ") + e.what());
        }
    }

    void printHelp() {
        Poco::Util::HelpFormatter help(options());
        help.setUnixStyle(true);
        help.setCommand("certmgr");
        help.setUsage("[--store DIR] [--config FILE] COMMAND [ARGS]");
        std::string header = "tlsgate certificate manager. Commands:\n";
        for (const auto& c : commands()) {
            header += "  " + c.synopsis + "\n";
        }
        header += "ID is a store id or a unique SHA-256 fingerprint prefix (4 hex digits or more).";
        help.setHeader(header);
        help.setFooter(
            "Exit status: 0 success, 1 refused or failed, 64 usage error, 78 bad configuration; "
            "check: 0 all valid, 1 a certificate is inside the warning window, 2 one is expired "
            "or not yet valid, 3 error.");
        help.format(std::cout);
    }

    int dispatch(const std::vector<std::string>& args) {
        const std::string& name = args.front();
        auto spec = std::find_if(commands().begin(), commands().end(),
                                 [&](const CommandSpec& c) { return c.name == name; });
        if (spec == commands().end()) {
            throw UsageError("unknown command '" + name + "'");
        }
        std::vector<std::string> operands(args.begin() + 1, args.end());
        if (operands.size() < spec->minArgs || operands.size() > spec->maxArgs) {
            throw UsageError("usage: certmgr " + spec->synopsis);
        }
        for (const auto& [option, unused] : values_) {
            bool global = option == "store" || option == "config" || option == "help";
            if (!global && spec->options.count(option) == 0) {
                throw UsageError("--" + option + " does not apply to '" + name +
                                 "' (usage: certmgr " + spec->synopsis + ")");
            }
        }
        std::optional<std::string> configFile;
        if (has("config")) {
            configFile = value("config");
        }
        config_ = tlsgate::gateway::loadDefaultOrFile(configFile);
        StoreOptions options = tlsgate::gateway::storeOptions(config_);
        if (has("store")) {
            options.directory = value("store");
        }
        if (name == "init" && has("hostname")) {
            options.hostname = value("hostname");
        }
        Store store(options);

        if (name == "init")
            return initCommand(store);
        if (name == "import")
            return importCommand(store);
        if (name == "list")
            return list(store);
        if (name == "show")
            return show(store, operands[0]);
        if (name == "activate")
            return activate(store, operands[0]);
        if (name == "export")
            return exportCommand(store, operands[0]);
        if (name == "remove")
            return remove(store, operands[0]);
        if (name == "generate")
            return generate(store);
        if (name == "tlsa")
            return tlsa(store, operands[0]);
        if (name == "check")
            return check(store);
        return ca(store, operands);
    }

    static void printCreated(const StoredCertificate& c, const char* verb) {
        std::cout << verb << ' ' << c.id << ": " << c.info.keyDescription() << ' ' << c.info.subject
                  << " SHA-256 " << c.info.sha256Fingerprint << " not after "
                  << formatTime(c.info.notAfter) << " roles " << rolesText(c.roles) << '\n';
    }

    int initCommand(Store& store) {
        auto created = store.ensureDefault();
        if (created.empty()) {
            std::cout << "nothing to do: a server certificate is already active in "
                      << store.options().directory.string() << '\n';
        }
        for (const auto& c : created) {
            printCreated(c, "created");
        }
        return 0;
    }

    int importCommand(Store& store) {
        ImportRequest request;
        if (has("pkcs12")) {
            if (has("cert") || has("key") || has("chain")) {
                throw UsageError("--pkcs12 excludes --cert, --key and --chain");
            }
            request.pkcs12File = value("pkcs12");
        } else if (has("cert")) {
            request.certFile = value("cert");
            if (has("key"))
                request.keyFile = value("key");
            if (has("chain"))
                request.chainFile = value("chain");
        } else {
            throw UsageError("import needs --cert FILE or --pkcs12 FILE");
        }
        std::optional<std::string> password;
        // Warnings name the certificate (or PKCS#12) file; the password prompt the file it opens.
        const std::string source = request.pkcs12File.value_or(request.certFile.value_or(""));
        const std::string secretFile =
            request.pkcs12File.value_or(request.keyFile.value_or(source));
        request.password = [&]() {
            if (!password) {
                password = has("password-file") ? readFirstLine(value("password-file"))
                                                : readPasswordFromStdin(secretFile);
            }
            return *password;
        };
        request.role = roleValue(Role::Server);
        request.hostname = store.options().hostname;
        request.warningDays = store.options().warningWindow();
        request.now = store.clock().now();
        X509StorePtr trust = store.trustStore();
        request.trust = trust.get();
        ImportedMaterial material = loadForImport(request);
        for (const auto& warning : material.warnings) {
            std::cerr << "certmgr: warning: " << source << ": " << warning << '\n';
        }
        auto stored = store.import(std::move(material), request.role, has("activate"));
        printCreated(stored, "imported");
        return 0;
    }

    static std::string readFirstLine(const std::string& file) {
        std::string text = readWholeFile(file);
        std::string line = text.substr(0, text.find('\n'));
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        return line;
    }

    int list(Store& store) {
        auto now = store.clock().now();
        int window = store.options().warningWindow();
        auto certs = store.list();
        if (has("json")) {
            Poco::JSON::Array array;
            for (const auto& c : certs) {
                array.add(certificateJson(c, now, window));
            }
            array.stringify(std::cout, 2);
            std::cout << '\n';
            return 0;
        }
        std::cout << std::left << std::setw(4) << "ID" << std::setw(15) << "ROLES" << std::setw(15)
                  << "STATUS" << std::setw(6) << "DAYS" << std::setw(10) << "KEY" << std::setw(22)
                  << "NOT AFTER" << std::setw(25) << "SHA-256 (PREFIX)"
                  << "SUBJECT\n";
        for (const auto& c : certs) {
            std::cout << std::setw(4) << c.id << std::setw(15) << rolesText(c.roles)
                      << std::setw(15) << toString(statusAt(c.info, now, window)) << std::setw(6)
                      << daysLeft(c.info.notAfter, now) << std::setw(10) << c.info.keyDescription()
                      << std::setw(22) << formatTime(c.info.notAfter) << std::setw(25)
                      << c.info.sha256Fingerprint.substr(0, 23) << c.info.subject << '\n';
        }
        if (certs.empty()) {
            std::cout << "(no certificates in " << store.options().directory.string() << ")\n";
        }
        return 0;
    }

    int show(Store& store, const std::string& ref) {
        auto now = store.clock().now();
        StoredCertificate c = store.get(ref);
        if (has("json")) {
            certificateJson(c, now, store.options().warningWindow())->stringify(std::cout, 2);
            std::cout << '\n';
            return 0;
        }
        const CertificateInfo& i = c.info;
        std::string names;
        for (const auto& n : i.dnsNames)
            names += (names.empty() ? "DNS:" : ", DNS:") + n;
        for (const auto& n : i.ipAddresses)
            names += (names.empty() ? "IP:" : ", IP:") + n;
        std::vector<std::pair<std::string, std::string>> rows = {
            {"ID", c.id},
            {"Subject", i.subject},
            {"Issuer", i.issuer},
            {"Serial", i.serial},
            {"Not before", formatTime(i.notBefore)},
            {"Not after", formatTime(i.notAfter)},
            {"Days left", std::to_string(daysLeft(i.notAfter, now))},
            {"Subject alt names", names.empty() ? "-" : names},
            {"Key", i.keyDescription()},
            {"Signature algorithm", i.signatureAlgorithm},
            {"SHA-256 fingerprint", i.sha256Fingerprint},
            {"SHA-1 fingerprint", i.sha1Fingerprint},
            {"SPKI SHA-256 pin", i.spkiSha256Base64},
            {"Roles", rolesText(c.roles)},
            {"Status", std::string(toString(statusAt(i, now, store.options().warningWindow())))},
            {"Origin", c.origin},
            {"Chain length", std::to_string(c.chainLength)},
        };
        for (const auto& [label, text] : rows) {
            std::cout << std::left << std::setw(21) << (label + ":") << text << '\n';
        }
        return 0;
    }

    int activate(Store& store, const std::string& ref) {
        if (!has("role")) {
            throw UsageError("activate needs --role server|client");
        }
        Role role = roleValue(Role::Server);
        store.activate(ref, role);
        StoredCertificate c = store.get(ref);
        std::cout << "certificate " << c.id << " (" << c.info.subject << ") is active in the "
                  << toString(role) << " role\n";
        return 0;
    }

    int exportCommand(Store& store, const std::string& ref) {
        std::string pem = store.chainPem(ref);
        if (has("with-key") && !has("out")) {
            throw UsageError(
                "refusing to write a private key to standard output: give --out FILE (it is "
                "created with mode 0600)");
        }
        if (!has("out")) {
            std::cout << pem;
            return 0;
        }
        std::string file = value("out");
        mode_t mode = has("with-key") ? 0600 : 0644;
        int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0) {
            throw std::runtime_error(file + ": cannot create: " + std::strerror(errno) +
                                     (errno == EEXIST ? " (refusing to overwrite)" : ""));
        }
        if (has("with-key")) {
            pem += store.keyPem(ref);
        }
        bool ok = ::fchmod(fd, mode) == 0;
        std::size_t done = 0;
        while (ok && done < pem.size()) {
            ssize_t n = ::write(fd, pem.data() + done, pem.size() - done);
            ok = n > 0;
            done += ok ? static_cast<std::size_t>(n) : 0;
        }
        ok = ::fsync(fd) == 0 && ok;
        ok = ::close(fd) == 0 && ok;
        if (!ok) {
            ::unlink(file.c_str());
            throw std::runtime_error(file + ": cannot write: " + std::strerror(errno));
        }
        std::cout << "exported certificate " << store.get(ref).id << " to " << file
                  << (has("with-key") ? " with its private key (mode 0600)" : "") << '\n';
        return 0;
    }

    int remove(Store& store, const std::string& ref) {
        StoredCertificate c = store.remove(ref);
        std::cout << "removed certificate " << c.id << " (" << c.info.subject << ", SHA-256 "
                  << c.info.sha256Fingerprint << ")\n";
        return 0;
    }

    int generate(Store& store) {
        KeyAlgorithm algorithm = KeyAlgorithm::EcdsaP256;
        if (has("key-type")) {
            try {
                algorithm = parseKeyAlgorithm(value("key-type"));
            } catch (const std::invalid_argument& e) {
                throw UsageError(std::string("--key-type: ") + e.what());
            }
        }
        int days = has("days") ? intValue("days", 1, 3650) : store.options().defaultValidityDays;
        std::vector<std::string> names = allValues("name");
        if (names.empty()) {
            names.push_back(store.options().hostname);
        }
        Role role = roleValue(Role::Server);
        ImportedMaterial material;
        material.key = generateKey(algorithm);
        material.leaf = makeSelfSigned(*material.key, {names, store.clock().now(), days});
        auto stored = store.import(std::move(material), role, has("activate"), "generated");
        printCreated(stored, "generated");
        return 0;
    }

    int tlsa(Store& store, const std::string& ref) {
        int port = has("port") ? intValue("port", 1, 65535) : 25;
        std::string host = has("hostname") ? value("hostname") : store.options().hostname;
        StoredCertificate c = store.get(ref);
        std::cout << "_" << port << "._tcp." << host << ". IN TLSA 3 1 1 " << c.info.spkiSha256Hex
                  << '\n';
        return 0;
    }

    int check(Store& store) {
        auto now = store.clock().now();
        int window = store.options().warningWindow();
        int worst = 0;
        for (const auto& c : store.list()) {
            CertificateStatus status = statusAt(c.info, now, window);
            int rank = status == CertificateStatus::Valid      ? 0
                       : status == CertificateStatus::Expiring ? 1
                                                               : 2;
            worst = std::max(worst, rank);
            std::cout << "certificate " << c.id << ": " << toString(status) << ", "
                      << daysLeft(c.info.notAfter, now) << " days left (not after "
                      << formatTime(c.info.notAfter) << ") " << c.info.subject << '\n';
        }
        return worst;
    }

    int ca(Store& store, const std::vector<std::string>& operands) {
        const std::string& verb = operands[0];
        if (verb == "add" && operands.size() == 2) {
            auto certs = parsePemCertificates(readWholeFile(operands[1]));
            if (certs.empty()) {
                throw std::runtime_error(operands[1] +
                                         ": no PEM certificate found (expected -----BEGIN "
                                         "CERTIFICATE-----)");
            }
            for (auto& cert : certs) {
                CertificateInfo info = inspect(*cert);
                if (!info.isCa) {
                    std::cerr << "certmgr: warning: " << operands[1] << ": " << info.subject
                              << " is not a CA certificate; it is trusted as itself only\n";
                }
                TrustAnchor anchor = store.addCa(*cert);
                std::cout << "added trust anchor " << anchor.id << ": " << info.subject
                          << " SHA-256 " << info.sha256Fingerprint << '\n';
            }
            return 0;
        }
        if (verb == "list" && operands.size() == 1) {
            auto anchors = store.listCas();
            if (has("json")) {
                Poco::JSON::Array array;
                for (const auto& a : anchors) {
                    Poco::JSON::Object::Ptr o =
                        new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
                    o->set("id", a.id);
                    o->set("subject", a.info.subject);
                    o->set("sha256_fingerprint", a.info.sha256Fingerprint);
                    o->set("not_after", formatTime(a.info.notAfter));
                    array.add(o);
                }
                array.stringify(std::cout, 2);
                std::cout << '\n';
                return 0;
            }
            for (const auto& a : anchors) {
                std::cout << a.id << "  " << formatTime(a.info.notAfter) << "  "
                          << a.info.sha256Fingerprint.substr(0, 23) << "  " << a.info.subject
                          << '\n';
            }
            if (anchors.empty()) {
                std::cout << "(no trust anchors in the store";
                std::cout << (store.options().useSystemCa ? "; the system CA bundle is used)\n"
                                                          : ")\n");
            }
            return 0;
        }
        if (verb == "remove" && operands.size() == 2) {
            TrustAnchor removed = store.removeCa(operands[1]);
            std::cout << "removed trust anchor " << removed.id << " (" << removed.info.subject
                      << ")\n";
            return 0;
        }
        throw UsageError("usage: certmgr ca add FILE | ca list [--json] | ca remove ID");
    }

    std::multimap<std::string, std::string> values_;
    tlsgate::gateway::GatewayConfig config_;
};

}  // namespace

int main(int argc, char** argv) {
    CertmgrApp app;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--") {
            break;
        }
        if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
            const std::string name = arg.substr(2, arg.find_first_of("=:") - 2);
            if (!app.isFullOptionName(name)) {
                std::cerr << "certmgr: unknown option --" << name << "\n(see certmgr --help)\n";
                return kExitUsage;
            }
        }
    }
    try {
        app.init(argc, argv);
    } catch (const Poco::Util::OptionException& e) {
        std::cerr << "certmgr: " << e.displayText() << "\n(see certmgr --help)\n";
        return kExitUsage;
    } catch (const Poco::Exception& e) {
        std::cerr << "certmgr: " << e.displayText() << '\n';
        return kExitFailed;
    }
    return app.run();
}
