// Keys and self-signed end-entity certificates on the OpenSSL 3 API. Failures throw OpensslError.
#include "tlsgate/certmgr/generate.h"

#include <openssl/rand.h>

#include <stdexcept>

namespace tlsgate::certmgr {

std::string_view toString(KeyAlgorithm algorithm) {
    switch (algorithm) {
        case KeyAlgorithm::EcdsaP256:
            return "ecdsa-p256";
        case KeyAlgorithm::EcdsaP384:
            return "ecdsa-p384";
        case KeyAlgorithm::Rsa2048:
            return "rsa2048";
        case KeyAlgorithm::Rsa3072:
            return "rsa3072";
        case KeyAlgorithm::Rsa4096:
            return "rsa4096";
    }
    return "unknown";
}

KeyAlgorithm parseKeyAlgorithm(std::string_view text) {
    if (text == "ecdsa" || text == "ecdsa-p256") {
        return KeyAlgorithm::EcdsaP256;
    }
    if (text == "ecdsa-p384") {
        return KeyAlgorithm::EcdsaP384;
    }
    if (text == "rsa" || text == "rsa2048") {
        return KeyAlgorithm::Rsa2048;
    }
    if (text == "rsa3072") {
        return KeyAlgorithm::Rsa3072;
    }
    if (text == "rsa4096") {
        return KeyAlgorithm::Rsa4096;
    }
    throw std::invalid_argument("unknown key type '" + std::string(text) +
                                "' (expected ecdsa, ecdsa-p256, ecdsa-p384, rsa, rsa2048, "
                                "rsa3072 or rsa4096)");
}

EvpPkeyPtr generateKey(KeyAlgorithm algorithm) {
    EvpPkeyPtr key;
    switch (algorithm) {
        case KeyAlgorithm::EcdsaP256:
            key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
            break;
        case KeyAlgorithm::EcdsaP384:
            key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
            break;
        case KeyAlgorithm::Rsa2048:
            key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}));
            break;
        case KeyAlgorithm::Rsa3072:
            key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{3072}));
            break;
        case KeyAlgorithm::Rsa4096:
            key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{4096}));
            break;
    }
    checkOpenssl(key != nullptr, "generating a " + std::string(toString(algorithm)) + " key");
    return key;
}

namespace {

void addExtension(X509& cert, int nid, const std::string& value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, &cert, &cert, nullptr, nullptr, 0);
    X509ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
    checkOpenssl(extension != nullptr, "making extension " + std::string(OBJ_nid2sn(nid)));
    checkOpenssl(X509_add_ext(&cert, extension.get(), -1) == 1, "adding an extension");
}

void setRandomSerial(X509& cert) {
    // 16 random bytes, top bit clear so the INTEGER is positive, first byte non-zero so the
    // encoding keeps all 16 bytes: 126 bits of entropy, well over the CA/B Forum's 64.
    unsigned char bytes[16];
    checkOpenssl(RAND_bytes(bytes, sizeof bytes) == 1, "drawing a random serial");
    bytes[0] &= 0x7f;
    if (bytes[0] == 0) {
        bytes[0] = 0x01;
    }
    BignumPtr number(BN_bin2bn(bytes, sizeof bytes, nullptr));
    checkOpenssl(number != nullptr, "making the serial");
    checkOpenssl(BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(&cert)) != nullptr,
                 "setting the serial");
}

}  // namespace

X509Ptr makeSelfSigned(EVP_PKEY& key, const SelfSignedSpec& spec) {
    if (spec.dnsNames.empty()) {
        throw std::invalid_argument("a certificate needs at least one DNS name");
    }
    if (spec.days <= 0) {
        throw std::invalid_argument("validity must be at least one day");
    }
    X509Ptr cert(X509_new());
    checkOpenssl(cert != nullptr, "allocating a certificate");
    checkOpenssl(X509_set_version(cert.get(), X509_VERSION_3) == 1, "setting the version");
    setRandomSerial(*cert);

    std::time_t start = std::chrono::system_clock::to_time_t(spec.notBefore);
    checkOpenssl(ASN1_TIME_set(X509_getm_notBefore(cert.get()), start) != nullptr, "notBefore");
    std::time_t end = start + static_cast<std::time_t>(spec.days) * 86400;
    checkOpenssl(ASN1_TIME_set(X509_getm_notAfter(cert.get()), end) != nullptr, "notAfter");

    X509_NAME* name = X509_get_subject_name(cert.get());
    checkOpenssl(
        X509_NAME_add_entry_by_NID(
            name, NID_commonName, MBSTRING_UTF8,
            reinterpret_cast<const unsigned char*>(spec.dnsNames.front().c_str()), -1, -1, 0) == 1,
        "setting the common name");
    checkOpenssl(X509_set_issuer_name(cert.get(), name) == 1, "setting the issuer");
    checkOpenssl(X509_set_pubkey(cert.get(), &key) == 1, "setting the public key");

    bool rsa = EVP_PKEY_get_base_id(&key) == EVP_PKEY_RSA;
    addExtension(*cert, NID_basic_constraints, "critical,CA:FALSE");
    addExtension(*cert, NID_key_usage,
                 rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature");
    addExtension(*cert, NID_ext_key_usage, "serverAuth,clientAuth");
    std::string names;
    for (const auto& dns : spec.dnsNames) {
        names += (names.empty() ? "DNS:" : ",DNS:") + dns;
    }
    addExtension(*cert, NID_subject_alt_name, names);
    addExtension(*cert, NID_subject_key_identifier, "hash");

    checkOpenssl(X509_sign(cert.get(), &key, EVP_sha256()) > 0, "signing the certificate");
    return cert;
}

}  // namespace tlsgate::certmgr
