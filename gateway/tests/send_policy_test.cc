// Tests of the sending TLS policy: the whole table of level x what the next hop showed, with the
// exact reasons an operator reads. Pure functions, no sockets. Failures are GoogleTest assertions.
#include "tlsgate/gateway/send_policy.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

namespace tlsgate::gateway {
namespace {

constexpr const char* kPeer = "mx.example.com[192.0.2.1]";

SendTlsFacts facts(bool offered) {
    SendTlsFacts f;
    f.host = "mx.example.com";
    f.address = "192.0.2.1";
    f.startTlsOffered = offered;
    return f;
}

SendTlsFacts handshake(bool ok, bool verified, bool nameMatched) {
    SendTlsFacts f = facts(true);
    f.handshakeAttempted = true;
    f.handshakeOk = ok;
    f.handshakeError = ok ? "" : "wrong version number";
    f.chainVerified = verified;
    f.nameMatched = nameMatched;
    f.verifyError = verified ? "" : "self-signed certificate";
    return f;
}

const std::vector<SendTlsLevel> kLevels{SendTlsLevel::NoTls, SendTlsLevel::Attempt,
                                        SendTlsLevel::RequireNoVerify, SendTlsLevel::RequireVerify};

TEST(SendPolicyAfterEhlo, FullTable) {
    struct Row {
        SendTlsLevel level;
        bool offered;
        SendAction action;
        std::string reason;
    };
    const std::string notOffered =
        std::string("4.7.4 TLS is required, but was not offered by host ") + kPeer;
    const std::vector<Row> rows{
        {SendTlsLevel::NoTls, false, SendAction::SendPlain, ""},
        {SendTlsLevel::NoTls, true, SendAction::SendPlain, ""},
        {SendTlsLevel::Attempt, false, SendAction::SendPlain, ""},
        {SendTlsLevel::Attempt, true, SendAction::StartTls, ""},
        {SendTlsLevel::RequireNoVerify, false, SendAction::Defer, notOffered},
        {SendTlsLevel::RequireNoVerify, true, SendAction::StartTls, ""},
        {SendTlsLevel::RequireVerify, false, SendAction::Defer, notOffered},
        {SendTlsLevel::RequireVerify, true, SendAction::StartTls, ""},
    };
    for (const auto& row : rows) {
        SendDecision d = decideAfterEhlo(row.level, facts(row.offered));
        EXPECT_EQ(d.action, row.action) << toString(row.level) << " offered=" << row.offered;
        EXPECT_EQ(d.reason, row.reason) << toString(row.level) << " offered=" << row.offered;
    }
}

TEST(SendPolicyAfterEhlo, NoTlsNeverStartsTls) {
    EXPECT_EQ(decideAfterEhlo(SendTlsLevel::NoTls, facts(true)).action, SendAction::SendPlain);
}

/// What the product promises for one combination, written out independently of the code.
SendDecision expectedAfterHandshake(SendTlsLevel level, bool ok, bool verified, bool matched) {
    const std::string peer = kPeer;
    if (level == SendTlsLevel::NoTls) {
        return {SendAction::Defer, ""};  // reason checked separately: an internal error
    }
    if (!ok) {
        const std::string failed =
            "4.7.5 TLS handshake with " + peer + " failed: wrong version number";
        if (level == SendTlsLevel::Attempt) {
            return {SendAction::RetryPlain, failed + "; retrying without TLS"};
        }
        return {SendAction::Defer, failed};
    }
    if (level != SendTlsLevel::RequireVerify || (verified && matched)) {
        return {SendAction::SendTls, ""};
    }
    if (verified) {
        return {SendAction::Defer,
                "4.7.5 Server certificate not verified: hostname mismatch (" + peer + ")"};
    }
    return {SendAction::Defer,
            "4.7.5 Server certificate not verified: self-signed certificate (" + peer + ")"};
}

TEST(SendPolicyAfterHandshake, FullTable) {
    int checked = 0;
    for (SendTlsLevel level : kLevels) {
        for (bool ok : {false, true}) {
            for (bool verified : {false, true}) {
                for (bool matched : {false, true}) {
                    SCOPED_TRACE(std::string(toString(level)) + " ok=" + std::to_string(ok) +
                                 " verified=" + std::to_string(verified) +
                                 " matched=" + std::to_string(matched));
                    SendDecision got =
                        decideAfterHandshake(level, handshake(ok, verified, matched));
                    SendDecision want = expectedAfterHandshake(level, ok, verified, matched);
                    EXPECT_EQ(got.action, want.action);
                    if (level == SendTlsLevel::NoTls) {
                        EXPECT_NE(got.reason.find("internal error"), std::string::npos)
                            << got.reason;
                        EXPECT_NE(got.reason.find(kPeer), std::string::npos) << got.reason;
                    } else {
                        EXPECT_EQ(got.reason, want.reason);
                    }
                    ++checked;
                }
            }
        }
    }
    EXPECT_EQ(checked, 32);
}

TEST(SendPolicyAfterHandshake, ExactReasonsSpelledOut) {
    EXPECT_EQ(decideAfterHandshake(SendTlsLevel::Attempt, handshake(false, false, false)).reason,
              "4.7.5 TLS handshake with mx.example.com[192.0.2.1] failed: wrong version number; "
              "retrying without TLS");
    EXPECT_EQ(
        decideAfterHandshake(SendTlsLevel::RequireNoVerify, handshake(false, false, false)).reason,
        "4.7.5 TLS handshake with mx.example.com[192.0.2.1] failed: wrong version number");
    EXPECT_EQ(
        decideAfterHandshake(SendTlsLevel::RequireVerify, handshake(true, true, false)).reason,
        "4.7.5 Server certificate not verified: hostname mismatch (mx.example.com[192.0.2.1])");
    EXPECT_EQ(
        decideAfterHandshake(SendTlsLevel::RequireVerify, handshake(true, false, true)).reason,
        "4.7.5 Server certificate not verified: self-signed certificate "
        "(mx.example.com[192.0.2.1])");
}

TEST(SendPolicyAfterHandshake, UnverifiedChainReportsTheVerifyErrorEvenWhenTheNameMismatches) {
    SendTlsFacts f = handshake(true, false, false);
    f.verifyError = "certificate has expired";
    SendDecision d = decideAfterHandshake(SendTlsLevel::RequireVerify, f);
    EXPECT_EQ(d.action, SendAction::Defer);
    EXPECT_EQ(d.reason,
              "4.7.5 Server certificate not verified: certificate has expired "
              "(mx.example.com[192.0.2.1])");
}

TEST(SendPolicyAfterHandshake, OpportunisticLevelsIgnoreVerification) {
    for (SendTlsLevel level : {SendTlsLevel::Attempt, SendTlsLevel::RequireNoVerify}) {
        SendDecision d = decideAfterHandshake(level, handshake(true, false, false));
        EXPECT_EQ(d.action, SendAction::SendTls) << toString(level);
        EXPECT_TRUE(d.reason.empty());
    }
}

}  // namespace
}  // namespace tlsgate::gateway
