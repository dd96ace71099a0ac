// OpenSSL error-queue draining and memory BIO helpers.
#include "tlsgate/certmgr/ossl.h"

#include <openssl/err.h>

namespace tlsgate::certmgr {

std::string drainOpensslErrors() {
    std::string out;
    unsigned long code = 0;
    const char* data = nullptr;
    int flags = 0;
    while ((code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        if (!out.empty()) {
            out += "; ";
        }
        const char* reason = ERR_reason_error_string(code);
        out += reason != nullptr ? reason : buffer;
        if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0') {
            out += " (";
            out += data;
            out += ")";
        }
    }
    return out;
}

namespace {
std::string withReasons(std::string_view what) {
    std::string message(what);
    std::string reasons = drainOpensslErrors();
    if (!reasons.empty()) {
        message += ": ";
        message += reasons;
    }
    return message;
}
}  // namespace

OpensslError::OpensslError(std::string_view what) : std::runtime_error(withReasons(what)) {}

BioPtr memoryBio(std::string_view data) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    checkOpenssl(bio != nullptr, "allocating a memory BIO");
    if (!data.empty()) {
        checkOpenssl(BIO_write(bio.get(), data.data(), static_cast<int>(data.size())) ==
                         static_cast<int>(data.size()),
                     "filling a memory BIO");
    }
    return bio;
}

std::string bioContents(BIO& bio) {
    char* data = nullptr;
    long length = BIO_get_mem_data(&bio, &data);
    if (length <= 0 || data == nullptr) {
        return {};
    }
    return std::string(data, static_cast<std::size_t>(length));
}

}  // namespace tlsgate::certmgr
