// A small test CA on the OpenSSL API: keys, CA / intermediate / leaf certificates, PEM and PKCS#12
// made at test time, and per-test temporary directories. Failures throw certmgr::OpensslError.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tlsgate/certmgr/ossl.h"
#include "tlsgate/common/clock.h"

namespace tlsgate::testing {

using certmgr::EvpPkeyPtr;
using certmgr::X509Ptr;

/// A fresh key: "ec-p256", "ec-p384", "ec-secp256k1", "rsa1024", "rsa2048" or "ed25519";
/// throws std::invalid_argument otherwise.
EvpPkeyPtr makeKey(std::string_view type);

/// A certificate and its private key.
struct TestCert {
    X509Ptr cert;
    EvpPkeyPtr key;
};

/// What a certificate says. The defaults give a leaf valid from an hour ago for a year.
struct CertOptions {
    std::string commonName = "test";
    std::vector<std::string> dnsNames{};   ///< subjectAltName DNS entries; none => no extension
    std::optional<TimePoint> notBefore{};  ///< default: now - 1 hour
    std::optional<TimePoint> notAfter{};   ///< default: now + 365 days
    /// Short names ("serverAuth", "clientAuth", "anyExtendedKeyUsage"); none => no extension.
    std::vector<std::string> extendedKeyUsages{};
    bool isCa = false;  ///< basicConstraints CA:TRUE and keyUsage keyCertSign, cRLSign
    std::string keyType = "ec-p256";
};

/// A self-signed root CA named `commonName`.
TestCert makeCa(const std::string& commonName, std::string_view keyType = "ec-p256");
/// An intermediate CA named `commonName`, issued by `issuer`.
TestCert makeIntermediate(const TestCert& issuer, const std::string& commonName,
                          std::string_view keyType = "ec-p256");
/// A certificate issued by `issuer`, or self-signed when `issuer` is null.
TestCert makeLeaf(const TestCert* issuer, const CertOptions& options = {});
/// A certificate for `subjectKey` issued by `issuer` (self-signed when null); the key is not
/// copied.
X509Ptr issue(EVP_PKEY& subjectKey, const TestCert* issuer, const CertOptions& options);

/// PEM text of a certificate.
std::string toPem(X509& cert);
/// PKCS#8 PEM of a private key; encrypted with AES-256-CBC when `passphrase` is given.
std::string keyToPem(EVP_PKEY& key, const std::optional<std::string>& passphrase = std::nullopt);
/// Writes `content` to `path` (replacing it); throws std::runtime_error.
void writeFile(const std::string& path, std::string_view content);

/// DER bytes of a PKCS#12 file. Modern: OpenSSL 3 defaults (AES-256-CBC, PBKDF2, SHA-256 MAC).
/// Legacy: RC2-40 for the certificates and 3DES for the key, as pre-3.0 tools wrote them; made in
/// a private library context with the legacy provider, so the default context stays untouched.
std::string makePkcs12(X509& cert, EVP_PKEY& key, const std::vector<X509*>& chain,
                       const std::string& password, bool legacy);

/// A directory under /tmp, removed with everything in it when this goes out of scope.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    /// path() + "/" + name.
    std::string file(std::string_view name) const;

  private:
    std::string path_;
};

}  // namespace tlsgate::testing
