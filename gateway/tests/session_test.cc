// Unit tests: the SMTP session state machine against scripted client input (no sockets):
// golden transcripts for the conversations RFC 5321 pins down, pipelining, state errors, limits.
#include <gtest/gtest.h>

#include <deque>
#include <filesystem>

#include "test_ca.h"
#include "tlsgate/gateway/session.h"

namespace tlsgate::gateway {
namespace {

/// Feeds the session one scripted chunk per read; records every write.
class ScriptedTransport final : public Transport {
  public:
    explicit ScriptedTransport(std::deque<std::string> chunks) : chunks_(std::move(chunks)) {}
    ReadResult read(char* buffer, std::size_t size) override {
        if (chunks_.empty()) {
            return {endWith_, 0, {}};
        }
        std::string& chunk = chunks_.front();
        const std::size_t n = std::min(size, chunk.size());
        std::copy_n(chunk.data(), n, buffer);
        chunk.erase(0, n);
        if (chunk.empty()) {
            chunks_.pop_front();
        }
        return {ReadStatus::Data, n, {}};
    }
    bool write(std::string_view data) override {
        writes_.emplace_back(data);
        output_ += data;
        return true;
    }
    void setTimeout(std::chrono::seconds) override {}
    HandshakeResult startTls(const ServerTlsContext&) override {
        HandshakeResult r;
        r.error = "scripted transport has no TLS";
        return r;
    }

    std::string output_;
    std::vector<std::string> writes_;
    ReadStatus endWith_ = ReadStatus::Eof;

  private:
    std::deque<std::string> chunks_;
};

class SessionTest : public ::testing::Test {
  protected:
    SessionTest() : spool_(std::filesystem::path(dir_.path()) / "spool") {
        config_ = defaultConfig();
        config_.gateway.hostname = "mx.example.test";
        config_.receive.relayDomains = {"example.test"};
        config_.receive.trustedNetworks.clear();
    }

    std::string converse(std::deque<std::string> input,
                         Transport::ReadStatus end = Transport::ReadStatus::Eof) {
        SessionServices services;
        services.config = std::make_shared<const GatewayConfig>(config_);
        services.spool = &spool_;
        services.bus = &bus_;
        transport_ = std::make_unique<ScriptedTransport>(std::move(input));
        transport_->endWith_ = end;
        Session session(services, *transport_, {"192.0.2.10", 40000, "192.0.2.1", 25});
        session.run();
        return transport_->output_;
    }

    testing::TempDir dir_;
    GatewayConfig config_;
    Spool spool_;
    EventBus bus_;
    std::unique_ptr<ScriptedTransport> transport_;
};

TEST_F(SessionTest, GoldenTranscriptOfOneMessage) {
    const std::string out = converse({"EHLO client.example\r\n", "MAIL FROM:<a@sender.example>\r\n",
                                      "RCPT TO:<b@example.test>\r\n", "DATA\r\n",
                                      "Subject: t\r\n\r\n..leading dot\r\n.\r\n", "QUIT\r\n"});
    const auto messages = spool_.list();
    ASSERT_EQ(messages.size(), 1u);
    const std::string expected =
        "220 mx.example.test ESMTP tlsgate\r\n"
        "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
        "250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n"
        "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
        "354 End data with <CR><LF>.<CR><LF>\r\n"
        "250 2.0.0 Ok: queued as " +
        messages[0].queueId + "\r\n221 2.0.0 Bye\r\n";
    EXPECT_EQ(out, expected);
    const std::string content = spool_.content(messages[0].queueId);
    EXPECT_EQ(content.rfind("Received: from client.example (unknown [192.0.2.10])\r\n", 0), 0u)
        << content;
    EXPECT_NE(content.find("with ESMTP id " + messages[0].queueId), std::string::npos);
    EXPECT_NE(content.find("\r\n\r\n.leading dot\r\n"), std::string::npos);  // unstuffed
    EXPECT_EQ(messages[0].envelope.sender, "a@sender.example");
    EXPECT_EQ(messages[0].envelope.recipients, std::vector<std::string>{"b@example.test"});
    EXPECT_FALSE(messages[0].envelope.tls);
}

TEST_F(SessionTest, PipelinedCommandsGetTheSameRepliesInOneWrite) {
    const std::string out =
        converse({"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<x@example.test>\r\n"
                  "RCPT TO:<y@example.test>\r\nDATA\r\n",
                  "body\r\n.\r\nQUIT\r\n"});
    EXPECT_NE(out.find("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 "), std::string::npos)
        << out;
    // Greeting alone, then the EHLO..354 batch: replies are flushed only before a read blocks.
    ASSERT_GE(transport_->writes_.size(), 3u);
    EXPECT_EQ(transport_->writes_[0], "220 mx.example.test ESMTP tlsgate\r\n");
    EXPECT_EQ(transport_->writes_[1].rfind("250-mx.example.test", 0), 0u);
    EXPECT_NE(transport_->writes_[1].find("354 "), std::string::npos);
    ASSERT_EQ(spool_.list().size(), 1u);
    EXPECT_EQ(spool_.list()[0].envelope.recipients.size(), 2u);
}

TEST_F(SessionTest, CommandsOutOfOrderAreRefusedWithTheirReasons) {
    const std::string out =
        converse({"MAIL FROM:<a@b.example>\r\n", "HELO c\r\n", "RCPT TO:<x@example.test>\r\n",
                  "DATA\r\n", "MAIL FROM:<a@b.example>\r\n", "MAIL FROM:<a@b.example>\r\n",
                  "DATA\r\n", "XYZZY\r\n", "QUIT\r\n"});
    EXPECT_NE(
        out.find("503 5.5.1 Error: send HELO/EHLO first\r\n250 mx.example.test\r\n"
                 "503 5.5.1 Error: need MAIL command\r\n503 5.5.1 Error: need RCPT command\r\n"
                 "250 2.1.0 Ok\r\n503 5.5.1 Error: nested MAIL command\r\n"
                 "554 5.5.1 Error: no valid recipients\r\n"
                 "502 5.5.2 Error: command not recognized\r\n221 2.0.0 Bye\r\n"),
        std::string::npos)
        << out;
    EXPECT_TRUE(spool_.list().empty());
}

TEST_F(SessionTest, RequireTlsRefusesMailBeforeStartTlsAndCloses) {
    config_.receive.tlsLevel = ReceiveTlsLevel::Require;
    const std::string out = converse(
        {"EHLO c\r\n", "NOOP\r\n", "MAIL FROM:<a@b.example>\r\n", "RCPT TO:<x@example.test>\r\n"});
    EXPECT_NE(out.find("250 2.0.0 Ok\r\n530 5.7.0 Must issue a STARTTLS command first\r\n"),
              std::string::npos)
        << out;
    EXPECT_EQ(out.find("RCPT"), std::string::npos);
    EXPECT_EQ(
        out.substr(out.size() - 2 - std::string("Must issue a STARTTLS command first").size()),
        "Must issue a STARTTLS command first\r\n");  // nothing after: closed
}

TEST_F(SessionTest, StartTlsIsNotOfferedWithoutTlsAndAnswers502Or454) {
    config_.receive.tlsLevel = ReceiveTlsLevel::NoTls;
    std::string out = converse({"EHLO c\r\n", "STARTTLS\r\n", "QUIT\r\n"});
    EXPECT_EQ(out.find("STARTTLS"), std::string::npos) << out;
    EXPECT_NE(out.find("502 5.5.1 Error: command not implemented"), std::string::npos);

    config_.receive.tlsLevel = ReceiveTlsLevel::Attempt;  // but no usable certificate
    out = converse({"EHLO c\r\n", "STARTTLS\r\n", "QUIT\r\n"});
    EXPECT_EQ(out.find("250-STARTTLS"), std::string::npos) << out;
    EXPECT_NE(out.find("454 4.7.0 TLS not available due to local problem"), std::string::npos);
}

TEST_F(SessionTest, RelayDeniedForForeignDomainsFromUntrustedClients) {
    const std::string out =
        converse({"EHLO c\r\nMAIL FROM:<a@b.example>\r\n"
                  "RCPT TO:<x@elsewhere.example>\r\nRCPT TO:<y@example.test>\r\n"
                  "QUIT\r\n"});
    EXPECT_NE(out.find("554 5.7.1 <x@elsewhere.example>: Relay access denied\r\n250 2.1.5 Ok"),
              std::string::npos)
        << out;
}

TEST_F(SessionTest, LimitsOnRecipientsErrorsCommandsAndLines) {
    config_.receive.maxRecipients = 2;
    std::string out =
        converse({"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<1@example.test>\r\n"
                  "RCPT TO:<2@example.test>\r\nRCPT TO:<3@example.test>\r\nQUIT\r\n"});
    EXPECT_NE(out.find("452 4.5.3 Error: too many recipients"), std::string::npos) << out;

    config_.receive.maxErrors = 3;
    out = converse({"A\r\nB\r\nC\r\nD\r\nE\r\nNOOP\r\n"});
    EXPECT_NE(out.find("421 4.7.0 mx.example.test Error: too many errors\r\n"), std::string::npos);
    EXPECT_EQ(out.find("250 2.0.0 Ok"), std::string::npos) << out;  // closed before NOOP

    config_.receive.maxErrors = 20;
    config_.receive.maxCommands = 10;
    std::string many;
    for (int i = 0; i < 12; ++i) {
        many += "NOOP\r\n";
    }
    out = converse({many});
    EXPECT_NE(out.find("421 4.7.0 mx.example.test Error: too many commands"), std::string::npos);

    out = converse({"EHLO c\r\n" + std::string(600, 'x') + "\r\nQUIT\r\n"});
    EXPECT_NE(out.find("500 5.5.2 Error: line too long\r\n221 2.0.0 Bye"), std::string::npos)
        << out;
}

TEST_F(SessionTest, OversizedMessageIsRefusedAndNotSpooled) {
    config_.receive.maxMessageSize = 2048;
    const std::string body(3000, 'a');
    const std::string out =
        converse({"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@example.test>\r\nDATA\r\n",
                  body + "\r\n.\r\nQUIT\r\n"});
    EXPECT_NE(out.find("552 5.3.4 Error: message file too big\r\n221"), std::string::npos) << out;
    EXPECT_TRUE(spool_.list().empty());
}

TEST_F(SessionTest, BareLfDotDoesNotEndData) {
    const std::string out =
        converse({"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@example.test>\r\nDATA\r\n",
                  "one\n.\nMAIL FROM:<evil@b.example>\r\n.\r\nQUIT\r\n"});
    const auto messages = spool_.list();
    ASSERT_EQ(messages.size(), 1u) << out;
    EXPECT_NE(spool_.content(messages[0].queueId).find("MAIL FROM:<evil@b.example>"),
              std::string::npos);
}

TEST_F(SessionTest, TimeoutAnswers421AndLosesNothingAccepted) {
    const std::string out = converse(
        {"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@example.test>\r\nDATA\r\n", "partial"},
        Transport::ReadStatus::Timeout);
    EXPECT_NE(out.find("421 4.4.2 mx.example.test Error: timeout exceeded"), std::string::npos)
        << out;
    EXPECT_TRUE(spool_.list().empty());  // never acknowledged, never queued
}

TEST_F(SessionTest, EventsDescribeTheSession) {
    auto subscription = bus_.subscribe("test", 100);
    converse(
        {"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@elsewhere.example>\r\n"
         "RCPT TO:<x@example.test>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n"});
    std::vector<TlsSessionEventKind> kinds;
    std::string rule;
    std::string queueId;
    std::string notAdvertised;
    while (auto e = subscription->pop(std::chrono::milliseconds(0))) {
        const auto& s = std::get<TlsSessionEvent>(*e);
        kinds.push_back(s.kind);
        if (s.kind == TlsSessionEventKind::PolicyDecision) {
            rule = s.rule;
        }
        if (s.kind == TlsSessionEventKind::StartTlsOffered) {
            EXPECT_FALSE(s.success);
            notAdvertised = s.reason;
        }
        if (s.kind == TlsSessionEventKind::MessageAccepted) {
            queueId = s.queueId;
            EXPECT_EQ(s.recipientCount, 1);
            EXPECT_EQ(s.peerAddress, "192.0.2.10");
        }
    }
    // No TLS context here: STARTTLS is not advertised, and the event says so.
    EXPECT_EQ(kinds, (std::vector<TlsSessionEventKind>{
                         TlsSessionEventKind::Connected, TlsSessionEventKind::StartTlsOffered,
                         TlsSessionEventKind::PolicyDecision, TlsSessionEventKind::MessageAccepted,
                         TlsSessionEventKind::Closed}));
    EXPECT_EQ(notAdvertised, "not advertised: no usable server certificate");
    EXPECT_EQ(rule, "relay-denied");
    EXPECT_EQ(queueId, spool_.list().at(0).queueId);
}

}  // namespace
}  // namespace tlsgate::gateway
