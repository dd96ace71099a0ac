// libFuzzer target: certificate import (certmgr/include/tlsgate/certmgr/import.h). The input is
// written as a certificate file (PEM, or DER as a courtesy) and, separately, as a PKCS#12 file;
// loadForImport() reads each with a fixed password ("fuzz"). Invariants: only ImportError (or
// std::invalid_argument for a bad request) escapes; an accepted import has a leaf, a key and a
// chain without the leaf. The clock is fixed so a crash reproduces on any day.
#include <openssl/err.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>

#include "fuzz_support.h"
#include "tlsgate/certmgr/import.h"

namespace certmgr = tlsgate::certmgr;
using tlsgate::fuzz::check;

namespace {

/// 2026-11-26T00:00:00Z: inside the validity of the seed certificates (made 2026-11-25, 30 days).
constexpr std::int64_t kNow = 1795651200;

void importOnce(certmgr::ImportRequest request, const char* what) {
    request.password = [] { return std::string("fuzz"); };
    request.hostname = "mx.example.test";
    request.now = tlsgate::TimePoint(std::chrono::seconds(kNow));
    std::string outcome = "accepted";
    try {
        const certmgr::ImportedMaterial material = certmgr::loadForImport(request);
        check(material.leaf != nullptr && material.key != nullptr, "import without leaf or key");
        for (const auto& cert : material.chain) {
            check(cert != nullptr && X509_cmp(cert.get(), material.leaf.get()) != 0,
                  "the chain holds the leaf");
        }
    } catch (const certmgr::ImportError& e) {
        check(!e.reason().empty(), "ImportError without a reason");
        outcome = "ImportError: " + e.reason();
    } catch (const std::invalid_argument& e) {
        outcome = std::string("invalid_argument: ") + e.what();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: loadForImport threw %s: %s\n", what, typeid(e).name(), e.what());
        check(false, "loadForImport threw something other than ImportError");
    }
    if (const unsigned long left = ERR_peek_error(); left != 0) {
        char reason[256];
        ERR_error_string_n(left, reason, sizeof reason);
        std::fprintf(stderr, "%s (%s): left in the OpenSSL error queue: %s\n", what,
                     outcome.c_str(), reason);
        check(false, "OpenSSL error queue left non-empty");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const tlsgate::fuzz::ScratchDirectory scratch;
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);

    certmgr::ImportRequest pem;
    pem.certFile = scratch.write("cert.pem", bytes);
    pem.role = size % 2 == 0 ? certmgr::Role::Server : certmgr::Role::Client;
    importOnce(pem, "PEM/DER");

    certmgr::ImportRequest pkcs12;
    pkcs12.pkcs12File = scratch.write("bundle.p12", bytes);
    importOnce(pkcs12, "PKCS#12");
    return 0;
}
