// RAII owners for every OpenSSL handle certmgr and the gateway use, and the one helper that turns
// OpenSSL's thread-local error queue into a readable message (draining it). Any thread.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tlsgate::certmgr {

template <auto Fn>
struct OsslDeleter {
    template <class T>
    void operator()(T* p) const {
        Fn(p);
    }
};

using X509Ptr = std::unique_ptr<X509, OsslDeleter<X509_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OsslDeleter<EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OsslDeleter<EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OsslDeleter<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, OsslDeleter<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, OsslDeleter<BN_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OsslDeleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OsslDeleter<X509_STORE_CTX_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OsslDeleter<X509_EXTENSION_free>>;
using Pkcs12Ptr = std::unique_ptr<PKCS12, OsslDeleter<PKCS12_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OsslDeleter<GENERAL_NAMES_free>>;
using ExtendedKeyUsagePtr =
    std::unique_ptr<EXTENDED_KEY_USAGE, OsslDeleter<EXTENDED_KEY_USAGE_free>>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, OsslDeleter<BASIC_CONSTRAINTS_free>>;

/// A STACK_OF(X509) that owns its certificates.
struct X509StackDeleter {
    void operator()(STACK_OF(X509) * stack) const { sk_X509_pop_free(stack, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

/// Empties this thread's OpenSSL error queue and returns its reasons joined by "; "
/// (empty when the queue was empty). Call it wherever an OpenSSL call fails.
std::string drainOpensslErrors();

/// An OpenSSL failure: what we were doing, then OpenSSL's reasons.
class OpensslError : public std::runtime_error {
  public:
    explicit OpensslError(std::string_view what);
};

/// Throws OpensslError(what) when `ok` is false; returns nothing otherwise.
inline void checkOpenssl(bool ok, std::string_view what) {
    if (!ok) {
        throw OpensslError(what);
    }
}

/// A new memory BIO over a copy of `data`.
BioPtr memoryBio(std::string_view data);
/// Everything written to a memory BIO, as a string.
std::string bioContents(BIO& bio);

}  // namespace tlsgate::certmgr
