// The certificate store: a directory holding certificates, keys (0600), trust anchors and a
// manifest that is the single commit point of every change (files are written to temporary names,
// fsynced and renamed first; the manifest last). Processes are serialized with flock(); every
// change is journaled so the daemon can publish it as an event. Any thread; one Store per thread
// or external synchronisation. Errors throw StoreError (or ImportError for refused material).
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tlsgate/certmgr/certificate.h"
#include "tlsgate/certmgr/generate.h"
#include "tlsgate/certmgr/import.h"
#include "tlsgate/common/clock.h"
#include "tlsgate/common/event.h"

namespace tlsgate::certmgr {

namespace detail {
struct Manifest;  // the on-disk manifest, defined in store.cc
}

struct StoreOptions {
    std::filesystem::path directory;
    std::string hostname;  ///< names the default certificate
    int defaultValidityDays = 825;
    bool autoRenew = true;               ///< renew the default certificate, key kept
    double renewAtFraction = 2.0 / 3.0;  ///< of its lifetime
    std::vector<int> warningDays{30, 14, 7, 1};
    bool useSystemCa = true;  ///< trust the system CA bundle besides the store's CAs
    /// The widest warning threshold: inside it a certificate's status is "expiring".
    int warningWindow() const;
};

class StoreError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};
/// No certificate (or trust anchor) answers to the reference given.
class NotFoundError : public StoreError {
  public:
    using StoreError::StoreError;
};

struct StoredCertificate {
    std::string id;
    CertificateInfo info;
    std::vector<Role> roles;  ///< roles it is active in
    std::string origin;       ///< "default", "generated", "imported"
    TimePoint added;
    std::size_t chainLength = 1;  ///< leaf included
    bool isActive(Role role) const;
    bool isDefault() const { return origin == "default"; }
};

struct TrustAnchor {
    std::string id;
    CertificateInfo info;
    TimePoint added;
};

/// What a TLS context needs of one certificate.
struct CertificateMaterial {
    std::string id;
    X509Ptr leaf;
    std::vector<X509Ptr> chain;
    EvpPkeyPtr key;
};

struct JournalEntry {
    std::uint64_t seq = 0;
    CertificateEvent event;
};

class Store {
  public:
    explicit Store(StoreOptions options, const Clock& clock = SystemClock::instance());

    const StoreOptions& options() const { return options_; }
    const Clock& clock() const { return clock_; }

    // --- reads (shared lock) ---
    std::vector<StoredCertificate> list() const;
    /// By id, or by a unique prefix (4 hex digits at least, colons optional) of the SHA-256
    /// fingerprint. Throws NotFoundError, or StoreError when the prefix is ambiguous.
    StoredCertificate get(std::string_view ref) const;
    /// The chain as PEM, leaf first.
    std::string chainPem(std::string_view ref) const;
    /// The private key as unencrypted PKCS#8 PEM. Callers must not print or log it.
    std::string keyPem(std::string_view ref) const;
    CertificateMaterial material(std::string_view ref) const;
    /// Everything active in `role`, for building TLS contexts.
    std::vector<CertificateMaterial> activeMaterial(Role role) const;
    std::vector<TrustAnchor> listCas() const;
    /// The store's trust anchors, plus the system bundle when options().useSystemCa.
    X509StorePtr trustStore() const;
    /// Changes on every committed change; cheap enough to poll.
    std::uint64_t generation() const;

    // --- changes (exclusive lock, journaled) ---
    /// Creates the default ECDSA P-256 and RSA 2048 certificates when no server certificate is
    /// active; returns what it created (empty when nothing was needed).
    std::vector<StoredCertificate> ensureDefault();
    /// Adds checked material; activates it in `role` when `activate`.
    StoredCertificate import(ImportedMaterial material, Role role, bool activate,
                             std::string origin = "imported");
    /// Makes `ref` active in `role`. Client role: the previous holder is deactivated. Server role:
    /// the active certificate of the same key type that shares a DNS name with `ref` is
    /// deactivated, and so is the self-signed default of that key type; certificates for other
    /// names stay active (the TLS handshake picks among them by SNI).
    void activate(std::string_view ref, Role role);
    /// Refuses to remove the last active server certificate.
    StoredCertificate remove(std::string_view ref);
    /// Re-issues default certificates past their renewal point with their keys kept.
    std::vector<StoredCertificate> renewDue();
    /// Journals one Expiring event per certificate that crossed a threshold (the smallest crossed)
    /// and one Expired event per certificate past notAfter, each once in the store's life.
    std::vector<CertificateEvent> recordExpiryNotices();
    TrustAnchor addCa(X509& cert);
    TrustAnchor removeCa(std::string_view ref);

    // --- journal, for the daemon's watcher ---
    std::vector<JournalEntry> unpublished() const;
    void markPublished(std::uint64_t seq);

  private:
    class Lock;
    detail::Manifest readManifest() const;
    void writeManifest(detail::Manifest& manifest);
    template <class Fn>
    auto mutate(Fn&& fn);
    std::filesystem::path path(std::string_view relative) const;

    StoreOptions options_;
    const Clock& clock_;
};

}  // namespace tlsgate::certmgr
