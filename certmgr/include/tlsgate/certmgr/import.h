// Loading an operator's certificate, chain and key (PEM or PKCS#12) and checking them before they
// enter the store. Pure with respect to the store: it reads the given files and nothing else.
// Refusals throw ImportError naming the file and the reason; warnings are returned.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tlsgate/certmgr/ossl.h"
#include "tlsgate/common/clock.h"

namespace tlsgate::certmgr {

enum class Role { Server, Client };
std::string_view toString(Role role);
/// "server" or "client"; throws std::invalid_argument otherwise.
Role parseRole(std::string_view text);

/// A refused import: which file and why. Nothing was written anywhere.
class ImportError : public std::runtime_error {
  public:
    ImportError(std::string file, std::string reason);
    const std::string& file() const { return file_; }
    const std::string& reason() const { return reason_; }

  private:
    std::string file_;
    std::string reason_;
};

struct ImportRequest {
    /// PEM holding the certificate, optionally with its chain and key. Unset with pkcs12File.
    std::optional<std::string> certFile;
    std::optional<std::string> keyFile;     ///< PEM private key (may be encrypted)
    std::optional<std::string> chainFile;   ///< PEM intermediates, any order
    std::optional<std::string> pkcs12File;  ///< instead of the three above
    /// Asked only when a password is needed (encrypted key, PKCS#12); returns it.
    std::function<std::string()> password;
    Role role = Role::Server;
    std::string hostname;  ///< warn when not among the subjectAltNames
    int warningDays = 30;  ///< warn when it expires within this many days
    TimePoint now;
    /// Trust anchors to check the chain against (warn when it does not lead to one); may be null.
    X509_STORE* trust = nullptr;
};

struct ImportedMaterial {
    X509Ptr leaf;
    std::vector<X509Ptr>
        chain;  ///< intermediates ordered leaf-issuer first; no trust anchor reordering
    EvpPkeyPtr key;
    std::vector<std::string> warnings;  ///< imported anyway; shown to the operator
};

/// Reads and checks the material of `request`. Refuses (ImportError) unparseable input, a wrong
/// password, legacy PKCS#12 encryption without the legacy provider, a key that does not match the
/// certificate, an expired or not yet valid certificate, RSA under 2048 bits, an unsupported curve,
/// a chain that does not connect (a shuffled one is put in order), a certificate whose
/// extendedKeyUsage excludes the role.
ImportedMaterial loadForImport(const ImportRequest& request);

/// Checks that `key` is the private key of `cert` by signing with it and verifying with the
/// certificate's public key (not only comparing public halves). Throws ImportError(file, ...).
void checkKeyMatches(X509& cert, EVP_PKEY& key, const std::string& file);

/// Refuses keys we will not serve with: RSA under 2048 bits, EC curves other than P-256, P-384 and
/// P-521, other algorithms than RSA, EC, Ed25519. Throws ImportError(file, ...).
void checkKeyAcceptable(EVP_PKEY& key, const std::string& file);

/// Puts `pool` in issuing order starting from `leaf`'s issuer. Throws ImportError(file, ...) when a
/// certificate of the pool does not belong to the chain.
std::vector<X509Ptr> orderChain(X509& leaf, std::vector<X509Ptr> pool, const std::string& file);

}  // namespace tlsgate::certmgr
