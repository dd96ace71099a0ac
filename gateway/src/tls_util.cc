// TLS helpers shared by the receiving and the sending side.
#include "tls_util.h"

#include <openssl/ec.h>

#include <cerrno>
#include <cstring>

#include "tlsgate/certmgr/ossl.h"

namespace tlsgate::gateway::tls {

using certmgr::drainOpensslErrors;

/// "what: OpenSSL's reasons", draining the error queue.
TlsSetupError setupError(const std::string& what) {
    std::string reasons = drainOpensslErrors();
    return TlsSetupError(reasons.empty() ? what : what + ": " + reasons);
}

int minProtocolVersion(const std::string& name) {
    if (name == "TLSv1.2") {
        return TLS1_2_VERSION;
    }
    if (name == "TLSv1.3") {
        return TLS1_3_VERSION;
    }
    throw TlsSetupError("minimum TLS version \"" + name + "\": expected TLSv1.2 or TLSv1.3");
}

std::string groupName(SSL& ssl) {
    int nid = static_cast<int>(SSL_get_negotiated_group(&ssl));
    if (nid == NID_undef || nid == 0) {
        return {};
    }
    if (const char* nist = EC_curve_nid2nist(nid)) {
        return nist;  // "P-256" rather than "prime256v1"
    }
    if (const char* name = OBJ_nid2sn(nid)) {
        return name;
    }
    const char* name = SSL_group_to_name(&ssl, nid);
    return name != nullptr ? name : std::string();
}

std::string handshakeError(SSL& ssl, int rc, int savedErrno) {
    int code = SSL_get_error(&ssl, rc);
    std::string reasons = drainOpensslErrors();
    switch (code) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            // A blocking socket only asks to retry when its SO_RCVTIMEO / SO_SNDTIMEO expired.
            return "timed out";
        case SSL_ERROR_SYSCALL:
            if (!reasons.empty()) {
                return reasons;
            }
            if (savedErrno == EAGAIN || savedErrno == EWOULDBLOCK) {
                return "timed out";
            }
            if (savedErrno != 0) {
                return std::strerror(savedErrno);
            }
            return "connection closed during the handshake";
        case SSL_ERROR_ZERO_RETURN:
            return "connection closed during the handshake";
        default:
            return reasons.empty() ? "handshake failed (SSL error " + std::to_string(code) + ")"
                                   : reasons;
    }
}

}  // namespace tlsgate::gateway::tls
