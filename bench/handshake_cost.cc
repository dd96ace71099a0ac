// tlsgate-hscost: what one server-side TLS 1.3 handshake costs inside OpenSSL alone, with no
// socket, thread or SMTP around it, beside what its cryptography costs; the ceiling against which
// bench.sh reads the gateway's handshake rate. Client and server run in one thread over a BIO
// pair, a fresh SSL object per handshake as a server has per connection, an ECDSA P-256
// certificate, X25519, the gateway's TLS 1.3 suite order and one session ticket (as the gateway
// sends). The server's CPU is the thread CPU clock around its calls only.
//   tlsgate-hscost [HANDSHAKES] [TICKETS]      default 3000 1
// Prints one line of key=value figures (microseconds); exits 1 on an OpenSSL failure.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

struct Free {
    void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
    void operator()(SSL* p) const { SSL_free(p); }
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
    void operator()(X509* p) const { X509_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

void check(bool ok, const char* what) {
    if (!ok) {
        ERR_print_errors_fp(stderr);
        throw std::runtime_error(what);
    }
}

/// Nanoseconds of CPU this thread has used.
long long threadCpuNs() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<long long>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Owned<X509> selfSigned(EVP_PKEY* key) {
    Owned<X509> cert(X509_new());
    check(cert != nullptr, "X509_new");
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("hscost.test"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    check(X509_sign(cert.get(), key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

/// Microseconds of CPU: one ECDSA P-256 signature; one X25519 key generation plus one derive.
std::pair<double, double> cryptoCost(EVP_PKEY* key, int count) {
    unsigned char digest[32] = {1};
    unsigned char signature[128];
    Owned<EVP_PKEY_CTX> sign(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
    check(sign && EVP_PKEY_sign_init(sign.get()) > 0, "sign init");
    long long begin = threadCpuNs();
    for (int i = 0; i < count; ++i) {
        std::size_t length = sizeof signature;
        check(EVP_PKEY_sign(sign.get(), signature, &length, digest, sizeof digest) > 0, "sign");
    }
    const double signUs = static_cast<double>(threadCpuNs() - begin) / 1e3 / count;

    Owned<EVP_PKEY> peer(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
    check(peer != nullptr, "X25519 peer");
    begin = threadCpuNs();
    for (int i = 0; i < count; ++i) {
        Owned<EVP_PKEY> mine(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
        Owned<EVP_PKEY_CTX> derive(EVP_PKEY_CTX_new_from_pkey(nullptr, mine.get(), nullptr));
        unsigned char secret[32];
        std::size_t length = sizeof secret;
        check(mine && derive && EVP_PKEY_derive_init(derive.get()) > 0 &&
                  EVP_PKEY_derive_set_peer(derive.get(), peer.get()) > 0 &&
                  EVP_PKEY_derive(derive.get(), secret, &length) > 0,
              "X25519");
    }
    const double x25519Us = static_cast<double>(threadCpuNs() - begin) / 1e3 / count;
    return {signUs, x25519Us};
}

}  // namespace

int main(int argc, char** argv) try {
    const int count = argc > 1 ? std::atoi(argv[1]) : 3000;
    const int tickets = argc > 2 ? std::atoi(argv[2]) : 1;
    if (count <= 0 || tickets < 0) {
        std::fprintf(stderr, "usage: tlsgate-hscost [HANDSHAKES] [TICKETS]\n");
        return 2;
    }
    Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
    check(key != nullptr, "EVP_EC_gen");
    const Owned<X509> cert = selfSigned(key.get());

    Owned<SSL_CTX> server(SSL_CTX_new(TLS_server_method()));
    Owned<SSL_CTX> client(SSL_CTX_new(TLS_client_method()));
    check(server && client, "SSL_CTX_new");
    check(SSL_CTX_use_certificate(server.get(), cert.get()) == 1 &&
              SSL_CTX_use_PrivateKey(server.get(), key.get()) == 1,
          "server certificate");
    SSL_CTX_set_min_proto_version(server.get(), TLS1_3_VERSION);
    SSL_CTX_set_num_tickets(server.get(), static_cast<std::size_t>(tickets));
    check(SSL_CTX_set_ciphersuites(
              server.get(),
              "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256") == 1,
          "suites");
    SSL_CTX_set_session_cache_mode(client.get(), SSL_SESS_CACHE_OFF);

    long long serverNs = 0;
    long long clientNs = 0;
    const auto timed = [](long long& total, auto&& call) {
        const long long begin = threadCpuNs();
        const auto result = call();
        total += threadCpuNs() - begin;
        return result;
    };
    const int warmUp = 50;
    for (int i = 0; i < warmUp + count; ++i) {
        if (i == warmUp) {
            serverNs = clientNs = 0;
        }
        BIO* serverBio = nullptr;
        BIO* clientBio = nullptr;
        check(BIO_new_bio_pair(&serverBio, 0, &clientBio, 0) == 1, "BIO pair");
        Owned<SSL> s(timed(serverNs, [&] { return SSL_new(server.get()); }));
        Owned<SSL> c(SSL_new(client.get()));
        check(s && c, "SSL_new");
        SSL_set_bio(s.get(), serverBio, serverBio);
        SSL_set_accept_state(s.get());
        SSL_set_bio(c.get(), clientBio, clientBio);
        SSL_set_connect_state(c.get());
        bool serverDone = false;
        bool clientDone = false;
        for (int round = 0; round < 20 && !(serverDone && clientDone); ++round) {
            if (!clientDone) {
                clientDone = timed(clientNs, [&] { return SSL_do_handshake(c.get()); }) == 1;
            }
            if (!serverDone) {
                serverDone = timed(serverNs, [&] { return SSL_do_handshake(s.get()); }) == 1;
            }
        }
        check(serverDone && clientDone, "handshake");
        // The client reads the ticket(s) as a real one would; the server frees its object.
        char byte = 0;
        timed(clientNs, [&] { return SSL_read(c.get(), &byte, 1); });
        timed(serverNs, [&] {
            s.reset();
            return 0;
        });
    }
    const auto [signUs, x25519Us] = cryptoCost(key.get(), count);
    const double serverUs = static_cast<double>(serverNs) / 1e3 / count;
    const double cryptoUs = signUs + x25519Us;  // what the server's handshake has to compute
    std::printf(
        "handshakes=%d tickets=%d server_us=%.1f client_us=%.1f sign_us=%.1f x25519_pair_us=%.1f "
        "crypto_us=%.1f server_hs_per_core_s=%.0f crypto_share=%.2f\n",
        count, tickets, serverUs, static_cast<double>(clientNs) / 1e3 / count, signUs, x25519Us,
        cryptoUs, 1e6 / serverUs, cryptoUs / serverUs);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "tlsgate-hscost: %s\n", e.what());
    return 1;
}
