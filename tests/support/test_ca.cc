// The test CA: keys and certificates made with the OpenSSL 3 API at test time, PEM / PKCS#12
// output, temporary directories. Failures throw certmgr::OpensslError or std::runtime_error.
#include "test_ca.h"

#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace tlsgate::testing {

using certmgr::checkOpenssl;

namespace {

using LibCtxPtr = std::unique_ptr<OSSL_LIB_CTX, certmgr::OsslDeleter<OSSL_LIB_CTX_free>>;
using ProviderPtr = std::unique_ptr<OSSL_PROVIDER, certmgr::OsslDeleter<OSSL_PROVIDER_unload>>;

/// A library context with the legacy and default providers, for writing legacy PKCS#12 files.
/// Built once; the providers are unloaded before the context is freed at exit.
struct LegacyContext {
    LibCtxPtr context{OSSL_LIB_CTX_new()};
    ProviderPtr legacy{context ? OSSL_PROVIDER_load(context.get(), "legacy") : nullptr};
    ProviderPtr fallback{context ? OSSL_PROVIDER_load(context.get(), "default") : nullptr};
};

OSSL_LIB_CTX& legacyContext() {
    static const LegacyContext legacy;
    checkOpenssl(legacy.legacy != nullptr && legacy.fallback != nullptr,
                 "loading the legacy provider (needed to write a legacy PKCS#12 file)");
    return *legacy.context;
}

void setTime(ASN1_TIME* field, TimePoint t) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    checkOpenssl(ASN1_TIME_set(field, seconds) != nullptr, "setting a certificate date");
}

void addName(X509_NAME* name, const char* field, const std::string& value) {
    checkOpenssl(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                            reinterpret_cast<const unsigned char*>(value.c_str()),
                                            -1, -1, 0) == 1,
                 "adding a name entry");
}

void addExtension(X509& cert, X509V3_CTX& ctx, int nid, const std::string& value) {
    certmgr::X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    checkOpenssl(ext != nullptr, "building extension " + value);
    checkOpenssl(X509_add_ext(&cert, ext.get(), -1) == 1, "adding extension " + value);
}

std::string joined(const std::vector<std::string>& items, std::string_view prefix) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) {
            out += ',';
        }
        out += prefix;
        out += item;
    }
    return out;
}

}  // namespace

EvpPkeyPtr makeKey(std::string_view type) {
    EVP_PKEY* key = nullptr;
    if (type == "ec-p256") {
        key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    } else if (type == "ec-p384") {
        key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
    } else if (type == "ec-secp256k1") {
        key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp256k1");
    } else if (type == "rsa1024") {
        key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{1024});
    } else if (type == "rsa2048") {
        key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048});
    } else if (type == "ed25519") {
        key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    } else {
        throw std::invalid_argument(
            "unknown key type '" + std::string(type) +
            "' (ec-p256, ec-p384, ec-secp256k1, rsa1024, rsa2048, ed25519)");
    }
    EvpPkeyPtr owned(key);
    checkOpenssl(owned != nullptr, "generating a " + std::string(type) + " key");
    return owned;
}

X509Ptr issue(EVP_PKEY& subjectKey, const TestCert* issuer, const CertOptions& options) {
    X509Ptr cert(X509_new());
    checkOpenssl(cert != nullptr, "allocating a certificate");
    checkOpenssl(X509_set_version(cert.get(), X509_VERSION_3) == 1, "setting the version");

    std::uint64_t serial = 0;
    checkOpenssl(RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial) == 1,
                 "drawing a serial number");
    checkOpenssl(ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial >> 1) == 1,
                 "setting the serial number");

    const auto now = std::chrono::system_clock::now();
    setTime(X509_getm_notBefore(cert.get()),
            options.notBefore.value_or(now - std::chrono::hours(1)));
    setTime(X509_getm_notAfter(cert.get()),
            options.notAfter.value_or(now + std::chrono::hours(24 * 365)));

    X509_NAME* subject = X509_get_subject_name(cert.get());
    addName(subject, "O", "tlsgate tests");
    addName(subject, "CN", options.commonName);
    X509* issuerCert = issuer != nullptr ? issuer->cert.get() : cert.get();
    EVP_PKEY* signingKey = issuer != nullptr ? issuer->key.get() : &subjectKey;
    checkOpenssl(X509_set_issuer_name(cert.get(), X509_get_subject_name(issuerCert)) == 1,
                 "setting the issuer name");
    checkOpenssl(X509_set_pubkey(cert.get(), &subjectKey) == 1, "setting the public key");

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuerCert, cert.get(), nullptr, nullptr, 0);
    addExtension(*cert, ctx, NID_basic_constraints,
                 options.isCa ? "critical,CA:TRUE" : "critical,CA:FALSE");
    if (options.isCa) {
        addExtension(*cert, ctx, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    } else {
        addExtension(*cert, ctx, NID_key_usage,
                     EVP_PKEY_get_base_id(&subjectKey) == EVP_PKEY_RSA
                         ? "critical,digitalSignature,keyEncipherment"
                         : "critical,digitalSignature");
    }
    addExtension(*cert, ctx, NID_subject_key_identifier, "hash");
    if (issuer != nullptr) {
        addExtension(*cert, ctx, NID_authority_key_identifier, "keyid:always");
    }
    if (!options.dnsNames.empty()) {
        addExtension(*cert, ctx, NID_subject_alt_name, joined(options.dnsNames, "DNS:"));
    }
    if (!options.extendedKeyUsages.empty()) {
        addExtension(*cert, ctx, NID_ext_key_usage, joined(options.extendedKeyUsages, ""));
    }

    // Ed25519 signs the whole message: no separate digest.
    const EVP_MD* digest =
        EVP_PKEY_get_base_id(signingKey) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
    checkOpenssl(X509_sign(cert.get(), signingKey, digest) > 0, "signing the certificate");
    return cert;
}

TestCert makeLeaf(const TestCert* issuer, const CertOptions& options) {
    TestCert out;
    out.key = makeKey(options.keyType);
    out.cert = issue(*out.key, issuer, options);
    return out;
}

TestCert makeCa(const std::string& commonName, std::string_view keyType) {
    CertOptions options;
    options.commonName = commonName;
    options.isCa = true;
    options.keyType = std::string(keyType);
    options.notAfter = std::chrono::system_clock::now() + std::chrono::hours(24 * 3650);
    return makeLeaf(nullptr, options);
}

TestCert makeIntermediate(const TestCert& issuer, const std::string& commonName,
                          std::string_view keyType) {
    CertOptions options;
    options.commonName = commonName;
    options.isCa = true;
    options.keyType = std::string(keyType);
    options.notAfter = std::chrono::system_clock::now() + std::chrono::hours(24 * 1825);
    return makeLeaf(&issuer, options);
}

std::string toPem(X509& cert) {
    certmgr::BioPtr bio = certmgr::memoryBio("");
    checkOpenssl(PEM_write_bio_X509(bio.get(), &cert) == 1, "writing a certificate as PEM");
    return certmgr::bioContents(*bio);
}

std::string keyToPem(EVP_PKEY& key, const std::optional<std::string>& passphrase) {
    certmgr::BioPtr bio = certmgr::memoryBio("");
    int ok = 0;
    if (passphrase) {
        ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), &key, EVP_aes_256_cbc(), passphrase->data(),
                                           static_cast<int>(passphrase->size()), nullptr, nullptr);
    } else {
        ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), &key, nullptr, nullptr, 0, nullptr, nullptr);
    }
    checkOpenssl(ok == 1, "writing a private key as PEM");
    return certmgr::bioContents(*bio);
}

void writeFile(const std::string& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) {
        throw std::runtime_error("cannot write " + path);
    }
}

std::string makePkcs12(X509& cert, EVP_PKEY& key, const std::vector<X509*>& chain,
                       const std::string& password, bool legacy) {
    certmgr::X509StackPtr stack(sk_X509_new_null());
    checkOpenssl(stack != nullptr, "allocating a certificate stack");
    for (X509* extra : chain) {
        checkOpenssl(X509_up_ref(extra) == 1, "referencing a chain certificate");
        X509Ptr owned(extra);
        checkOpenssl(sk_X509_push(stack.get(), owned.get()) > 0, "stacking a chain certificate");
        owned.release();  // the stack owns it now
    }
    certmgr::Pkcs12Ptr p12;
    if (legacy) {
        p12.reset(PKCS12_create_ex(password.c_str(), "tlsgate test", &key, &cert, stack.get(),
                                   NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
                                   NID_pbe_WithSHA1And40BitRC2_CBC, 0, 0, 0, &legacyContext(),
                                   nullptr));
    } else {
        p12.reset(PKCS12_create(password.c_str(), "tlsgate test", &key, &cert, stack.get(), 0, 0, 0,
                                0, 0));
    }
    checkOpenssl(p12 != nullptr, legacy ? "creating a legacy PKCS#12" : "creating a PKCS#12");
    certmgr::BioPtr bio = certmgr::memoryBio("");
    checkOpenssl(i2d_PKCS12_bio(bio.get(), p12.get()) == 1, "encoding a PKCS#12");
    return certmgr::bioContents(*bio);
}

TempDir::TempDir() {
    std::string pattern = "/tmp/tlsgate-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::file(std::string_view name) const {
    return path_ + "/" + std::string(name);
}

}  // namespace tlsgate::testing
