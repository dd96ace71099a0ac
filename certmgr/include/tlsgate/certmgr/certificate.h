// Reading X.509 certificates: the facts certmgr prints, SNMP tables and SIEM records carry
// (names, dates, fingerprints, key), PEM in and out, status against a clock. Pure functions;
// failures throw OpensslError or std::invalid_argument with the reason.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tlsgate/certmgr/ossl.h"
#include "tlsgate/common/clock.h"

namespace tlsgate::certmgr {

/// What an operator needs to know about one certificate.
struct CertificateInfo {
    std::string subject;     ///< RFC 2253, e.g. "CN=mx.example.com,O=Example"
    std::string issuer;      ///< RFC 2253
    std::string commonName;  ///< first CN of the subject, may be empty
    std::string serial;      ///< upper-case hex without separators, as `openssl x509 -serial`
    TimePoint notBefore;
    TimePoint notAfter;
    std::vector<std::string> dnsNames;     ///< subjectAltName DNS entries
    std::vector<std::string> ipAddresses;  ///< subjectAltName IP entries
    std::string keyType;                   ///< "RSA", "EC", "ED25519", ...
    std::string curve;                     ///< NIST name ("P-256") for EC keys, empty otherwise
    int keyBits = 0;
    std::string signatureAlgorithm;  ///< OpenSSL long name, e.g. "ecdsa-with-SHA256"
    std::string sha256Fingerprint;   ///< "AB:CD:..." as `openssl x509 -fingerprint -sha256`
    std::string sha1Fingerprint;     ///< "AB:CD:..." as `openssl x509 -fingerprint -sha1`
    std::string spkiSha256Base64;    ///< SPKI pin (RFC 7469 form)
    std::string spkiSha256Hex;       ///< lower-case hex; the DANE 3 1 1 association data
    bool isCa = false;
    bool hasExtendedKeyUsage = false;            ///< the extension is present
    std::vector<std::string> extendedKeyUsages;  ///< short names: "serverAuth", "clientAuth"...
    bool selfIssued = false;                     ///< subject == issuer

    /// "EC P-256" or "RSA 2048": what lists show.
    std::string keyDescription() const;
    bool allowsExtendedKeyUsage(std::string_view shortName) const;
};

/// Reads everything in CertificateInfo from `cert`.
CertificateInfo inspect(X509& cert);

enum class CertificateStatus { Valid, Expiring, Expired, NotYetValid };
std::string_view toString(CertificateStatus status);

/// Whole days from `now` until `notAfter`, rounded down (negative once expired).
std::int64_t daysLeft(TimePoint notAfter, TimePoint now);

/// Valid, Expiring (inside `warningDays`), Expired or NotYetValid at `now`.
CertificateStatus statusAt(const CertificateInfo& info, TimePoint now, int warningDays);

/// "2026-11-25T14:35:50Z".
std::string formatTime(TimePoint t);
/// Parses what formatTime() prints; throws std::invalid_argument otherwise.
TimePoint parseTime(std::string_view text);
/// ASN1_TIME to a time point.
TimePoint toTimePoint(const ASN1_TIME& time);

/// Every CERTIFICATE block of a PEM text, in order (empty when there is none).
std::vector<X509Ptr> parsePemCertificates(std::string_view pem);
/// PEM text of one certificate.
std::string toPem(X509& cert);
/// Unencrypted PKCS#8 PEM of a private key.
std::string privateKeyToPem(EVP_PKEY& key);
/// Reads an unencrypted PEM private key; throws OpensslError.
EvpPkeyPtr parsePemPrivateKey(std::string_view pem);

/// Colon-separated upper-case hex, as OpenSSL prints fingerprints.
std::string colonHex(const unsigned char* data, std::size_t length);
/// Removes colons and lower-cases: the form fingerprint prefixes are compared in.
std::string normalizeFingerprint(std::string_view text);

}  // namespace tlsgate::certmgr
