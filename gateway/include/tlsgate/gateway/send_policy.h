// The sending TLS policy as pure functions of (configured level, what the next hop offered, what
// verification found). DANE and MTA-STS will be more inputs to the same functions. No I/O.
#pragma once

#include <string>

#include "tlsgate/gateway/config.h"

namespace tlsgate::gateway {

/// What the next hop showed during one connection.
struct SendTlsFacts {
    std::string host;     ///< the name we connected to (MX or route host), for messages
    std::string address;  ///< its IP address
    bool startTlsOffered = false;
    bool handshakeAttempted = false;
    bool handshakeOk = false;
    std::string handshakeError;
    bool chainVerified = false;  ///< the chain leads to a trust anchor (name not considered)
    bool nameMatched = false;    ///< RFC 6125 match of `host` against the certificate
    std::string verifyError;     ///< X509 verification error text when !chainVerified
};

enum class SendAction {
    SendPlain,   ///< go on without TLS
    StartTls,    ///< issue STARTTLS
    SendTls,     ///< TLS is up and acceptable: go on
    RetryPlain,  ///< Attempt: the handshake failed; retry this host without TLS on a new connection
    Defer,       ///< not under this policy: try the next host, else keep the message queued
};

struct SendDecision {
    SendAction action = SendAction::Defer;
    /// For Defer: the enhanced status and text an operator can act on, e.g.
    /// "4.7.4 TLS is required, but was not offered by host mx.example.com[192.0.2.1]".
    std::string reason;
};

/// After EHLO: whether to start TLS, send in plaintext, or defer.
SendDecision decideAfterEhlo(SendTlsLevel level, const SendTlsFacts& facts);
/// After a STARTTLS attempt: whether the TLS session may carry the message.
SendDecision decideAfterHandshake(SendTlsLevel level, const SendTlsFacts& facts);

}  // namespace tlsgate::gateway
