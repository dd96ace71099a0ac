// The sending TLS policy: pure functions of (configured level, what the next hop showed). No I/O,
// no state; any thread. Refusals are SendDecision::Defer with an operator-readable reason.
#include "tlsgate/gateway/send_policy.h"

namespace tlsgate::gateway {

namespace {

/// "mx.example.com[192.0.2.1]", as Postfix names a peer.
std::string peerName(const SendTlsFacts& facts) {
    return facts.host + "[" + facts.address + "]";
}

SendDecision decide(SendAction action, std::string reason = {}) {
    return SendDecision{action, std::move(reason)};
}

}  // namespace

SendDecision decideAfterEhlo(SendTlsLevel level, const SendTlsFacts& facts) {
    switch (level) {
        case SendTlsLevel::NoTls:
            return decide(SendAction::SendPlain);
        case SendTlsLevel::Attempt:
            return decide(facts.startTlsOffered ? SendAction::StartTls : SendAction::SendPlain);
        case SendTlsLevel::RequireNoVerify:
        case SendTlsLevel::RequireVerify:
            if (facts.startTlsOffered) {
                return decide(SendAction::StartTls);
            }
            return decide(SendAction::Defer,
                          "4.7.4 TLS is required, but was not offered by host " + peerName(facts));
    }
    return decide(SendAction::Defer,
                  "4.3.0 internal error: unknown TLS level for " + peerName(facts));
}

SendDecision decideAfterHandshake(SendTlsLevel level, const SendTlsFacts& facts) {
    const std::string peer = peerName(facts);
    if (level == SendTlsLevel::NoTls) {
        // STARTTLS is never issued at this level: reaching here is a bug, not the peer's doing.
        return decide(SendAction::Defer,
                      "4.3.0 internal error: TLS handshake under No TLS Encryption with " + peer);
    }
    if (!facts.handshakeOk) {
        std::string failed =
            "4.7.5 TLS handshake with " + peer + " failed: " + facts.handshakeError;
        if (level == SendTlsLevel::Attempt) {
            return decide(SendAction::RetryPlain, failed + "; retrying without TLS");
        }
        return decide(SendAction::Defer, std::move(failed));
    }
    switch (level) {
        case SendTlsLevel::Attempt:
        case SendTlsLevel::RequireNoVerify:
            return decide(SendAction::SendTls);
        case SendTlsLevel::RequireVerify:
            if (facts.chainVerified && facts.nameMatched) {
                return decide(SendAction::SendTls);
            }
            if (facts.chainVerified) {
                return decide(
                    SendAction::Defer,
                    "4.7.5 Server certificate not verified: hostname mismatch (" + peer + ")");
            }
            return decide(SendAction::Defer,
                          "4.7.5 Server certificate not verified: " +
                              (facts.verifyError.empty() ? std::string("verification failed")
                                                         : facts.verifyError) +
                              " (" + peer + ")");
        case SendTlsLevel::NoTls:
            break;
    }
    return decide(SendAction::Defer, "4.3.0 internal error: unknown TLS level for " + peer);
}

}  // namespace tlsgate::gateway
