// Unit tests: the receiving TLS and relay policy, every level and mode against every verb.
#include <gtest/gtest.h>

#include "tlsgate/gateway/receive_policy.h"

namespace tlsgate::gateway {
namespace {

using smtp::Verb;

const Verb kAllVerbs[] = {Verb::Helo, Verb::Ehlo, Verb::Mail,     Verb::Rcpt,
                          Verb::Data, Verb::Rset, Verb::Noop,     Verb::Quit,
                          Verb::Vrfy, Verb::Help, Verb::StartTls, Verb::Unknown};

bool harmless(Verb v) {
    return v == Verb::Ehlo || v == Verb::Helo || v == Verb::StartTls || v == Verb::Noop ||
           v == Verb::Rset || v == Verb::Quit;
}
bool mailVerb(Verb v) {
    return v == Verb::Mail || v == Verb::Rcpt || v == Verb::Data;
}

ReceiveSettings settings(ReceiveTlsLevel level, ClientCertMode mode) {
    ReceiveSettings s;
    s.tlsLevel = level;
    s.clientCertificate = mode;
    return s;
}

TEST(ReceivePolicy, StartTlsIsOfferedOnlyWhenItCanWork) {
    EXPECT_FALSE(offerStartTls(ReceiveTlsLevel::NoTls, false, true));
    EXPECT_TRUE(offerStartTls(ReceiveTlsLevel::Attempt, false, true));
    EXPECT_TRUE(offerStartTls(ReceiveTlsLevel::Require, false, true));
    EXPECT_FALSE(offerStartTls(ReceiveTlsLevel::Attempt, true, true));    // already active
    EXPECT_FALSE(offerStartTls(ReceiveTlsLevel::Attempt, false, false));  // no certificate
}

TEST(ReceivePolicy, NoTlsAndAttemptNeverRefuseOverTls) {
    for (auto level : {ReceiveTlsLevel::NoTls, ReceiveTlsLevel::Attempt}) {
        for (Verb verb : kAllVerbs) {
            for (bool tls : {false, true}) {
                EXPECT_FALSE(checkCommand(settings(level, ClientCertMode::DoNotRequest), verb,
                                          {tls, false, false, {}}))
                    << toString(level) << " " << smtp::toString(verb) << " tls=" << tls;
            }
        }
    }
}

TEST(ReceivePolicy, RequireAllowsOnlyHarmlessCommandsBeforeTlsThenEverything) {
    auto s = settings(ReceiveTlsLevel::Require, ClientCertMode::DoNotRequest);
    for (Verb verb : kAllVerbs) {
        auto before = checkCommand(s, verb, {false, false, false, {}});
        if (harmless(verb)) {
            EXPECT_FALSE(before) << smtp::toString(verb);
        } else {
            ASSERT_TRUE(before) << smtp::toString(verb);
            EXPECT_EQ(before->reply,
                      (smtp::Reply{530, "5.7.0", "Must issue a STARTTLS command first"}));
            EXPECT_TRUE(before->closeAfter);
            EXPECT_EQ(before->rule, "tls-required");
        }
        EXPECT_FALSE(checkCommand(s, verb, {true, false, false, {}})) << smtp::toString(verb);
    }
}

TEST(ReceivePolicy, RequestNeverRefusesWhateverTheCertificate) {
    for (auto level : {ReceiveTlsLevel::Attempt, ReceiveTlsLevel::Require}) {
        auto s = settings(level, ClientCertMode::Request);
        for (Verb verb : kAllVerbs) {
            EXPECT_FALSE(checkCommand(s, verb, {true, false, false, {}}));
            EXPECT_FALSE(checkCommand(s, verb, {true, true, false, "certificate has expired"}));
            EXPECT_FALSE(checkCommand(s, verb, {true, true, true, {}}));
        }
    }
}

TEST(ReceivePolicy, RequireCertificateRefusesMailWithTheReason) {
    auto s = settings(ReceiveTlsLevel::Require, ClientCertMode::Require);
    struct Case {
        ReceiveTlsFacts facts;
        const char* reason;
    } cases[] = {
        {{true, false, false, {}}, "no certificate presented"},
        {{true, true, false, "unable to get local issuer certificate"},
         "certificate not accepted: unable to get local issuer certificate"},
        {{true, true, false, "certificate has expired"},
         "certificate not accepted: certificate has expired"},
    };
    for (const auto& c : cases) {
        for (Verb verb : kAllVerbs) {
            auto refusal = checkCommand(s, verb, c.facts);
            if (!mailVerb(verb)) {
                EXPECT_FALSE(refusal) << smtp::toString(verb);
                continue;
            }
            ASSERT_TRUE(refusal) << smtp::toString(verb);
            EXPECT_EQ(refusal->reply.code, 421);
            EXPECT_EQ(refusal->reply.enhanced, "4.7.1");
            EXPECT_EQ(refusal->reply.text, std::string("Client certificate required: ") + c.reason);
            EXPECT_TRUE(refusal->closeAfter);
        }
    }
    for (Verb verb : kAllVerbs) {
        EXPECT_FALSE(checkCommand(s, verb, {true, true, true, {}})) << smtp::toString(verb);
    }
    // Before TLS, "TLS required" comes first.
    EXPECT_EQ(checkCommand(s, Verb::Mail, {false, false, false, {}})->reply.code, 530);
}

TEST(ReceivePolicy, RelayOnlyToRelayDomainsOrFromTrustedNetworks) {
    ReceiveSettings s;
    s.relayDomains = {"example.com"};
    s.trustedNetworks.clear();
    EXPECT_FALSE(checkRelay(s, "192.0.2.7", "user@example.com"));
    EXPECT_FALSE(checkRelay(s, "192.0.2.7", "User@EXAMPLE.com"));
    auto denied = checkRelay(s, "192.0.2.7", "user@elsewhere.net");
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->reply,
              (smtp::Reply{554, "5.7.1", "<user@elsewhere.net>: Relay access denied"}));
    EXPECT_FALSE(denied->closeAfter);
    EXPECT_TRUE(checkRelay(s, "192.0.2.7", "user@sub.example.com"));  // no implicit subdomains
    EXPECT_TRUE(checkRelay(s, "192.0.2.7", "postmaster"));
}

TEST(ReceivePolicy, DefaultConfigurationIsNotAnOpenRelay) {
    GatewayConfig c = defaultConfig();
    EXPECT_TRUE(checkRelay(c.receive, "192.0.2.7", "anyone@anywhere.example"));
    EXPECT_TRUE(checkRelay(c.receive, "2001:db8::1", "anyone@anywhere.example"));
    EXPECT_FALSE(checkRelay(c.receive, "127.0.0.1", "anyone@anywhere.example"));
    EXPECT_FALSE(checkRelay(c.receive, "::1", "anyone@anywhere.example"));
    EXPECT_FALSE(checkRelay(c.receive, "::ffff:127.0.0.1", "anyone@anywhere.example"));
}

}  // namespace
}  // namespace tlsgate::gateway
