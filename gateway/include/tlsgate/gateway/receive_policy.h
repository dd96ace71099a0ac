// The receiving TLS and relay policy as pure functions of (configuration, what the client did):
// which commands may proceed, whether STARTTLS is offered, whether a recipient may be relayed to.
// No I/O; unit-tested exhaustively. The session only acts on the decisions.
#pragma once

#include <optional>
#include <string>

#include "tlsgate/gateway/config.h"
#include "tlsgate/gateway/smtp_protocol.h"

namespace tlsgate::gateway {

/// What the session knows about its TLS state when a command arrives.
struct ReceiveTlsFacts {
    bool tlsActive = false;
    bool clientCertPresented = false;
    bool clientCertVerified = false;
    std::string clientCertError;  ///< why verification failed ("certificate has expired", ...)
};

/// A refusal: the reply, the rule for events and counters, and whether to close afterwards.
struct Refusal {
    smtp::Reply reply;
    std::string rule;  ///< "tls-required", "client-certificate-required", "relay-denied"
    std::string reason;
    bool closeAfter = false;
};

/// Whether STARTTLS is advertised in the EHLO reply: not with No TLS Encryption, not once TLS is
/// active, not when no TLS context could be built (then TLS would only fail).
bool offerStartTls(ReceiveTlsLevel level, bool tlsActive, bool tlsAvailable);

/// Whether `verb` may proceed under the TLS settings. Require TLS Encryption: before TLS only
/// EHLO, HELO, STARTTLS, NOOP, RSET and QUIT; anything else gets 530 5.7.0 and the connection is
/// closed. Client certificate Require: MAIL, RCPT and DATA in a session without a verified client
/// certificate get 421 4.7.1 with the reason, and the connection is closed. (The handshake itself
/// never fails over the certificate: a reply tells the sending administrator why, where an alert
/// would only say "handshake failure", and 4xx keeps the mail queued at the sender, not bounced.)
std::optional<Refusal> checkCommand(const ReceiveSettings& settings, smtp::Verb verb,
                                    const ReceiveTlsFacts& facts);

/// Whether a message to `recipient` from `clientAddress` may be accepted: the recipient's domain
/// is a relay domain, or the client is in the trusted networks. Otherwise 554 5.7.1.
std::optional<Refusal> checkRelay(const ReceiveSettings& settings, const std::string& clientAddress,
                                  const std::string& recipient);

}  // namespace tlsgate::gateway
