// The certificate store on disk. Layout under the store directory:
//   manifest.json   the commit point: ids, roles, file names, expiry notices, the event journal
//   certs/<file>    chains as PEM, leaf first        keys/<file>  private keys, 0600
//   ca/<file>       trust anchors                     .lock        flock() target
// A change writes new files under fresh names (temporary name, fsync, rename, directory fsync),
// then the manifest the same way; files no manifest names are removed afterwards. A crash at any
// point leaves the old or the new manifest, each naming only complete files.
// Errors throw StoreError; refused material throws ImportError before anything is written.
#include "tlsgate/certmgr/store.h"

#include "tlsgate/common/durable_file.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>

namespace tlsgate::certmgr {

namespace fs = std::filesystem;

namespace {

constexpr const char* kManifest = "manifest.json";
constexpr std::size_t kJournalLimit = 256;
constexpr auto kLockTimeout = std::chrono::seconds(30);

std::string systemError(const std::string& what, const fs::path& p) {
    return p.string() + ": " + what + ": " + std::strerror(errno);
}

/// Writes `content` to `target` atomically with `mode` (see durable_file.h), as a StoreError.
void writeFileAtomic(const fs::path& target, std::string_view content, mode_t mode) {
    try {
        tlsgate::writeFileAtomic(target, content, mode);
    } catch (const std::system_error& e) {
        throw StoreError(e.what());
    }
}

std::string readFile(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        throw StoreError(p.string() + ": cannot read: " + std::strerror(errno));
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void makeDirectory(const fs::path& dir, mode_t mode) {
    if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
        throw StoreError(systemError("cannot create directory", dir));
    }
}

std::string joinIds(const std::vector<std::string>& ids) {
    std::string out;
    for (const auto& id : ids) {
        out += (out.empty() ? "" : ", ") + id;
    }
    return out;
}

struct CertEntry {
    std::string id;
    std::string chainFile;  ///< relative to the store
    std::string keyFile;
    std::string origin;
    std::string keyType;
    std::string sha256;  ///< colon form
    std::vector<Role> roles;
    TimePoint added;
    std::vector<int> noticed;  ///< warning thresholds already announced
    bool expiredNoticed = false;

    bool has(Role role) const { return std::find(roles.begin(), roles.end(), role) != roles.end(); }
};

struct CaEntry {
    std::string id;
    std::string file;
    std::string sha256;
    TimePoint added;
};

}  // namespace

struct detail::Manifest {
    std::uint64_t generation = 0;
    std::uint64_t nextId = 1;
    std::uint64_t nextCaId = 1;
    std::uint64_t journalSeq = 0;
    std::uint64_t publishedSeq = 0;
    std::vector<CertEntry> certs;
    std::vector<CaEntry> cas;
    std::vector<JournalEntry> journal;
    bool dirty = false;           ///< something to write
    bool contentChanged = false;  ///< certificates, roles or anchors changed: bump the generation

    void changed() {
        dirty = true;
        contentChanged = true;
    }

    void append(CertificateEvent event) {
        journal.push_back({++journalSeq, std::move(event)});
        if (journal.size() > kJournalLimit) {
            journal.erase(journal.begin());
        }
        dirty = true;
    }
};

// ---------------------------------------------------------------------------------------------
// Serialization

namespace {

Poco::JSON::Object::Ptr eventToJson(const JournalEntry& entry) {
    const CertificateEvent& e = entry.event;
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("seq", entry.seq);
    o->set("kind", std::string(toString(e.kind)));
    o->set("at", formatTime(e.at));
    o->set("cert_id", e.certId);
    o->set("subject", e.subject);
    o->set("sha256", e.sha256Fingerprint);
    o->set("not_after", formatTime(e.notAfter));
    o->set("days_left", e.daysLeft);
    if (e.thresholdDays) {
        o->set("threshold_days", *e.thresholdDays);
    }
    o->set("role", e.role);
    o->set("detail", e.detail);
    return o;
}

CertificateEventKind kindFromString(const std::string& text) {
    for (auto kind : {CertificateEventKind::Created, CertificateEventKind::Generated,
                      CertificateEventKind::Renewed, CertificateEventKind::Imported,
                      CertificateEventKind::Activated, CertificateEventKind::Deactivated,
                      CertificateEventKind::Removed, CertificateEventKind::Expiring,
                      CertificateEventKind::Expired, CertificateEventKind::CaAdded,
                      CertificateEventKind::CaRemoved}) {
        if (toString(kind) == text) {
            return kind;
        }
    }
    throw std::invalid_argument("unknown event kind '" + text + "'");
}

JournalEntry eventFromJson(const Poco::JSON::Object& o) {
    JournalEntry entry;
    entry.seq = o.getValue<std::uint64_t>("seq");
    CertificateEvent& e = entry.event;
    e.kind = kindFromString(o.getValue<std::string>("kind"));
    e.at = parseTime(o.getValue<std::string>("at"));
    e.certId = o.getValue<std::string>("cert_id");
    e.subject = o.getValue<std::string>("subject");
    e.sha256Fingerprint = o.getValue<std::string>("sha256");
    e.notAfter = parseTime(o.getValue<std::string>("not_after"));
    e.daysLeft = o.getValue<std::int64_t>("days_left");
    if (o.has("threshold_days")) {
        e.thresholdDays = o.getValue<int>("threshold_days");
    }
    e.role = o.getValue<std::string>("role");
    e.detail = o.getValue<std::string>("detail");
    return entry;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Locking

/// flock() on the store's lock file for the lifetime of the object, bounded wait.
class Store::Lock {
  public:
    Lock(const fs::path& directory, bool exclusive) : fd_(-1) {
        fs::path file = directory / ".lock";
        fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd_ < 0) {
            throw StoreError(systemError("cannot open lock file", file));
        }
        auto deadline = std::chrono::steady_clock::now() + kLockTimeout;
        while (::flock(fd_, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK && errno != EINTR) {
                ::close(fd_);
                throw StoreError(systemError("cannot lock", file));
            }
            if (std::chrono::steady_clock::now() > deadline) {
                ::close(fd_);
                throw StoreError(file.string() + ": still locked by another process after " +
                                 std::to_string(kLockTimeout.count()) + " s");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    ~Lock() { ::close(fd_); }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

  private:
    int fd_;
};

// ---------------------------------------------------------------------------------------------

int StoreOptions::warningWindow() const {
    return warningDays.empty() ? 0 : *std::max_element(warningDays.begin(), warningDays.end());
}

bool StoredCertificate::isActive(Role role) const {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
}

Store::Store(StoreOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {
    if (options_.directory.empty()) {
        throw StoreError("no certificate store directory configured");
    }
    if (options_.hostname.empty()) {
        options_.hostname = "localhost";
    }
}

fs::path Store::path(std::string_view relative) const {
    return options_.directory / relative;
}

detail::Manifest Store::readManifest() const {
    detail::Manifest m;
    fs::path file = path(kManifest);
    if (!fs::exists(file)) {
        return m;
    }
    std::string text = readFile(file);
    try {
        Poco::JSON::Parser parser;
        auto root = parser.parse(text).extract<Poco::JSON::Object::Ptr>();
        m.generation = root->getValue<std::uint64_t>("generation");
        m.nextId = root->getValue<std::uint64_t>("next_id");
        m.nextCaId = root->getValue<std::uint64_t>("next_ca_id");
        m.journalSeq = root->getValue<std::uint64_t>("journal_seq");
        m.publishedSeq = root->getValue<std::uint64_t>("published_seq");
        auto certs = root->getArray("certificates");
        for (std::size_t i = 0; certs && i < certs->size(); ++i) {
            auto o = certs->getObject(static_cast<unsigned>(i));
            CertEntry e;
            e.id = o->getValue<std::string>("id");
            e.chainFile = o->getValue<std::string>("chain_file");
            e.keyFile = o->getValue<std::string>("key_file");
            e.origin = o->getValue<std::string>("origin");
            e.keyType = o->getValue<std::string>("key_type");
            e.sha256 = o->getValue<std::string>("sha256");
            e.added = parseTime(o->getValue<std::string>("added"));
            auto roles = o->getArray("roles");
            for (std::size_t j = 0; roles && j < roles->size(); ++j) {
                e.roles.push_back(
                    parseRole(roles->getElement<std::string>(static_cast<unsigned>(j))));
            }
            auto noticed = o->getArray("noticed_days");
            for (std::size_t j = 0; noticed && j < noticed->size(); ++j) {
                e.noticed.push_back(noticed->getElement<int>(static_cast<unsigned>(j)));
            }
            e.expiredNoticed = o->getValue<bool>("expired_noticed");
            m.certs.push_back(std::move(e));
        }
        auto cas = root->getArray("trust_anchors");
        for (std::size_t i = 0; cas && i < cas->size(); ++i) {
            auto o = cas->getObject(static_cast<unsigned>(i));
            m.cas.push_back({o->getValue<std::string>("id"), o->getValue<std::string>("file"),
                             o->getValue<std::string>("sha256"),
                             parseTime(o->getValue<std::string>("added"))});
        }
        auto journal = root->getArray("journal");
        for (std::size_t i = 0; journal && i < journal->size(); ++i) {
            m.journal.push_back(eventFromJson(*journal->getObject(static_cast<unsigned>(i))));
        }
    } catch (const Poco::Exception& e) {
        throw StoreError(file.string() + ": unreadable manifest: " + e.displayText());
    } catch (const std::exception& e) {
        throw StoreError(file.string() + ": unreadable manifest: " + e.what());
    }
    return m;
}

void Store::writeManifest(detail::Manifest& m) {
    Poco::JSON::Object root;
    root.set("format", 1);
    root.set("generation", m.generation);
    root.set("next_id", m.nextId);
    root.set("next_ca_id", m.nextCaId);
    root.set("journal_seq", m.journalSeq);
    root.set("published_seq", m.publishedSeq);
    Poco::JSON::Array certs;
    for (const auto& e : m.certs) {
        Poco::JSON::Object o;
        o.set("id", e.id);
        o.set("chain_file", e.chainFile);
        o.set("key_file", e.keyFile);
        o.set("origin", e.origin);
        o.set("key_type", e.keyType);
        o.set("sha256", e.sha256);
        o.set("added", formatTime(e.added));
        Poco::JSON::Array roles;
        for (Role r : e.roles) {
            roles.add(std::string(toString(r)));
        }
        o.set("roles", roles);
        Poco::JSON::Array noticed;
        for (int d : e.noticed) {
            noticed.add(d);
        }
        o.set("noticed_days", noticed);
        o.set("expired_noticed", e.expiredNoticed);
        certs.add(o);
    }
    root.set("certificates", certs);
    Poco::JSON::Array cas;
    for (const auto& e : m.cas) {
        Poco::JSON::Object o;
        o.set("id", e.id);
        o.set("file", e.file);
        o.set("sha256", e.sha256);
        o.set("added", formatTime(e.added));
        cas.add(o);
    }
    root.set("trust_anchors", cas);
    Poco::JSON::Array journal;
    for (const auto& entry : m.journal) {
        journal.add(eventToJson(entry));
    }
    root.set("journal", journal);
    std::ostringstream out;
    root.stringify(out, 1);
    out << '\n';
    writeFileAtomic(path(kManifest), out.str(), 0600);
}

/// Runs `fn(manifest)` under the exclusive lock and commits the manifest when fn marked it
/// dirty; then removes files that no manifest names (leftovers of an interrupted change).
template <class Fn>
auto Store::mutate(Fn&& fn) {
    makeDirectory(options_.directory, 0700);
    for (const char* sub : {"certs", "keys", "ca"}) {
        makeDirectory(path(sub), 0700);
    }
    Lock lock(options_.directory, true);
    detail::Manifest m = readManifest();
    auto result = fn(m);
    if (m.dirty) {
        if (m.contentChanged) {
            ++m.generation;
        }
        writeManifest(m);
    }
    // Garbage: anything in certs/, keys/, ca/ the manifest does not name.
    std::vector<std::string> named;
    for (const auto& e : m.certs) {
        named.push_back(e.chainFile);
        named.push_back(e.keyFile);
    }
    for (const auto& e : m.cas) {
        named.push_back(e.file);
    }
    for (const char* sub : {"certs", "keys", "ca"}) {
        for (const auto& entry : fs::directory_iterator(path(sub))) {
            std::string relative = std::string(sub) + "/" + entry.path().filename().string();
            if (std::find(named.begin(), named.end(), relative) == named.end()) {
                std::error_code ignored;
                fs::remove(entry.path(), ignored);
            }
        }
    }
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator(options_.directory)) {
        if (entry.path().filename().string().rfind(std::string(kManifest) + ".tmp.", 0) == 0) {
            fs::remove(entry.path(), ignored);
        }
    }
    return result;
}

// ---------------------------------------------------------------------------------------------
// Reads

namespace {

StoredCertificate describe(const CertEntry& e, const std::string& chainPem) {
    auto chain = parsePemCertificates(chainPem);
    if (chain.empty()) {
        throw StoreError("certificate " + e.id + ": " + e.chainFile + " holds no certificate");
    }
    StoredCertificate out;
    out.id = e.id;
    out.info = inspect(*chain.front());
    out.roles = e.roles;
    out.origin = e.origin;
    out.added = e.added;
    out.chainLength = chain.size();
    return out;
}

const CertEntry& findEntry(const std::vector<CertEntry>& certs, std::string_view ref,
                           const fs::path& directory) {
    for (const auto& e : certs) {
        if (e.id == ref) {
            return e;
        }
    }
    std::string prefix = normalizeFingerprint(ref);
    bool hex = prefix.size() >= 4 && std::all_of(prefix.begin(), prefix.end(), [](char c) {
                   return std::isxdigit(static_cast<unsigned char>(c)) != 0;
               });
    std::vector<const CertEntry*> matches;
    if (hex) {
        for (const auto& e : certs) {
            if (normalizeFingerprint(e.sha256).rfind(prefix, 0) == 0) {
                matches.push_back(&e);
            }
        }
    }
    if (matches.empty()) {
        throw NotFoundError("no certificate with id or SHA-256 fingerprint prefix '" +
                            std::string(ref) + "' in " + directory.string());
    }
    if (matches.size() > 1) {
        std::vector<std::string> ids;
        for (const auto* e : matches) {
            ids.push_back(e->id);
        }
        throw StoreError("'" + std::string(ref) + "' is ambiguous: it matches certificates " +
                         joinIds(ids));
    }
    return *matches.front();
}

}  // namespace

std::vector<StoredCertificate> Store::list() const {
    if (!fs::exists(path(kManifest))) {
        return {};
    }
    Lock lock(options_.directory, false);
    detail::Manifest m = readManifest();
    std::vector<StoredCertificate> out;
    for (const auto& e : m.certs) {
        out.push_back(describe(e, readFile(path(e.chainFile))));
    }
    return out;
}

StoredCertificate Store::get(std::string_view ref) const {
    if (!fs::exists(path(kManifest))) {
        throw NotFoundError("no certificate '" + std::string(ref) + "': the store " +
                            options_.directory.string() + " is empty");
    }
    Lock lock(options_.directory, false);
    detail::Manifest m = readManifest();
    const CertEntry& e = findEntry(m.certs, ref, options_.directory);
    return describe(e, readFile(path(e.chainFile)));
}

std::string Store::chainPem(std::string_view ref) const {
    Lock lock(options_.directory, false);
    detail::Manifest m = readManifest();
    return readFile(path(findEntry(m.certs, ref, options_.directory).chainFile));
}

std::string Store::keyPem(std::string_view ref) const {
    Lock lock(options_.directory, false);
    detail::Manifest m = readManifest();
    return readFile(path(findEntry(m.certs, ref, options_.directory).keyFile));
}

namespace {
CertificateMaterial loadMaterial(const CertEntry& e, const fs::path& directory) {
    CertificateMaterial out;
    out.id = e.id;
    auto chain = parsePemCertificates(readFile(directory / e.chainFile));
    if (chain.empty()) {
        throw StoreError("certificate " + e.id + ": " + e.chainFile + " holds no certificate");
    }
    out.leaf = std::move(chain.front());
    for (std::size_t i = 1; i < chain.size(); ++i) {
        out.chain.push_back(std::move(chain[i]));
    }
    out.key = parsePemPrivateKey(readFile(directory / e.keyFile));
    return out;
}
}  // namespace

CertificateMaterial Store::material(std::string_view ref) const {
    Lock lock(options_.directory, false);
    detail::Manifest m = readManifest();
    return loadMaterial(findEntry(m.certs, ref, options_.directory), options_.directory);
}

std::vector<CertificateMaterial> Store::activeMaterial(Role role) const {
    std::vector<CertificateMaterial> out;
    if (!fs::exists(path(kManifest))) {
        return out;
    }
    Lock lock(options_.directory, false);
    detail::Manifest m = readManifest();
    for (const auto& e : m.certs) {
        if (e.has(role)) {
            out.push_back(loadMaterial(e, options_.directory));
        }
    }
    return out;
}

std::vector<TrustAnchor> Store::listCas() const {
    std::vector<TrustAnchor> out;
    if (!fs::exists(path(kManifest))) {
        return out;
    }
    Lock lock(options_.directory, false);
    detail::Manifest m = readManifest();
    for (const auto& e : m.cas) {
        auto certs = parsePemCertificates(readFile(path(e.file)));
        if (certs.empty()) {
            throw StoreError("trust anchor " + e.id + ": " + e.file + " holds no certificate");
        }
        out.push_back({e.id, inspect(*certs.front()), e.added});
    }
    return out;
}

X509StorePtr Store::trustStore() const {
    X509StorePtr store(X509_STORE_new());
    checkOpenssl(store != nullptr, "allocating a trust store");
    if (options_.useSystemCa) {
        checkOpenssl(X509_STORE_set_default_paths(store.get()) == 1, "loading the system CAs");
    }
    if (!fs::exists(path(kManifest))) {
        return store;
    }
    Lock lock(options_.directory, false);
    detail::Manifest m = readManifest();
    for (const auto& e : m.cas) {
        for (auto& cert : parsePemCertificates(readFile(path(e.file)))) {
            checkOpenssl(X509_STORE_add_cert(store.get(), cert.get()) == 1,
                         "adding trust anchor " + e.id);
        }
    }
    return store;
}

std::uint64_t Store::generation() const {
    if (!fs::exists(path(kManifest))) {
        return 0;
    }
    Lock lock(options_.directory, false);
    return readManifest().generation;
}

// ---------------------------------------------------------------------------------------------
// Changes

namespace {

CertificateEvent makeEvent(CertificateEventKind kind, const std::string& id,
                           const CertificateInfo& info, TimePoint now, std::string detail,
                           std::string role = {}) {
    CertificateEvent e;
    e.kind = kind;
    e.at = now;
    e.certId = id;
    e.subject = info.subject;
    e.sha256Fingerprint = info.sha256Fingerprint;
    e.notAfter = info.notAfter;
    e.daysLeft = daysLeft(info.notAfter, now);
    e.role = std::move(role);
    e.detail = std::move(detail);
    return e;
}

}  // namespace

namespace {

using detail::Manifest;

/// Writes a new entry's chain and key under fresh names and adds it to the manifest.
CertEntry& addEntry(Manifest& m, const fs::path& directory, X509& leaf,
                    const std::vector<X509Ptr>& chain, EVP_PKEY& key, const std::string& origin,
                    TimePoint now) {
    CertificateInfo info = inspect(leaf);
    for (const auto& e : m.certs) {
        if (e.sha256 == info.sha256Fingerprint) {
            throw StoreError("this certificate is already in the store as id " + e.id + " (" +
                             info.subject + ")");
        }
    }
    CertEntry e;
    e.id = std::to_string(m.nextId++);
    e.chainFile = "certs/" + e.id + "-" + std::to_string(m.generation + 1) + ".pem";
    e.keyFile = "keys/" + e.id + "-" + std::to_string(m.generation + 1) + ".key";
    std::string pem = toPem(leaf);
    for (const auto& cert : chain) {
        pem += toPem(*cert);
    }
    writeFileAtomic(directory / e.chainFile, pem, 0644);
    writeFileAtomic(directory / e.keyFile, privateKeyToPem(key), 0600);
    e.origin = origin;
    e.keyType = info.keyType;
    e.sha256 = info.sha256Fingerprint;
    e.added = now;
    m.certs.push_back(std::move(e));
    m.changed();
    return m.certs.back();
}

CertEntry& entryFor(Manifest& m, std::string_view ref, const fs::path& directory) {
    const CertEntry& found = findEntry(m.certs, ref, directory);
    return const_cast<CertEntry&>(found);  // findEntry returns an element of m.certs
}

CertificateInfo infoOf(const CertEntry& e, const fs::path& directory) {
    auto chain = parsePemCertificates(readFile(directory / e.chainFile));
    if (chain.empty()) {
        throw StoreError("certificate " + e.id + ": " + e.chainFile + " holds no certificate");
    }
    return inspect(*chain.front());
}

/// The names a certificate answers to: its subjectAltName DNS entries (lower case), else its CN.
std::set<std::string> namesOf(const CertificateInfo& info) {
    std::set<std::string> names;
    for (const auto& name : info.dnsNames) {
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        names.insert(lower);
    }
    if (names.empty() && !info.commonName.empty()) {
        names.insert(info.commonName);
    }
    return names;
}

/// Gives `target` the role and takes it from the certificates it replaces. Client role: there is
/// one. Server role: one per key type and name, so certificates for different names stay active
/// side by side (the handshake picks by SNI); the certificate of the same key type sharing a name
/// with `target` is replaced, and so is the self-signed default of that key type (an operator's
/// certificate supersedes it). Journals both sides.
void giveRole(Manifest& m, CertEntry& target, Role role, const fs::path& directory, TimePoint now) {
    if (target.has(role)) {
        return;
    }
    std::string roleName(toString(role));
    for (auto& other : m.certs) {
        if (&other == &target || !other.has(role)) {
            continue;
        }
        if (role == Role::Server) {
            if (other.keyType != target.keyType) {
                continue;
            }
            if (other.origin != "default") {
                const auto mine = namesOf(infoOf(target, directory));
                const auto theirs = namesOf(infoOf(other, directory));
                const bool shared = std::any_of(
                    mine.begin(), mine.end(), [&](const auto& n) { return theirs.count(n) != 0; });
                if (!shared) {
                    continue;  // another name: both serve, SNI decides
                }
            }
        }
        std::erase(other.roles, role);
        m.append(makeEvent(
            CertificateEventKind::Deactivated, other.id, infoOf(other, directory), now,
            "replaced by certificate " + target.id + " in the " + roleName + " role", roleName));
    }
    target.roles.push_back(role);
    m.changed();
    m.append(makeEvent(CertificateEventKind::Activated, target.id, infoOf(target, directory), now,
                       "active in the " + roleName + " role", roleName));
}

void checkUsableFor(const CertificateInfo& info, Role role, TimePoint now, const std::string& id) {
    const char* usage = role == Role::Server ? "serverAuth" : "clientAuth";
    if (!info.allowsExtendedKeyUsage(usage)) {
        throw StoreError("certificate " + id + " cannot take the " + std::string(toString(role)) +
                         " role: its extendedKeyUsage does not include " + usage);
    }
    if (now >= info.notAfter) {
        throw StoreError("certificate " + id + " cannot be activated: it expired on " +
                         formatTime(info.notAfter));
    }
}

}  // namespace

std::vector<StoredCertificate> Store::ensureDefault() {
    TimePoint now = clock_.now();
    return mutate([&](Manifest& m) {
        std::vector<StoredCertificate> created;
        bool haveServer = std::any_of(m.certs.begin(), m.certs.end(),
                                      [](const CertEntry& e) { return e.has(Role::Server); });
        if (haveServer) {
            return created;
        }
        SelfSignedSpec spec{{options_.hostname}, now, options_.defaultValidityDays};
        for (KeyAlgorithm algorithm : {KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048}) {
            EvpPkeyPtr key = generateKey(algorithm);
            X509Ptr cert = makeSelfSigned(*key, spec);
            CertEntry& e = addEntry(m, options_.directory, *cert, {}, *key, "default", now);
            CertificateInfo info = inspect(*cert);
            m.append(makeEvent(CertificateEventKind::Created, e.id, info, now,
                               "default self-signed " + info.keyDescription() + " certificate"));
            std::string id = e.id;  // e may move when giveRole's events grow nothing; keep by id
            giveRole(m, entryFor(m, id, options_.directory), Role::Server, options_.directory, now);
            bool haveClient = std::any_of(m.certs.begin(), m.certs.end(),
                                          [](const CertEntry& c) { return c.has(Role::Client); });
            if (algorithm == KeyAlgorithm::EcdsaP256 && !haveClient) {
                giveRole(m, entryFor(m, id, options_.directory), Role::Client, options_.directory,
                         now);
            }
            StoredCertificate stored;
            stored.id = id;
            stored.info = info;
            stored.roles = entryFor(m, id, options_.directory).roles;
            stored.origin = "default";
            stored.added = now;
            created.push_back(std::move(stored));
        }
        return created;
    });
}

StoredCertificate Store::import(ImportedMaterial material, Role role, bool activate,
                                std::string origin) {
    TimePoint now = clock_.now();
    CertificateInfo info = inspect(*material.leaf);
    if (activate) {
        checkUsableFor(info, role, now, "being imported");
    }
    return mutate([&](Manifest& m) {
        CertEntry& added = addEntry(m, options_.directory, *material.leaf, material.chain,
                                    *material.key, origin, now);
        std::string id = added.id;
        auto kind = origin == "generated" ? CertificateEventKind::Generated
                                          : CertificateEventKind::Imported;
        m.append(makeEvent(kind, id, info, now,
                           std::string(origin) + " " + info.keyDescription() + " certificate"));
        if (activate) {
            giveRole(m, entryFor(m, id, options_.directory), role, options_.directory, now);
        }
        StoredCertificate stored;
        stored.id = id;
        stored.info = info;
        stored.roles = entryFor(m, id, options_.directory).roles;
        stored.origin = origin;
        stored.added = now;
        stored.chainLength = 1 + material.chain.size();
        return stored;
    });
}

void Store::activate(std::string_view ref, Role role) {
    TimePoint now = clock_.now();
    mutate([&](Manifest& m) {
        CertEntry& e = entryFor(m, ref, options_.directory);
        checkUsableFor(infoOf(e, options_.directory), role, now, e.id);
        giveRole(m, e, role, options_.directory, now);
        return 0;
    });
}

StoredCertificate Store::remove(std::string_view ref) {
    TimePoint now = clock_.now();
    return mutate([&](Manifest& m) {
        CertEntry& e = entryFor(m, ref, options_.directory);
        if (e.has(Role::Server)) {
            auto servers = std::count_if(m.certs.begin(), m.certs.end(),
                                         [](const CertEntry& c) { return c.has(Role::Server); });
            if (servers == 1) {
                throw StoreError("refusing to remove certificate " + e.id +
                                 ": it is the last active server certificate (activate another "
                                 "one with --role server first)");
            }
        }
        StoredCertificate removed = describe(e, readFile(path(e.chainFile)));
        m.append(makeEvent(CertificateEventKind::Removed, e.id, removed.info, now,
                           "removed from the store"));
        std::string id = e.id;
        std::erase_if(m.certs, [&](const CertEntry& c) { return c.id == id; });
        m.changed();
        return removed;
    });
}

std::vector<StoredCertificate> Store::renewDue() {
    if (!options_.autoRenew || !fs::exists(path(kManifest))) {
        return {};
    }
    TimePoint now = clock_.now();
    return mutate([&](Manifest& m) {
        std::vector<StoredCertificate> renewed;
        for (auto& e : m.certs) {
            if (e.origin != "default") {
                continue;
            }
            CertificateInfo old = infoOf(e, options_.directory);
            auto lifetime = old.notAfter - old.notBefore;
            auto due = old.notBefore + std::chrono::duration_cast<TimePoint::duration>(
                                           lifetime * options_.renewAtFraction);
            if (now < due) {
                continue;
            }
            // Same key, so a published DANE 3 1 1 record stays valid.
            EvpPkeyPtr key = parsePemPrivateKey(readFile(path(e.keyFile)));
            std::vector<std::string> names =
                old.dnsNames.empty() ? std::vector<std::string>{options_.hostname} : old.dnsNames;
            X509Ptr cert = makeSelfSigned(*key, {names, now, options_.defaultValidityDays});
            CertificateInfo info = inspect(*cert);
            e.chainFile = "certs/" + e.id + "-" + std::to_string(m.generation + 1) + ".pem";
            writeFileAtomic(path(e.chainFile), toPem(*cert), 0644);
            e.sha256 = info.sha256Fingerprint;
            m.changed();
            e.noticed.clear();
            e.expiredNoticed = false;
            m.append(makeEvent(CertificateEventKind::Renewed, e.id, info, now,
                               "default certificate renewed with its key kept; previous SHA-256 " +
                                   old.sha256Fingerprint));
            StoredCertificate stored;
            stored.id = e.id;
            stored.info = info;
            stored.roles = e.roles;
            stored.origin = e.origin;
            stored.added = e.added;
            renewed.push_back(std::move(stored));
        }
        return renewed;
    });
}

std::vector<CertificateEvent> Store::recordExpiryNotices() {
    if (!fs::exists(path(kManifest))) {
        return {};
    }
    TimePoint now = clock_.now();
    return mutate([&](Manifest& m) {
        std::vector<CertificateEvent> events;
        for (auto& e : m.certs) {
            CertificateInfo info = infoOf(e, options_.directory);
            if (now >= info.notAfter) {
                if (!e.expiredNoticed) {
                    e.expiredNoticed = true;
                    events.push_back(makeEvent(CertificateEventKind::Expired, e.id, info, now,
                                               "expired on " + formatTime(info.notAfter)));
                }
                continue;
            }
            // The smallest threshold crossed and not yet announced; announcing it covers the
            // wider ones crossed at the same time (one event per crossing, not a burst).
            std::optional<int> crossed;
            for (int days : options_.warningDays) {
                bool inside = info.notAfter - now <= std::chrono::days(days);
                bool announced =
                    std::find(e.noticed.begin(), e.noticed.end(), days) != e.noticed.end();
                if (inside && !announced && (!crossed || days < *crossed)) {
                    crossed = days;
                }
            }
            if (!crossed) {
                continue;
            }
            for (int days : options_.warningDays) {
                if (days >= *crossed &&
                    std::find(e.noticed.begin(), e.noticed.end(), days) == e.noticed.end()) {
                    e.noticed.push_back(days);
                }
            }
            CertificateEvent event =
                makeEvent(CertificateEventKind::Expiring, e.id, info, now,
                          "expires in " + std::to_string(daysLeft(info.notAfter, now)) +
                              " days (threshold " + std::to_string(*crossed) + " days)");
            event.thresholdDays = crossed;
            events.push_back(std::move(event));
        }
        for (const auto& event : events) {
            m.append(event);
        }
        return events;
    });
}

TrustAnchor Store::addCa(X509& cert) {
    TimePoint now = clock_.now();
    CertificateInfo info = inspect(cert);
    return mutate([&](Manifest& m) {
        for (const auto& e : m.cas) {
            if (e.sha256 == info.sha256Fingerprint) {
                throw StoreError("this CA certificate is already a trust anchor as id " + e.id +
                                 " (" + info.subject + ")");
            }
        }
        CaEntry e{std::to_string(m.nextCaId++), {}, info.sha256Fingerprint, now};
        e.file = "ca/" + e.id + ".pem";
        writeFileAtomic(path(e.file), toPem(cert), 0644);
        m.cas.push_back(e);
        m.changed();
        m.append(makeEvent(CertificateEventKind::CaAdded, "ca-" + e.id, info, now,
                           "trust anchor added"));
        return TrustAnchor{e.id, info, now};
    });
}

TrustAnchor Store::removeCa(std::string_view ref) {
    TimePoint now = clock_.now();
    return mutate([&](Manifest& m) {
        std::string prefix = normalizeFingerprint(ref);
        std::vector<CaEntry*> matches;
        for (auto& e : m.cas) {
            if (e.id == ref) {
                matches = {&e};
                break;
            }
            if (prefix.size() >= 4 && normalizeFingerprint(e.sha256).rfind(prefix, 0) == 0) {
                matches.push_back(&e);
            }
        }
        if (matches.empty()) {
            throw NotFoundError("no trust anchor with id or SHA-256 fingerprint prefix '" +
                                std::string(ref) + "'");
        }
        if (matches.size() > 1) {
            throw StoreError("'" + std::string(ref) + "' is ambiguous among the trust anchors");
        }
        auto certs = parsePemCertificates(readFile(path(matches.front()->file)));
        CertificateInfo info = certs.empty() ? CertificateInfo{} : inspect(*certs.front());
        TrustAnchor removed{matches.front()->id, info, matches.front()->added};
        m.append(makeEvent(CertificateEventKind::CaRemoved, "ca-" + removed.id, info, now,
                           "trust anchor removed"));
        std::erase_if(m.cas, [&](const CaEntry& e) { return e.id == removed.id; });
        m.changed();
        return removed;
    });
}

std::vector<JournalEntry> Store::unpublished() const {
    if (!fs::exists(path(kManifest))) {
        return {};
    }
    Lock lock(options_.directory, false);
    Manifest m = readManifest();
    std::vector<JournalEntry> out;
    for (const auto& entry : m.journal) {
        if (entry.seq > m.publishedSeq) {
            out.push_back(entry);
        }
    }
    return out;
}

void Store::markPublished(std::uint64_t seq) {
    mutate([&](Manifest& m) {
        if (seq > m.publishedSeq) {
            m.publishedSeq = seq;
            m.dirty = true;
        }
        return 0;
    });
}

}  // namespace tlsgate::certmgr
