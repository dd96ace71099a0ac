// Reading certificates: names, dates, fingerprints and keys in the forms `openssl x509` prints.
// Pure functions; OpenSSL failures throw OpensslError.
#include "tlsgate/certmgr/certificate.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace tlsgate::certmgr {

namespace {

std::string nameToString(const X509_NAME* name) {
    BioPtr bio = memoryBio({});
    checkOpenssl(X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) >= 0, "printing a name");
    return bioContents(*bio);
}

std::string firstCommonName(const X509_NAME* name) {
    int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (index < 0) {
        return {};
    }
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
    unsigned char* utf8 = nullptr;
    int length = ASN1_STRING_to_UTF8(&utf8, data);
    if (length < 0) {
        drainOpensslErrors();
        return {};
    }
    std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
    OPENSSL_free(utf8);
    return out;
}

std::string serialHex(const ASN1_INTEGER* serial) {
    // The same digits i2a_ASN1_INTEGER (and so `openssl x509 -serial`) prints.
    static const char* const kDigits = "0123456789ABCDEF";
    const unsigned char* data = ASN1_STRING_get0_data(serial);
    int length = ASN1_STRING_length(serial);
    if (length <= 0) {
        return "00";
    }
    std::string out = ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER ? "-" : "";
    for (int i = 0; i < length; ++i) {
        out += kDigits[data[i] >> 4];
        out += kDigits[data[i] & 0x0f];
    }
    return out;
}

std::string base64(const unsigned char* data, std::size_t length) {
    std::string out(4 * ((length + 2) / 3) + 1, '\0');
    int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                                  static_cast<int>(length));
    out.resize(static_cast<std::size_t>(written));
    return out;
}

std::string lowerHex(const unsigned char* data, std::size_t length) {
    static const char* const kDigits = "0123456789abcdef";
    std::string out;
    out.reserve(length * 2);
    for (std::size_t i = 0; i < length; ++i) {
        out += kDigits[data[i] >> 4];
        out += kDigits[data[i] & 0x0f];
    }
    return out;
}

void readSubjectAltNames(X509& cert, CertificateInfo& info) {
    GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(&cert, NID_subject_alt_name, nullptr, nullptr)));
    if (!names) {
        return;
    }
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
        if (name->type == GEN_DNS) {
            const ASN1_IA5STRING* dns = name->d.dNSName;
            info.dnsNames.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                       static_cast<std::size_t>(ASN1_STRING_length(dns)));
        } else if (name->type == GEN_IPADD) {
            const ASN1_OCTET_STRING* ip = name->d.iPAddress;
            int length = ASN1_STRING_length(ip);
            const unsigned char* bytes = ASN1_STRING_get0_data(ip);
            char text[64] = {};
            if (length == 4) {
                std::snprintf(text, sizeof text, "%u.%u.%u.%u", bytes[0], bytes[1], bytes[2],
                              bytes[3]);
            } else if (length == 16) {
                std::string hex;
                for (int j = 0; j < 16; j += 2) {
                    char part[8];
                    std::snprintf(part, sizeof part, "%s%X", j == 0 ? "" : ":",
                                  static_cast<unsigned>(bytes[j] << 8 | bytes[j + 1]));
                    hex += part;
                }
                std::snprintf(text, sizeof text, "%s", hex.c_str());
            }
            info.ipAddresses.emplace_back(text);
        }
    }
}

void readKey(X509& cert, CertificateInfo& info) {
    EVP_PKEY* key = X509_get0_pubkey(&cert);
    if (key == nullptr) {
        drainOpensslErrors();
        info.keyType = "unknown";
        return;
    }
    info.keyBits = EVP_PKEY_get_bits(key);
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_RSA:
            info.keyType = "RSA";
            break;
        case EVP_PKEY_EC: {
            info.keyType = "EC";
            char group[80] = {};
            std::size_t length = 0;
            if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                               &length) == 1) {
                int nid = OBJ_sn2nid(group);
                const char* nist = nid != NID_undef ? EC_curve_nid2nist(nid) : nullptr;
                info.curve = nist != nullptr ? nist : group;
            }
            drainOpensslErrors();
            break;
        }
        case EVP_PKEY_ED25519:
            info.keyType = "ED25519";
            break;
        case EVP_PKEY_ED448:
            info.keyType = "ED448";
            break;
        default: {
            const char* name = EVP_PKEY_get0_type_name(key);
            info.keyType = name != nullptr ? name : "unknown";
        }
    }
}

void readExtendedKeyUsage(X509& cert, CertificateInfo& info) {
    int critical = 0;
    ExtendedKeyUsagePtr usage(static_cast<EXTENDED_KEY_USAGE*>(
        X509_get_ext_d2i(&cert, NID_ext_key_usage, &critical, nullptr)));
    if (!usage) {
        info.hasExtendedKeyUsage = critical != -1;  // -1: absent; otherwise present but unreadable
        return;
    }
    info.hasExtendedKeyUsage = true;
    for (int i = 0; i < sk_ASN1_OBJECT_num(usage.get()); ++i) {
        int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(usage.get(), i));
        const char* name = nid != NID_undef ? OBJ_nid2sn(nid) : nullptr;
        info.extendedKeyUsages.emplace_back(name != nullptr ? name : "unknown");
    }
}

}  // namespace

std::string colonHex(const unsigned char* data, std::size_t length) {
    static const char* const kDigits = "0123456789ABCDEF";
    std::string out;
    for (std::size_t i = 0; i < length; ++i) {
        if (i != 0) {
            out += ':';
        }
        out += kDigits[data[i] >> 4];
        out += kDigits[data[i] & 0x0f];
    }
    return out;
}

std::string normalizeFingerprint(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c != ':') {
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
    }
    return out;
}

std::string CertificateInfo::keyDescription() const {
    if (keyType == "EC" && !curve.empty()) {
        return "EC " + curve;
    }
    if (keyType == "RSA") {
        return "RSA " + std::to_string(keyBits);
    }
    return keyType;
}

bool CertificateInfo::allowsExtendedKeyUsage(std::string_view shortName) const {
    if (!hasExtendedKeyUsage) {
        return true;
    }
    return std::any_of(extendedKeyUsages.begin(), extendedKeyUsages.end(),
                       [&](const auto& u) { return u == shortName || u == "anyExtendedKeyUsage"; });
}

TimePoint toTimePoint(const ASN1_TIME& time) {
    std::tm tm{};
    checkOpenssl(ASN1_TIME_to_tm(&time, &tm) == 1, "reading a certificate time");
    // TimePoint counts nanoseconds and ends in 2262; RFC 5280's "no well-defined expiration"
    // (99991231235959Z) and other far dates are clamped to its ends, not overflowed.
    const auto seconds = static_cast<std::int64_t>(timegm(&tm));
    using Seconds = std::chrono::duration<std::int64_t>;
    const auto max =
        std::chrono::duration_cast<Seconds>(TimePoint::max().time_since_epoch()).count();
    const auto min =
        std::chrono::duration_cast<Seconds>(TimePoint::min().time_since_epoch()).count();
    if (seconds >= max) {
        return TimePoint(std::chrono::duration_cast<TimePoint::duration>(Seconds(max)));
    }
    if (seconds <= min) {
        return TimePoint(std::chrono::duration_cast<TimePoint::duration>(Seconds(min)));
    }
    return std::chrono::system_clock::from_time_t(static_cast<std::time_t>(seconds));
}

CertificateInfo inspect(X509& cert) {
    CertificateInfo info;
    info.subject = nameToString(X509_get_subject_name(&cert));
    info.issuer = nameToString(X509_get_issuer_name(&cert));
    info.commonName = firstCommonName(X509_get_subject_name(&cert));
    info.serial = serialHex(X509_get0_serialNumber(&cert));
    info.notBefore = toTimePoint(*X509_get0_notBefore(&cert));
    info.notAfter = toTimePoint(*X509_get0_notAfter(&cert));
    readSubjectAltNames(cert, info);
    readKey(cert, info);
    info.signatureAlgorithm = OBJ_nid2ln(X509_get_signature_nid(&cert));

    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    checkOpenssl(X509_digest(&cert, EVP_sha256(), digest, &length) == 1, "SHA-256 fingerprint");
    info.sha256Fingerprint = colonHex(digest, length);
    checkOpenssl(X509_digest(&cert, EVP_sha1(), digest, &length) == 1, "SHA-1 fingerprint");
    info.sha1Fingerprint = colonHex(digest, length);

    unsigned char* spki = nullptr;
    int spkiLength = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(&cert), &spki);
    checkOpenssl(spkiLength > 0, "encoding the public key");
    unsigned char pin[SHA256_DIGEST_LENGTH];
    SHA256(spki, static_cast<std::size_t>(spkiLength), pin);
    OPENSSL_free(spki);
    info.spkiSha256Base64 = base64(pin, sizeof pin);
    info.spkiSha256Hex = lowerHex(pin, sizeof pin);

    info.isCa = (X509_get_extension_flags(&cert) & EXFLAG_CA) != 0;
    readExtendedKeyUsage(cert, info);
    info.selfIssued = X509_NAME_cmp(X509_get_subject_name(&cert), X509_get_issuer_name(&cert)) == 0;
    drainOpensslErrors();
    return info;
}

std::string_view toString(CertificateStatus status) {
    switch (status) {
        case CertificateStatus::Valid:
            return "valid";
        case CertificateStatus::Expiring:
            return "expiring";
        case CertificateStatus::Expired:
            return "expired";
        case CertificateStatus::NotYetValid:
            return "not yet valid";
    }
    return "unknown";
}

std::int64_t daysLeft(TimePoint notAfter, TimePoint now) {
    return std::chrono::floor<std::chrono::days>(notAfter - now).count();
}

CertificateStatus statusAt(const CertificateInfo& info, TimePoint now, int warningDays) {
    if (now < info.notBefore) {
        return CertificateStatus::NotYetValid;
    }
    if (now >= info.notAfter) {
        return CertificateStatus::Expired;
    }
    if (info.notAfter - now <= std::chrono::days(warningDays)) {
        return CertificateStatus::Expiring;
    }
    return CertificateStatus::Valid;
}

std::string formatTime(TimePoint t) {
    std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

TimePoint parseTime(std::string_view text) {
    std::tm tm{};
    char zone = 0;
    std::string copy(text);
    if (copy.size() != 20 ||
        std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &zone) != 7 ||
        zone != 'Z') {
        throw std::invalid_argument("expected a UTC time like 2026-11-25T14:35:50Z, got '" + copy +
                                    "'");
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::vector<X509Ptr> parsePemCertificates(std::string_view pem) {
    std::vector<X509Ptr> out;
    BioPtr bio = memoryBio(pem);
    while (true) {
        X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
        if (!cert) {
            break;
        }
        out.push_back(std::move(cert));
    }
    drainOpensslErrors();  // the end of input shows up as an error
    return out;
}

std::string toPem(X509& cert) {
    BioPtr bio = memoryBio({});
    checkOpenssl(PEM_write_bio_X509(bio.get(), &cert) == 1, "writing a certificate as PEM");
    return bioContents(*bio);
}

std::string privateKeyToPem(EVP_PKEY& key) {
    BioPtr bio = memoryBio({});
    checkOpenssl(
        PEM_write_bio_PrivateKey(bio.get(), &key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "writing a private key as PEM");
    return bioContents(*bio);
}

EvpPkeyPtr parsePemPrivateKey(std::string_view pem) {
    BioPtr bio = memoryBio(pem);
    // A stored key is never encrypted: refuse to prompt for a passphrase on a terminal.
    auto noPassword = [](char*, int, int, void*) -> int { return 0; };
    EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassword, nullptr));
    checkOpenssl(key != nullptr, "reading a private key");
    return key;
}

}  // namespace tlsgate::certmgr
