// TLS helpers both directions share (receiving: tls_server.cc, sending: smtp_client.cc):
// setup errors with OpenSSL's reasons, version names, negotiated group, handshake failure text.
// Pure; each call drains the thread's OpenSSL error queue where it reads it.
#pragma once

#include <openssl/ssl.h>

#include <string>

#include "tlsgate/gateway/tls_server.h"

namespace tlsgate::gateway::tls {

/// "what: OpenSSL's reasons", draining the error queue.
TlsSetupError setupError(const std::string& what);
/// TLS1_2_VERSION for "TLSv1.2", TLS1_3_VERSION for "TLSv1.3"; throws TlsSetupError otherwise.
int minProtocolVersion(const std::string& name);
/// The negotiated key-exchange group: "X25519", "P-256"; empty when none.
std::string groupName(SSL& ssl);
/// Why SSL_accept or SSL_connect failed, from SSL_get_error, the error queue (drained) and errno.
std::string handshakeError(SSL& ssl, int rc, int savedErrno);

}  // namespace tlsgate::gateway::tls
