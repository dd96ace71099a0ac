// The receiving policy decisions: pure functions, no I/O.
#include "tlsgate/gateway/receive_policy.h"

namespace tlsgate::gateway {

bool offerStartTls(ReceiveTlsLevel level, bool tlsActive, bool tlsAvailable) {
    return level != ReceiveTlsLevel::NoTls && !tlsActive && tlsAvailable;
}

std::optional<Refusal> checkCommand(const ReceiveSettings& settings, smtp::Verb verb,
                                    const ReceiveTlsFacts& facts) {
    using smtp::Verb;
    const bool harmless = verb == Verb::Ehlo || verb == Verb::Helo || verb == Verb::StartTls ||
                          verb == Verb::Noop || verb == Verb::Rset || verb == Verb::Quit;
    if (settings.tlsLevel == ReceiveTlsLevel::Require && !facts.tlsActive && !harmless) {
        return Refusal{{530, "5.7.0", "Must issue a STARTTLS command first"},
                       "tls-required",
                       "TLS is required and the client sent " + std::string(smtp::toString(verb)) +
                           " without it",
                       true};
    }
    const bool mailCommand = verb == Verb::Mail || verb == Verb::Rcpt || verb == Verb::Data;
    if (settings.clientCertificate == ClientCertMode::Require && mailCommand &&
        !(facts.clientCertPresented && facts.clientCertVerified)) {
        std::string reason = !facts.tlsActive ? "no TLS session"
                             : !facts.clientCertPresented
                                 ? "no certificate presented"
                                 : "certificate not accepted: " + (facts.clientCertError.empty()
                                                                       ? std::string("not verified")
                                                                       : facts.clientCertError);
        return Refusal{{421, "4.7.1", "Client certificate required: " + reason},
                       "client-certificate-required",
                       reason,
                       true};
    }
    return std::nullopt;
}

std::optional<Refusal> checkRelay(const ReceiveSettings& settings, const std::string& clientAddress,
                                  const std::string& recipient) {
    const std::string domain = smtp::domainOf(recipient);
    if (settings.isTrusted(clientAddress) || (!domain.empty() && settings.isRelayDomain(domain))) {
        return std::nullopt;
    }
    return Refusal{{554, "5.7.1", "<" + recipient + ">: Relay access denied"},
                   "relay-denied",
                   "recipient domain " + (domain.empty() ? std::string("(none)") : domain) +
                       " is not a relay domain and client " + clientAddress + " is not trusted",
                   false};
}

}  // namespace tlsgate::gateway
