// Reading and checking import material (PEM or PKCS#12); called by the certmgr CLI's thread.
// Refusals throw ImportError(file, reason), warnings are returned; OpenSSL's queue is drained.
#include "tlsgate/certmgr/import.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <utility>

#include "tlsgate/certmgr/certificate.h"

namespace tlsgate::certmgr {

namespace {

struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
};
/// Memory OpenSSL allocated for us (PEM_read_bio's name, header and data).
struct OpensslFree {
    void operator()(void* p) const { OPENSSL_free(p); }
};
template <class T>
using OpensslMemory = std::unique_ptr<T, OpensslFree>;

std::string readFile(const std::string& path) {
    errno = 0;
    std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    if (!file) {
        throw ImportError(path, std::string("cannot open the file: ") + std::strerror(errno));
    }
    std::string content;
    std::array<char, 8192> buffer{};
    std::size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
        content.append(buffer.data(), n);
    }
    if (std::ferror(file.get()) != 0) {
        throw ImportError(path, std::string("cannot read the file: ") + std::strerror(errno));
    }
    return content;
}

std::string nameText(X509_NAME* name) {
    BioPtr bio = memoryBio("");
    if (name == nullptr ||
        X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
        drainOpensslErrors();
        return "?";
    }
    return bioContents(*bio);
}

std::string subjectOf(X509& cert) {
    return nameText(X509_get_subject_name(&cert));
}

/// Asks the operator's password function at most once per import, and only when OpenSSL needs a
/// password. Its callback never lets an exception cross OpenSSL's C frames: it keeps it for
/// rethrowIfFailed().
class PasswordSource {
  public:
    explicit PasswordSource(const std::function<std::string()>& ask) : ask_(ask) {}

    const std::string& get() {
        if (!cached_) {
            cached_ = ask_ ? ask_() : std::string();
        }
        return *cached_;
    }
    bool canAsk() const { return static_cast<bool>(ask_); }

    /// Before each read: forget whether the previous one needed the password.
    void beginRead() {
        called_ = false;
        missing_ = false;
    }
    bool called() const { return called_; }
    bool missing() const { return missing_; }
    void rethrowIfFailed() {
        if (failure_) {
            std::rethrow_exception(std::exchange(failure_, nullptr));
        }
    }

    static int callback(char* buffer, int size, int /*rwflag*/, void* self) {
        auto& source = *static_cast<PasswordSource*>(self);
        source.called_ = true;
        if (!source.canAsk()) {
            source.missing_ = true;
            return -1;
        }
        try {
            const std::string& password = source.get();
            if (size < 0 || password.size() > static_cast<std::size_t>(size)) {
                return -1;
            }
            std::memcpy(buffer, password.data(), password.size());
            return static_cast<int>(password.size());
        } catch (...) {
            source.failure_ = std::current_exception();
            return -1;
        }
    }

  private:
    const std::function<std::string()>& ask_;
    std::optional<std::string> cached_;
    std::exception_ptr failure_;
    bool called_ = false;
    bool missing_ = false;
};

/// One PEM private key block, decoded (and decrypted with the password when needed).
EvpPkeyPtr decodePemKey(const char* name, const char* header, const unsigned char* data,
                        long length, const std::string& file, PasswordSource& password) {
    BioPtr block = memoryBio("");
    checkOpenssl(PEM_write_bio(block.get(), name, header, data, length) > 0,
                 "re-encoding a PEM key block");
    password.beginRead();
    EvpPkeyPtr key(
        PEM_read_bio_PrivateKey(block.get(), nullptr, &PasswordSource::callback, &password));
    if (key) {
        return key;
    }
    const std::string reasons = drainOpensslErrors();
    password.rethrowIfFailed();
    if (password.missing()) {
        throw ImportError(file, "the private key is encrypted and no password was given");
    }
    if (password.called()) {
        throw ImportError(file, "wrong password for the private key");
    }
    throw ImportError(file, "cannot read the private key: " + reasons);
}

struct PemContents {
    std::vector<X509Ptr> certificates;
    std::vector<EvpPkeyPtr> keys;
    bool anyBlock = false;
};

/// Every certificate of a PEM (or, as a courtesy, DER) file, and its private keys when `withKeys`.
PemContents readPemOrDer(const std::string& file, PasswordSource& password, bool withKeys) {
    const std::string content = readFile(file);
    PemContents out;
    BioPtr in = memoryBio(content);
    for (;;) {
        char* rawName = nullptr;
        char* rawHeader = nullptr;
        unsigned char* rawData = nullptr;
        long length = 0;
        if (PEM_read_bio(in.get(), &rawName, &rawHeader, &rawData, &length) != 1) {
            const unsigned long last = ERR_peek_last_error();
            const bool atEnd =
                ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
            const std::string reasons = drainOpensslErrors();
            if (!atEnd) {
                throw ImportError(file, "broken PEM block: " + reasons);
            }
            break;
        }
        OpensslMemory<char> name(rawName);
        OpensslMemory<char> header(rawHeader);
        OpensslMemory<unsigned char> data(rawData);
        out.anyBlock = true;
        const std::string_view kind(name.get());
        if (kind == PEM_STRING_X509 || kind == PEM_STRING_X509_OLD) {
            const unsigned char* cursor = data.get();
            X509Ptr cert(d2i_X509(nullptr, &cursor, length));
            if (!cert) {
                throw ImportError(file, "unreadable certificate: " + drainOpensslErrors());
            }
            out.certificates.push_back(std::move(cert));
        } else if (withKeys && kind.ends_with("PRIVATE KEY")) {
            out.keys.push_back(
                decodePemKey(name.get(), header.get(), data.get(), length, file, password));
        }
        // Other blocks (EC PARAMETERS, ...) carry nothing we need.
    }
    if (!out.anyBlock && !content.empty()) {
        // Not PEM at all: perhaps a DER certificate or an unencrypted DER key.
        const auto* bytes = reinterpret_cast<const unsigned char*>(content.data());
        const auto size = static_cast<long>(content.size());
        const unsigned char* cursor = bytes;
        if (X509Ptr cert{d2i_X509(nullptr, &cursor, size)}) {
            out.certificates.push_back(std::move(cert));
        } else if (withKeys) {
            cursor = bytes;
            if (EvpPkeyPtr key{d2i_AutoPrivateKey(nullptr, &cursor, size)}) {
                out.keys.push_back(std::move(key));
            }
        }
        drainOpensslErrors();
    }
    return out;
}

constexpr const char* kNoCertificate =
    "no PEM certificate found (expected -----BEGIN CERTIFICATE-----)";

/// What the files hold before any check: a key, the certificates, and where each came from.
struct RawMaterial {
    EvpPkeyPtr key;
    std::string keyFile;
    std::vector<X509Ptr> certificates;  // the leaf is among them
    std::string certFile;               // named for the leaf's checks
    std::string chainFile;              // named when the chain does not connect
};

RawMaterial readPemFiles(const ImportRequest& request, PasswordSource& password) {
    RawMaterial raw;
    raw.certFile = *request.certFile;
    raw.chainFile = request.chainFile.value_or(raw.certFile);

    PemContents main = readPemOrDer(raw.certFile, password, !request.keyFile.has_value());
    if (main.certificates.empty()) {
        throw ImportError(raw.certFile, kNoCertificate);
    }
    raw.certificates = std::move(main.certificates);
    std::vector<EvpPkeyPtr> keys = std::move(main.keys);
    raw.keyFile = raw.certFile;
    if (request.keyFile) {
        raw.keyFile = *request.keyFile;
        keys = std::move(readPemOrDer(raw.keyFile, password, true).keys);
        if (keys.empty()) {
            throw ImportError(raw.keyFile,
                              "no private key found (expected -----BEGIN PRIVATE KEY-----)");
        }
    }
    if (keys.empty()) {
        throw ImportError(raw.keyFile, "no private key found; give it with --key");
    }
    if (keys.size() > 1) {
        throw ImportError(raw.keyFile, "more than one private key in the file");
    }
    raw.key = std::move(keys.front());

    if (request.chainFile) {
        PemContents chain = readPemOrDer(*request.chainFile, password, false);
        if (chain.certificates.empty()) {
            throw ImportError(*request.chainFile, kNoCertificate);
        }
        for (auto& cert : chain.certificates) {
            raw.certificates.push_back(std::move(cert));
        }
    }
    return raw;
}

bool errorsSayUnsupported(const std::string& reasons) {
    return reasons.find("unsupported") != std::string::npos ||
           reasons.find("unknown cipher") != std::string::npos;
}

/// `text` as one shell word, quoted when it holds anything but plain path characters.
std::string shellWord(const std::string& text) {
    const bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
               (c != '\0' && std::strchr("/._-+,:@", c) != nullptr);
    });
    if (plain) {
        return text;
    }
    std::string quoted = "'";
    for (char c : text) {
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return quoted + "'";
}

std::string legacyMessage(const std::string& file) {
    return "the PKCS#12 file uses legacy encryption (such as RC2-40-CBC) and OpenSSL's legacy "
           "provider is not available; convert it with: openssl pkcs12 -legacy -in " +
           shellWord(file) +
           " -nodes -out tmp.pem && openssl pkcs12 -export -in tmp.pem -out new.p12 (then "
           "delete tmp.pem: it holds the unencrypted key)";
}

using ProviderPtr = std::unique_ptr<OSSL_PROVIDER, OsslDeleter<OSSL_PROVIDER_unload>>;

/// Makes OpenSSL's legacy provider available in the default library context; true when it is.
/// A provider loaded here lives in `holder`, so it is unloaded again once the file is read: the
/// legacy algorithms never stay enabled for the rest of the process.
bool loadLegacyProvider(ProviderPtr& holder) {
    if (holder || OSSL_PROVIDER_available(nullptr, "legacy") == 1) {
        return true;
    }
    // retain_fallbacks = 1: the default provider stays in use beside it.
    holder.reset(OSSL_PROVIDER_try_load(nullptr, "legacy", 1));
    drainOpensslErrors();
    return holder != nullptr;
}

RawMaterial readPkcs12File(const std::string& file, PasswordSource& password) {
    const std::string content = readFile(file);
    const auto* cursor = reinterpret_cast<const unsigned char*>(content.data());
    Pkcs12Ptr p12(d2i_PKCS12(nullptr, &cursor, static_cast<long>(content.size())));
    if (!p12) {
        throw ImportError(file, "not a PKCS#12 file: " + drainOpensslErrors());
    }
    ProviderPtr legacy;  // loaded only if needed; unloaded when this returns

    // An empty password is tried first so that the operator is asked only when one is needed.
    std::string pass;
    if (PKCS12_mac_present(p12.get()) == 1) {
        const bool emptyWorks = PKCS12_verify_mac(p12.get(), nullptr, 0) == 1 ||
                                PKCS12_verify_mac(p12.get(), "", 0) == 1;
        drainOpensslErrors();
        if (!emptyWorks) {
            pass = password.get();
            bool verified = PKCS12_verify_mac(p12.get(), pass.c_str(), -1) == 1;
            std::string reasons = verified ? std::string() : drainOpensslErrors();
            if (!verified && errorsSayUnsupported(reasons) && loadLegacyProvider(legacy)) {
                verified = PKCS12_verify_mac(p12.get(), pass.c_str(), -1) == 1;
                reasons = verified ? std::string() : drainOpensslErrors();
            }
            if (!verified) {
                if (errorsSayUnsupported(reasons)) {
                    throw ImportError(file, legacyMessage(file));
                }
                throw ImportError(file, "wrong PKCS#12 password");
            }
        }
    } else {
        pass = password.get();
    }

    EVP_PKEY* rawKey = nullptr;
    X509* rawCert = nullptr;
    STACK_OF(X509)* rawCa = nullptr;
    auto parse = [&] {
        return PKCS12_parse(p12.get(), pass.c_str(), &rawKey, &rawCert, &rawCa) == 1;
    };
    bool parsed = parse();
    std::string reasons = parsed ? std::string() : drainOpensslErrors();
    if (!parsed && errorsSayUnsupported(reasons)) {
        if (!loadLegacyProvider(legacy)) {
            throw ImportError(file, legacyMessage(file));
        }
        parsed = parse();
        reasons = parsed ? std::string() : drainOpensslErrors();
    }
    if (!parsed) {
        throw ImportError(file, "cannot read the PKCS#12 file: " + reasons);
    }

    RawMaterial raw;
    raw.key.reset(rawKey);
    X509Ptr cert(rawCert);
    X509StackPtr ca(rawCa);
    raw.keyFile = raw.certFile = raw.chainFile = file;
    if (!raw.key) {
        throw ImportError(file, "no private key found in the PKCS#12 file");
    }
    if (cert) {
        raw.certificates.push_back(std::move(cert));
    }
    while (ca && sk_X509_num(ca.get()) > 0) {
        raw.certificates.emplace_back(sk_X509_shift(ca.get()));
    }
    if (raw.certificates.empty()) {
        throw ImportError(file, "no certificate found in the PKCS#12 file");
    }
    return raw;
}

/// The certificate whose public key is `key`'s, taken out of `certificates`.
X509Ptr takeLeaf(std::vector<X509Ptr>& certificates, EVP_PKEY& key, const std::string& keyFile) {
    auto leaf = std::find_if(certificates.begin(), certificates.end(), [&](const X509Ptr& cert) {
        EVP_PKEY* pub = X509_get0_pubkey(cert.get());
        return pub != nullptr && EVP_PKEY_eq(pub, &key) == 1;
    });
    drainOpensslErrors();
    if (leaf == certificates.end()) {
        throw ImportError(keyFile, "the private key does not match the certificate");
    }
    X509Ptr out = std::move(*leaf);
    certificates.erase(leaf);
    return out;
}

void checkValidity(X509& leaf, TimePoint now, const std::string& file) {
    const TimePoint notBefore = toTimePoint(*X509_get0_notBefore(&leaf));
    const TimePoint notAfter = toTimePoint(*X509_get0_notAfter(&leaf));
    if (now > notAfter) {
        throw ImportError(file, "the certificate expired on " + formatTime(notAfter));
    }
    if (now < notBefore) {
        throw ImportError(
            file, "the certificate is not valid yet (valid from " + formatTime(notBefore) + ")");
    }
}

/// Refuses a certificate whose extensions OpenSSL could not decode: the usages read from it
/// would mean nothing.
void checkExtensionsReadable(X509& leaf, const std::string& file) {
    if ((X509_get_extension_flags(&leaf) & EXFLAG_INVALID) != 0) {
        const std::string reasons = drainOpensslErrors();
        throw ImportError(file, "the certificate has an invalid extension" +
                                    (reasons.empty() ? std::string() : " (" + reasons + ")"));
    }
}

void checkExtendedKeyUsage(X509& leaf, Role role, const std::string& file) {
    const std::uint32_t flags = X509_get_extension_flags(&leaf);
    if ((flags & EXFLAG_XKUSAGE) == 0) {
        return;  // no extendedKeyUsage: any use
    }
    const std::uint32_t usages = X509_get_extended_key_usage(&leaf);
    const std::uint32_t needed = role == Role::Server ? XKU_SSL_SERVER : XKU_SSL_CLIENT;
    if ((usages & (needed | XKU_ANYEKU)) == 0) {
        const std::string name = role == Role::Server ? "serverAuth" : "clientAuth";
        throw ImportError(file, "extendedKeyUsage does not include " + name +
                                    ", required for the " + std::string(toString(role)) + " role");
    }
}

std::vector<std::string> dnsNamesOf(X509& cert) {
    std::vector<std::string> names;
    GeneralNamesPtr sans(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(&cert, NID_subject_alt_name, nullptr, nullptr)));
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
        const GENERAL_NAME* entry = sk_GENERAL_NAME_value(sans.get(), i);
        if (entry->type == GEN_DNS) {
            const ASN1_IA5STRING* dns = entry->d.dNSName;
            names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                               static_cast<std::size_t>(ASN1_STRING_length(dns)));
        }
    }
    drainOpensslErrors();
    return names;
}

std::optional<std::string> hostnameWarning(X509& leaf, const std::string& hostname) {
    if (hostname.empty()) {
        return std::nullopt;
    }
    // subjectAltName only (never the CN); a wildcard stands for exactly one whole label.
    const unsigned int flags =
        X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;
    const int match = X509_check_host(&leaf, hostname.c_str(), hostname.size(), flags, nullptr);
    drainOpensslErrors();
    if (match == 1) {
        return std::nullopt;
    }
    std::string names;
    for (const auto& name : dnsNamesOf(leaf)) {
        names += names.empty() ? "" : ", ";
        names += name;
    }
    return "hostname " + hostname + " is not among the subjectAltName DNS names (" +
           (names.empty() ? std::string("none") : names) + ")";
}

std::optional<std::string> expiryWarning(X509& leaf, TimePoint now, int warningDays) {
    const TimePoint notAfter = toTimePoint(*X509_get0_notAfter(&leaf));
    if (notAfter - now >= std::chrono::hours(24) * warningDays) {
        return std::nullopt;
    }
    return "expires in " + std::to_string(daysLeft(notAfter, now)) + " days (" +
           formatTime(notAfter) + ")";
}

std::optional<std::string> trustWarning(X509& leaf, const std::vector<X509Ptr>& chain,
                                        X509_STORE& trust, TimePoint now) {
    X509StackPtr untrusted(sk_X509_new_null());
    checkOpenssl(untrusted != nullptr, "allocating a certificate stack");
    for (const auto& cert : chain) {
        checkOpenssl(X509_up_ref(cert.get()) == 1, "referencing a chain certificate");
        X509Ptr reference(cert.get());
        checkOpenssl(sk_X509_push(untrusted.get(), reference.get()) > 0,
                     "stacking a chain certificate");
        reference.release();  // the stack owns the reference now
    }
    X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    checkOpenssl(ctx != nullptr, "allocating a verification context");
    checkOpenssl(X509_STORE_CTX_init(ctx.get(), &trust, &leaf, untrusted.get()) == 1,
                 "starting chain verification");
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()),
                               std::chrono::system_clock::to_time_t(now));
    const bool verified = X509_verify_cert(ctx.get()) == 1;
    const int error = X509_STORE_CTX_get_error(ctx.get());
    drainOpensslErrors();
    if (verified) {
        return std::nullopt;
    }
    return std::string("the chain does not lead to a trusted root: ") +
           X509_verify_cert_error_string(error);
}

}  // namespace

std::string_view toString(Role role) {
    switch (role) {
        case Role::Server:
            return "server";
        case Role::Client:
            return "client";
    }
    return "?";
}

Role parseRole(std::string_view text) {
    if (text == "server") {
        return Role::Server;
    }
    if (text == "client") {
        return Role::Client;
    }
    throw std::invalid_argument("unknown role '" + std::string(text) +
                                "' (expected server or client)");
}

ImportError::ImportError(std::string file, std::string reason)
    : std::runtime_error(file + ": " + reason),
      file_(std::move(file)),
      reason_(std::move(reason)) {}

void checkKeyMatches(X509& cert, EVP_PKEY& key, const std::string& file) {
    std::array<unsigned char, 64> message{};
    checkOpenssl(RAND_bytes(message.data(), static_cast<int>(message.size())) == 1,
                 "drawing random bytes");
    // Ed25519 and Ed448 sign the message itself: no separate digest.
    const int type = EVP_PKEY_get_base_id(&key);
    const EVP_MD* digest =
        (type == EVP_PKEY_ED25519 || type == EVP_PKEY_ED448) ? nullptr : EVP_sha256();

    EvpMdCtxPtr signer(EVP_MD_CTX_new());
    std::size_t length = 0;
    std::vector<unsigned char> signature;
    bool signedOk =
        signer != nullptr &&
        EVP_DigestSignInit(signer.get(), nullptr, digest, nullptr, &key) == 1 &&
        EVP_DigestSign(signer.get(), nullptr, &length, message.data(), message.size()) == 1;
    if (signedOk) {
        signature.resize(length);
        signedOk = EVP_DigestSign(signer.get(), signature.data(), &length, message.data(),
                                  message.size()) == 1;
        signature.resize(length);
    }
    if (!signedOk) {
        throw ImportError(file, "cannot sign with the private key: " + drainOpensslErrors());
    }

    EVP_PKEY* pub = X509_get0_pubkey(&cert);
    EvpMdCtxPtr verifier(EVP_MD_CTX_new());
    const bool matches = pub != nullptr && verifier != nullptr &&
                         EVP_DigestVerifyInit(verifier.get(), nullptr, digest, nullptr, pub) == 1 &&
                         EVP_DigestVerify(verifier.get(), signature.data(), signature.size(),
                                          message.data(), message.size()) == 1;
    drainOpensslErrors();
    if (!matches) {
        throw ImportError(file, "the private key does not match the certificate");
    }
}

void checkKeyAcceptable(EVP_PKEY& key, const std::string& file) {
    switch (EVP_PKEY_get_base_id(&key)) {
        case EVP_PKEY_RSA: {
            const int bits = EVP_PKEY_get_bits(&key);
            if (bits < 2048) {
                throw ImportError(file, "RSA key of " + std::to_string(bits) +
                                            " bits is too small (at least 2048)");
            }
            return;
        }
        case EVP_PKEY_EC: {
            std::array<char, 80> group{};
            std::size_t length = 0;
            if (EVP_PKEY_get_utf8_string_param(&key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(),
                                               group.size(), &length) != 1) {
                throw ImportError(file,
                                  "cannot tell the curve of the EC key: " + drainOpensslErrors());
            }
            const int nid = OBJ_sn2nid(group.data());
            if (nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 || nid == NID_secp521r1) {
                return;
            }
            const char* nist = nid != NID_undef ? EC_curve_nid2nist(nid) : nullptr;
            throw ImportError(file, "unsupported curve " +
                                        std::string(nist != nullptr ? nist : group.data()) +
                                        " (supported: P-256, P-384, P-521)");
        }
        case EVP_PKEY_ED25519:
            return;
        default: {
            const char* name = EVP_PKEY_get0_type_name(&key);
            throw ImportError(file, "unsupported key type " +
                                        std::string(name != nullptr ? name : "unknown") +
                                        " (supported: RSA, EC, Ed25519)");
        }
    }
}

std::vector<X509Ptr> orderChain(X509& leaf, std::vector<X509Ptr> pool, const std::string& file) {
    // Duplicates (of the leaf or of each other) carry nothing: drop them.
    std::vector<X509Ptr> unique;
    for (auto& cert : pool) {
        const bool seen = X509_cmp(cert.get(), &leaf) == 0 ||
                          std::any_of(unique.begin(), unique.end(), [&](const X509Ptr& kept) {
                              return X509_cmp(cert.get(), kept.get()) == 0;
                          });
        if (!seen) {
            unique.push_back(std::move(cert));
        }
    }

    std::vector<X509Ptr> chain;
    X509* current = &leaf;
    while (X509_self_signed(current, 1) != 1) {
        auto issuer = std::find_if(unique.begin(), unique.end(), [&](const X509Ptr& candidate) {
            return X509_check_issued(candidate.get(), current) == X509_V_OK &&
                   X509_verify(current, X509_get0_pubkey(candidate.get())) == 1;
        });
        if (issuer == unique.end()) {
            break;
        }
        chain.push_back(std::move(*issuer));
        unique.erase(issuer);
        current = chain.back().get();
    }
    drainOpensslErrors();

    if (!unique.empty()) {
        throw ImportError(file, "the chain does not connect: certificate '" +
                                    subjectOf(*unique.front()) +
                                    "' is not an issuer in the chain of '" + subjectOf(leaf) + "'");
    }
    return chain;
}

namespace {
ImportedMaterial check(const ImportRequest& request, RawMaterial raw);
}

ImportedMaterial loadForImport(const ImportRequest& request) {
    if (request.pkcs12File && (request.certFile || request.keyFile || request.chainFile)) {
        throw std::invalid_argument(
            "give either a PKCS#12 file or PEM files (certificate, key, chain), not both");
    }
    if (!request.pkcs12File && !request.certFile) {
        throw std::invalid_argument("a certificate file or a PKCS#12 file is needed");
    }

    PasswordSource password(request.password);
    RawMaterial raw = request.pkcs12File ? readPkcs12File(*request.pkcs12File, password)
                                         : readPemFiles(request, password);
    try {
        return check(request, std::move(raw));
    } catch (const OpensslError& e) {
        // Anything OpenSSL cannot read in a parsed certificate (a malformed time, say) is a
        // refusal of the input like any other, named by its file.
        throw ImportError(request.pkcs12File.value_or(request.certFile.value_or("")),
                          std::string("unreadable certificate: ") + e.what());
    }
}

namespace {

ImportedMaterial check(const ImportRequest& request, RawMaterial raw) {
    ImportedMaterial out;
    out.leaf = takeLeaf(raw.certificates, *raw.key, raw.keyFile);
    checkKeyAcceptable(*raw.key, raw.keyFile);
    checkKeyMatches(*out.leaf, *raw.key, raw.keyFile);
    checkExtensionsReadable(*out.leaf, raw.certFile);
    checkValidity(*out.leaf, request.now, raw.certFile);
    checkExtendedKeyUsage(*out.leaf, request.role, raw.certFile);
    out.chain = orderChain(*out.leaf, std::move(raw.certificates), raw.chainFile);
    out.key = std::move(raw.key);

    if (auto warning = hostnameWarning(*out.leaf, request.hostname)) {
        out.warnings.push_back(std::move(*warning));
    }
    if (auto warning = expiryWarning(*out.leaf, request.now, request.warningDays)) {
        out.warnings.push_back(std::move(*warning));
    }
    if (request.trust != nullptr) {
        if (auto warning = trustWarning(*out.leaf, out.chain, *request.trust, request.now)) {
            out.warnings.push_back(std::move(*warning));
        }
    }
    return out;
}

}  // namespace

}  // namespace tlsgate::certmgr
