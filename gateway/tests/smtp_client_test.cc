// Tests of the SMTP client against a scripted SMTP server on 127.0.0.1 (port 0, one connection, on
// a thread): transcripts, dot-stuffing, STARTTLS under each send level, refusals, lost
// connections, the client certificate. Every socket has a 5 s timeout. Failures are assertions.
#include "tlsgate/gateway/smtp_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_ca.h"
#include "tlsgate/certmgr/store.h"

namespace tlsgate::gateway {
namespace {

using certmgr::Store;
using certmgr::StoreOptions;
using certmgr::X509Ptr;
using testing::CertOptions;
using testing::TempDir;
using testing::TestCert;

constexpr const char* kPeer = "localhost[127.0.0.1]";
constexpr const char* kFinalReply = "250 2.0.0 Ok: queued as 4711";

/// What the scripted server answers. Defaults: an ESMTP server that accepts everything.
struct ServerScript {
    std::string greeting = "220 mx.example.test ESMTP test";
    std::vector<std::string> extensions{"PIPELINING", "SIZE 10240000", "8BITMIME"};
    bool refuseEhlo = false;            ///< 502 to EHLO (the client falls back to HELO)
    SSL_CTX* tls = nullptr;             ///< offers STARTTLS when set (or with garbageAfterStartTls)
    bool garbageAfterStartTls = false;  ///< 220, then bytes that are not TLS, then close
    std::string mailReply = "250 2.1.0 Ok";
    std::vector<std::string> rcptReplies;  ///< by RCPT order; "250 2.1.5 Ok" past the end
    std::string dataReply = "354 End data with <CR><LF>.<CR><LF>";
    std::string finalReply = kFinalReply;
    bool closeInData = false;        ///< after 354, read a little and hang up
    bool closeAfterMessage = false;  ///< after the reply to the end of data, hang up
    int connections = 1;             ///< connections accepted one after the other
};

/// What the scripted server saw.
struct ServerRecord {
    std::vector<std::string> commands;  ///< every line outside DATA, in order
    std::string body;                   ///< the DATA section as sent (dot-stuffed, final ".")
    bool tlsUp = false;
    std::string serverName;  ///< SNI
    X509Ptr clientCert;
    std::string error;
    int connections = 0;
};

void setTimeouts(int fd) {
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/// One connection's side of the script: its own socket, TLS session and record.
class Conversation {
  public:
    Conversation(const ServerScript& script, int fd) : script_(script), fd_(fd) {}
    ~Conversation() { hangUp(); }
    Conversation(const Conversation&) = delete;
    Conversation& operator=(const Conversation&) = delete;

    ServerRecord& record() { return record_; }

    /// Closes the connection (the script's conversation is over).
    void hangUp() {
        ssl_.reset();
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

    void converse() {
        if (script_.greeting.empty() || !write(script_.greeting + "\r\n")) {
            return;
        }
        bool mailOk = false;
        std::size_t rcptIndex = 0;
        std::size_t accepted = 0;
        std::string line;
        while (readLine(line)) {
            record_.commands.push_back(line);
            const std::string verb = line.substr(0, line.find(' '));
            bool ok = true;
            if (verb == "EHLO") {
                if (script_.refuseEhlo) {
                    ok = write("502 5.5.1 EHLO not implemented\r\n");
                    continue;
                }
                std::string reply = "250-mx.example.test\r\n";
                std::vector<std::string> extensions = script_.extensions;
                if ((script_.tls != nullptr || script_.garbageAfterStartTls) && !ssl_) {
                    extensions.push_back("STARTTLS");
                }
                for (std::size_t i = 0; i < extensions.size(); ++i) {
                    reply +=
                        (i + 1 == extensions.size() ? "250 " : "250-") + extensions[i] + "\r\n";
                }
                if (extensions.empty()) {
                    reply = "250 mx.example.test\r\n";
                }
                ok = write(reply);
            } else if (verb == "HELO") {
                ok = write("250 mx.example.test\r\n");
            } else if (verb == "STARTTLS") {
                if (!write("220 2.0.0 Ready to start TLS\r\n")) {
                    return;
                }
                if (script_.garbageAfterStartTls) {
                    write("this is certainly not a TLS server hello\r\n\r\n");
                    return;
                }
                if (!acceptTls()) {
                    return;
                }
            } else if (verb == "MAIL") {
                mailOk = script_.mailReply[0] == '2';
                ok = write(script_.mailReply + "\r\n");
            } else if (verb == "RCPT" && !mailOk) {
                ok = write("503 5.5.1 Error: need MAIL command\r\n");
            } else if (verb == "RCPT") {
                std::string reply = rcptIndex < script_.rcptReplies.size()
                                        ? script_.rcptReplies[rcptIndex]
                                        : "250 2.1.5 Ok";
                ++rcptIndex;
                accepted += reply[0] == '2' ? 1 : 0;
                ok = write(reply + "\r\n");
            } else if (verb == "DATA") {
                if (accepted == 0) {
                    ok = write("554 5.5.1 Error: no valid recipients\r\n");
                    continue;
                }
                if (!write(script_.dataReply + "\r\n")) {
                    return;
                }
                if (script_.dataReply[0] != '3') {
                    continue;
                }
                if (script_.closeInData) {
                    readLine(line);  // the first line of the content, then hang up
                    return;
                }
                while (readLine(line)) {
                    record_.body += line + "\r\n";
                    if (line == ".") {
                        break;
                    }
                }
                ok = write(script_.finalReply + "\r\n");
                if (script_.closeAfterMessage) {
                    return;
                }
            } else if (verb == "RSET") {
                ok = write("250 2.0.0 Ok\r\n");
            } else if (verb == "QUIT") {
                write("221 2.0.0 Bye\r\n");
                if (ssl_) {
                    SSL_shutdown(ssl_.get());
                }
                return;
            } else {
                ok = write("502 5.5.2 Error: command not recognized\r\n");
            }
            if (!ok) {
                return;
            }
        }
    }

    bool acceptTls() {
        ssl_.reset(SSL_new(script_.tls));
        if (!ssl_ || SSL_set_fd(ssl_.get(), fd_) != 1 || SSL_accept(ssl_.get()) != 1) {
            record_.error = "TLS accept: " + certmgr::drainOpensslErrors();
            ssl_.reset();
            return false;
        }
        record_.tlsUp = true;
        input_.clear();
        if (const char* name = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name)) {
            record_.serverName = name;
        }
        record_.clientCert.reset(SSL_get1_peer_certificate(ssl_.get()));
        return true;
    }

    bool write(const std::string& data) {
        if (ssl_) {
            return SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size())) > 0;
        }
        return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) ==
               static_cast<ssize_t>(data.size());
    }

    bool readLine(std::string& line) {
        for (;;) {
            const std::size_t end = input_.find("\r\n");
            if (end != std::string::npos) {
                line = input_.substr(0, end);
                input_.erase(0, end + 2);
                return true;
            }
            char buffer[4096];
            const int n = ssl_ ? SSL_read(ssl_.get(), buffer, sizeof buffer)
                               : static_cast<int>(::recv(fd_, buffer, sizeof buffer, 0));
            if (n <= 0) {
                return false;
            }
            input_.append(buffer, static_cast<std::size_t>(n));
        }
    }

  private:
    const ServerScript& script_;
    ServerRecord record_;
    int fd_;
    SslPtr ssl_;
    std::string input_;
};

/// Accepts `connections` connections one after the other and plays the script on each; the
/// destructor joins the thread.
class ScriptedServer {
  public:
    explicit ScriptedServer(ServerScript script) : script_(std::move(script)) {
        listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = 0;
        socklen_t length = sizeof address;
        if (listenFd_ < 0 ||
            ::bind(listenFd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::listen(listenFd_, 4) != 0 ||
            ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            record_.error = "listen failed";
            return;
        }
        port_ = ntohs(address.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~ScriptedServer() {
        join();
        if (listenFd_ >= 0) {
            ::close(listenFd_);
        }
    }
    ScriptedServer(const ScriptedServer&) = delete;
    ScriptedServer& operator=(const ScriptedServer&) = delete;

    std::uint16_t port() const { return port_; }
    /// Waits for the conversation to end.
    const ServerRecord& record() {
        join();
        return record_;
    }

  private:
    void join() {
        if (thread_.joinable()) {
            thread_.join();
        }
    }

    void run() {
        std::vector<std::unique_ptr<Conversation>> conversations;
        std::vector<std::thread> threads;
        for (int i = 0; i < script_.connections; ++i) {
            pollfd pfd{listenFd_, POLLIN, 0};
            if (::poll(&pfd, 1, 5000) != 1) {
                record_.error = "no connection";
                break;
            }
            const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                record_.error = "accept failed";
                break;
            }
            setTimeouts(fd);
            const int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            // Each connection is served at once: a client may hold one open while it opens the
            // next (a cached connection).
            conversations.push_back(std::make_unique<Conversation>(script_, fd));
            threads.emplace_back([c = conversations.back().get()] {
                c->converse();
                c->hangUp();
            });
        }
        for (auto& t : threads) {
            t.join();
        }
        // One record: the connections' commands in the order they were accepted.
        for (auto& c : conversations) {
            ServerRecord& r = c->record();
            ++record_.connections;
            record_.commands.insert(record_.commands.end(), r.commands.begin(), r.commands.end());
            record_.body += r.body;
            record_.tlsUp = record_.tlsUp || r.tlsUp;
            if (!r.serverName.empty()) {
                record_.serverName = r.serverName;
            }
            if (r.clientCert) {
                record_.clientCert = std::move(r.clientCert);
            }
            if (record_.error.empty()) {
                record_.error = r.error;
            }
        }
    }

    ServerScript script_;
    ServerRecord record_;
    int listenFd_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
};

int acceptAnyCertificate(int /*preverifyOk*/, X509_STORE_CTX* /*ctx*/) {
    return 1;
}

int acknowledgeServerName(SSL* /*ssl*/, int* /*alert*/, void* /*arg*/) {
    return SSL_TLSEXT_ERR_OK;
}

/// A server context serving `leaf`; asks for a client certificate when `requestClientCert`.
SslCtxPtr serverContext(const TestCert& leaf, bool requestClientCert = false) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    EXPECT_NE(ctx, nullptr);
    EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), leaf.cert.get()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), leaf.key.get()), 1);
    SSL_CTX_callback_ctrl(ctx.get(), SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                          reinterpret_cast<void (*)()>(acknowledgeServerName));
    if (requestClientCert) {
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, acceptAnyCertificate);
    }
    return ctx;
}

TestCert serverLeaf(const TestCert* issuer, const std::string& name) {
    CertOptions options;
    options.commonName = name;
    options.dnsNames = {name};
    options.extendedKeyUsages = {"serverAuth"};
    return testing::makeLeaf(issuer, options);
}

/// The CA, the server certificates and the client's store (the CA trusted, a client certificate
/// active), made once for the suite.
class SmtpClientTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        std::signal(SIGPIPE, SIG_IGN);  // a peer that hangs up must not kill the test
        dir_ = std::make_unique<TempDir>();
        ca_ = std::make_unique<TestCert>(testing::makeCa("SmtpClient Test CA"));
        goodLeaf_ = std::make_unique<TestCert>(serverLeaf(ca_.get(), "localhost"));
        wrongName_ = std::make_unique<TestCert>(serverLeaf(ca_.get(), "other.example.test"));
        selfSigned_ = std::make_unique<TestCert>(serverLeaf(nullptr, "localhost"));

        StoreOptions options;
        options.directory = dir_->path();
        options.hostname = "gateway.example.test";
        options.useSystemCa = false;
        store_ = std::make_unique<Store>(options);
        store_->addCa(*ca_->cert);
        CertOptions clientOptions;
        clientOptions.commonName = "gateway.example.test";
        clientOptions.extendedKeyUsages = {"clientAuth"};
        TestCert client = testing::makeLeaf(ca_.get(), clientOptions);
        certmgr::ImportedMaterial material;
        material.leaf = std::move(client.cert);
        material.key = std::move(client.key);
        store_->import(std::move(material), certmgr::Role::Client, true);
        tls_ = ClientTlsContext::build(*store_);
    }
    static void TearDownTestSuite() {
        tls_.reset();
        store_.reset();
        selfSigned_.reset();
        wrongName_.reset();
        goodLeaf_.reset();
        ca_.reset();
        dir_.reset();
    }

    /// A request to `port` for two recipients with a small message.
    DeliveryRequest request(std::uint16_t port, SendTlsLevel level = SendTlsLevel::Attempt) {
        DeliveryRequest r;
        r.host = "localhost";
        r.address = "127.0.0.1";
        r.port = port;
        r.heloName = "gateway.example.test";
        r.level = level;
        r.tls = tls_;
        r.sender = "alice@example.org";
        r.recipients = {"bob@example.test"};
        r.content = &content_;
        r.size = content_.size();
        r.connectTimeout = std::chrono::seconds(5);
        r.commandTimeout = std::chrono::seconds(5);
        return r;
    }

    std::string content_ = "Subject: hello\r\n\r\nHi Bob.\r\n";

    static std::unique_ptr<TempDir> dir_;
    static std::unique_ptr<TestCert> ca_;
    static std::unique_ptr<TestCert> goodLeaf_;
    static std::unique_ptr<TestCert> wrongName_;
    static std::unique_ptr<TestCert> selfSigned_;
    static std::unique_ptr<Store> store_;
    static std::shared_ptr<const ClientTlsContext> tls_;
};

std::unique_ptr<TempDir> SmtpClientTest::dir_;
std::unique_ptr<TestCert> SmtpClientTest::ca_;
std::unique_ptr<TestCert> SmtpClientTest::goodLeaf_;
std::unique_ptr<TestCert> SmtpClientTest::wrongName_;
std::unique_ptr<TestCert> SmtpClientTest::selfSigned_;
std::unique_ptr<Store> SmtpClientTest::store_;
std::shared_ptr<const ClientTlsContext> SmtpClientTest::tls_;

using SmtpClientPlain = SmtpClientTest;
using SmtpClientStartTls = SmtpClientTest;
using SmtpClientRefusal = SmtpClientTest;
using SmtpClientConnection = SmtpClientTest;

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST_F(SmtpClientPlain, DeliversWithPipeliningAndDotStuffing) {
    ScriptedServer server{ServerScript()};
    content_ = "Subject: dots\r\n\r\n.hidden\r\nline\r\n.\r\n..two\r\nbare\nend";
    DeliveryRequest r = request(server.port(), SendTlsLevel::NoTls);
    r.recipients = {"bob@example.test", "carol@example.test"};
    r.size = content_.size();
    r.eightBitMime = true;
    const DeliveryResult result = deliver(r);
    const ServerRecord& seen = server.record();

    EXPECT_EQ(result.outcome, DeliveryOutcome::Delivered) << result.reason;
    EXPECT_EQ(result.reason, kFinalReply);
    EXPECT_FALSE(result.tlsUsed);
    const std::vector<std::string> transcript{
        "EHLO gateway.example.test",
        "MAIL FROM:<alice@example.org> SIZE=" + std::to_string(content_.size()) + " BODY=8BITMIME",
        "RCPT TO:<bob@example.test>",
        "RCPT TO:<carol@example.test>",
        "DATA",
        "QUIT"};
    EXPECT_EQ(seen.commands, transcript);
    EXPECT_EQ(seen.body,
              "Subject: dots\r\n\r\n..hidden\r\nline\r\n..\r\n...two\r\nbare\r\nend\r\n.\r\n");
    ASSERT_EQ(result.recipients.size(), 2u);
    for (const auto& recipient : result.recipients) {
        EXPECT_EQ(recipient.code, 250);
        EXPECT_EQ(recipient.reply, kFinalReply);
    }
    EXPECT_EQ(result.recipients[1].recipient, "carol@example.test");
}

TEST_F(SmtpClientPlain, DeliversOneCommandAtATimeWithoutPipelining) {
    ServerScript script;
    script.extensions = {};
    ScriptedServer server{script};
    DeliveryRequest r = request(server.port());
    r.sender.clear();       // the null sender <>
    r.eightBitMime = true;  // not offered: no BODY parameter
    const DeliveryResult result = deliver(r);
    const ServerRecord& seen = server.record();

    EXPECT_EQ(result.outcome, DeliveryOutcome::Delivered) << result.reason;
    const std::vector<std::string> transcript{"EHLO gateway.example.test", "MAIL FROM:<>",
                                              "RCPT TO:<bob@example.test>", "DATA", "QUIT"};
    EXPECT_EQ(seen.commands, transcript);
    EXPECT_EQ(seen.body, content_ + ".\r\n");
}

TEST_F(SmtpClientPlain, FallsBackToHeloWhenEhloIsRefused) {
    ServerScript script;
    script.refuseEhlo = true;
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port()));
    const ServerRecord& seen = server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::Delivered) << result.reason;
    ASSERT_GE(seen.commands.size(), 3u);
    EXPECT_EQ(seen.commands[1], "HELO gateway.example.test");
    EXPECT_EQ(seen.commands[2], "MAIL FROM:<alice@example.org>");
}

TEST_F(SmtpClientStartTls, VerifiedCertificateDelivers) {
    SslCtxPtr tls = serverContext(*goodLeaf_);
    ServerScript script;
    script.tls = tls.get();
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port(), SendTlsLevel::RequireVerify));
    const ServerRecord& seen = server.record();

    EXPECT_EQ(result.outcome, DeliveryOutcome::Delivered) << result.reason;
    EXPECT_TRUE(result.tlsUsed);
    EXPECT_TRUE(result.tlsFacts.startTlsOffered);
    EXPECT_TRUE(result.tlsFacts.handshakeOk);
    EXPECT_TRUE(result.tlsFacts.chainVerified);
    EXPECT_TRUE(result.tlsFacts.nameMatched);
    EXPECT_FALSE(result.tlsVersion.empty());
    EXPECT_FALSE(result.tlsCipher.empty());
    ASSERT_TRUE(result.serverCert.has_value());
    EXPECT_EQ(result.serverCert->commonName, "localhost");
    EXPECT_TRUE(seen.tlsUp) << seen.error;
    EXPECT_EQ(seen.serverName, "localhost");
    EXPECT_EQ(seen.clientCert, nullptr) << "presented a certificate nobody asked for";
    const std::vector<std::string> transcript{
        "EHLO gateway.example.test",
        "STARTTLS",
        "EHLO gateway.example.test",
        "MAIL FROM:<alice@example.org> SIZE=" + std::to_string(content_.size()),
        "RCPT TO:<bob@example.test>",
        "DATA",
        "QUIT"};
    EXPECT_EQ(seen.commands, transcript);
    EXPECT_EQ(seen.body, content_ + ".\r\n");
}

TEST_F(SmtpClientStartTls, WrongNameIsDeferredWhenVerifying) {
    SslCtxPtr tls = serverContext(*wrongName_);
    ServerScript script;
    script.tls = tls.get();
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port(), SendTlsLevel::RequireVerify));
    const ServerRecord& seen = server.record();

    EXPECT_EQ(result.outcome, DeliveryOutcome::Deferred);
    EXPECT_TRUE(result.policyDeferred);
    EXPECT_EQ(
        result.reason,
        std::string("4.7.5 Server certificate not verified: hostname mismatch (") + kPeer + ")");
    EXPECT_TRUE(result.tlsFacts.chainVerified);
    EXPECT_FALSE(result.tlsFacts.nameMatched);
    EXPECT_FALSE(result.tlsUsed);
    ASSERT_FALSE(seen.commands.empty());
    EXPECT_EQ(seen.commands.back(), "QUIT");
    EXPECT_TRUE(seen.body.empty());
}

TEST_F(SmtpClientStartTls, WrongNameDeliversWithoutVerification) {
    SslCtxPtr tls = serverContext(*wrongName_);
    ServerScript script;
    script.tls = tls.get();
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port(), SendTlsLevel::RequireNoVerify));
    server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::Delivered) << result.reason;
    EXPECT_TRUE(result.tlsUsed);
    EXPECT_FALSE(result.tlsFacts.nameMatched);
}

TEST_F(SmtpClientStartTls, SelfSignedIsDeferredWithTheVerifyError) {
    SslCtxPtr tls = serverContext(*selfSigned_);
    ServerScript script;
    script.tls = tls.get();
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port(), SendTlsLevel::RequireVerify));
    server.record();

    EXPECT_EQ(result.outcome, DeliveryOutcome::Deferred);
    EXPECT_TRUE(result.policyDeferred);
    EXPECT_FALSE(result.tlsFacts.chainVerified);
    EXPECT_TRUE(result.tlsFacts.nameMatched);
    EXPECT_TRUE(contains(result.tlsFacts.verifyError, "self")) << result.tlsFacts.verifyError;
    EXPECT_EQ(result.reason, "4.7.5 Server certificate not verified: " +
                                 result.tlsFacts.verifyError + " (" + kPeer + ")");
}

TEST_F(SmtpClientStartTls, ExpiredCertificateWithTheWrongNameIsNotCalledVerified) {
    // The name is checked before the dates: verification must go on past the mismatch.
    CertOptions options;
    options.commonName = "other.example.test";
    options.dnsNames = {"other.example.test"};
    options.notBefore = std::chrono::system_clock::now() - std::chrono::hours(48);
    options.notAfter = std::chrono::system_clock::now() - std::chrono::hours(24);
    const TestCert expired = testing::makeLeaf(ca_.get(), options);
    SslCtxPtr tls = serverContext(expired);
    ServerScript script;
    script.tls = tls.get();
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port(), SendTlsLevel::RequireVerify));
    server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::Deferred);
    EXPECT_FALSE(result.tlsFacts.chainVerified);
    EXPECT_FALSE(result.tlsFacts.nameMatched);
    EXPECT_EQ(result.reason, std::string("4.7.5 Server certificate not verified: certificate has "
                                         "expired (") +
                                 kPeer + ")");
}

TEST_F(SmtpClientStartTls, NotOfferedDefersRequireLevels) {
    for (SendTlsLevel level : {SendTlsLevel::RequireNoVerify, SendTlsLevel::RequireVerify}) {
        ScriptedServer server{ServerScript()};
        const DeliveryResult result = deliver(request(server.port(), level));
        const ServerRecord& seen = server.record();
        EXPECT_EQ(result.outcome, DeliveryOutcome::Deferred) << toString(level);
        EXPECT_TRUE(result.policyDeferred);
        EXPECT_EQ(result.reason,
                  std::string("4.7.4 TLS is required, but was not offered by host ") + kPeer);
        const std::vector<std::string> transcript{"EHLO gateway.example.test", "QUIT"};
        EXPECT_EQ(seen.commands, transcript);
    }
}

TEST_F(SmtpClientStartTls, NotOfferedDeliversPlainWhenAttempting) {
    ScriptedServer server{ServerScript()};
    const DeliveryResult result = deliver(request(server.port(), SendTlsLevel::Attempt));
    server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::Delivered) << result.reason;
    EXPECT_FALSE(result.tlsUsed);
    EXPECT_FALSE(result.tlsFacts.startTlsOffered);
}

TEST_F(SmtpClientStartTls, HandshakeFailureRetriesPlainWhenAttempting) {
    ServerScript script;
    script.garbageAfterStartTls = true;
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port(), SendTlsLevel::Attempt));
    server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::RetryPlain) << result.reason;
    EXPECT_TRUE(result.tlsFacts.handshakeAttempted);
    EXPECT_FALSE(result.tlsFacts.handshakeOk);
    EXPECT_FALSE(result.tlsFacts.handshakeError.empty());
    EXPECT_EQ(result.reason, std::string("4.7.5 TLS handshake with ") + kPeer + " failed: " +
                                 result.tlsFacts.handshakeError + "; retrying without TLS");
}

TEST_F(SmtpClientStartTls, HandshakeFailureDefersWhenRequired) {
    ServerScript script;
    script.garbageAfterStartTls = true;
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port(), SendTlsLevel::RequireNoVerify));
    server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::Deferred);
    EXPECT_TRUE(result.policyDeferred);
    EXPECT_EQ(result.reason, std::string("4.7.5 TLS handshake with ") + kPeer +
                                 " failed: " + result.tlsFacts.handshakeError);
}

TEST_F(SmtpClientStartTls, ForcePlainAndNoTlsNeverStartTls) {
    SslCtxPtr tls = serverContext(*goodLeaf_);
    for (bool forcePlain : {false, true}) {
        ServerScript script;
        script.tls = tls.get();
        ScriptedServer server{script};
        DeliveryRequest r =
            request(server.port(), forcePlain ? SendTlsLevel::Attempt : SendTlsLevel::NoTls);
        r.forcePlain = forcePlain;
        const DeliveryResult result = deliver(r);
        const ServerRecord& seen = server.record();
        EXPECT_EQ(result.outcome, DeliveryOutcome::Delivered) << result.reason;
        EXPECT_FALSE(result.tlsUsed);
        EXPECT_TRUE(result.tlsFacts.startTlsOffered);
        EXPECT_FALSE(seen.tlsUp);
        EXPECT_EQ(seen.commands.size(), 5u);  // EHLO MAIL RCPT DATA QUIT
    }
}

TEST_F(SmtpClientStartTls, WithoutAClientContext) {
    SslCtxPtr tls = serverContext(*goodLeaf_);
    {
        ServerScript script;
        script.tls = tls.get();
        ScriptedServer server{script};
        DeliveryRequest r = request(server.port(), SendTlsLevel::RequireVerify);
        r.tls = nullptr;
        const DeliveryResult result = deliver(r);
        server.record();
        EXPECT_EQ(result.outcome, DeliveryOutcome::Deferred);
        EXPECT_TRUE(result.policyDeferred);
        EXPECT_TRUE(contains(result.reason, "4.7.4 TLS is required, but is not available locally"))
            << result.reason;
    }
    {
        ServerScript script;
        script.tls = tls.get();
        ScriptedServer server{script};
        DeliveryRequest r = request(server.port(), SendTlsLevel::Attempt);
        r.tls = nullptr;
        const DeliveryResult result = deliver(r);
        EXPECT_FALSE(server.record().tlsUp);
        EXPECT_EQ(result.outcome, DeliveryOutcome::Delivered) << result.reason;
    }
}

TEST_F(SmtpClientStartTls, PresentsTheClientCertificateWhenAsked) {
    ASSERT_FALSE(tls_->clientCertificateId().empty());
    SslCtxPtr tls = serverContext(*goodLeaf_, true);
    ServerScript script;
    script.tls = tls.get();
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port(), SendTlsLevel::RequireVerify));
    const ServerRecord& seen = server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::Delivered) << result.reason;
    ASSERT_NE(seen.clientCert, nullptr) << seen.error;
    EXPECT_EQ(certmgr::inspect(*seen.clientCert).sha256Fingerprint,
              store_->get(tls_->clientCertificateId()).info.sha256Fingerprint);
}

TEST_F(SmtpClientTest, BuildsWithoutAClientCertificate) {
    TempDir dir;
    StoreOptions options;
    options.directory = dir.path();
    options.hostname = "gateway.example.test";
    options.useSystemCa = false;
    Store empty(options);
    auto context = ClientTlsContext::build(empty);
    ASSERT_NE(context, nullptr);
    EXPECT_TRUE(context->clientCertificateId().empty());
    EXPECT_THROW(ClientTlsContext::build(empty, "TLSv1.1"), TlsSetupError);
    ClientTlsContextHolder holder;
    EXPECT_EQ(holder.current(), nullptr);
    EXPECT_EQ(holder.rebuild(empty), "");
    EXPECT_NE(holder.current(), nullptr);
    EXPECT_FALSE(holder.rebuild(empty, "SSLv3").empty());
    EXPECT_NE(holder.current(), nullptr) << "a failed rebuild keeps the previous context";
}

TEST_F(SmtpClientRefusal, RecipientMixDeliversToTheAcceptedOne) {
    ServerScript script;
    script.rcptReplies = {"250 2.1.5 Ok", "550 5.1.1 <nobody@example.test>: no such user"};
    ScriptedServer server{script};
    DeliveryRequest r = request(server.port());
    r.recipients = {"bob@example.test", "nobody@example.test"};
    const DeliveryResult result = deliver(r);
    const ServerRecord& seen = server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::Delivered) << result.reason;
    ASSERT_EQ(result.recipients.size(), 2u);
    EXPECT_EQ(result.recipients[0].recipient, "bob@example.test");
    EXPECT_EQ(result.recipients[0].code, 250);
    EXPECT_EQ(result.recipients[0].reply, kFinalReply);
    EXPECT_EQ(result.recipients[1].recipient, "nobody@example.test");
    EXPECT_EQ(result.recipients[1].code, 550);
    EXPECT_EQ(result.recipients[1].reply, "550 5.1.1 <nobody@example.test>: no such user");
    EXPECT_EQ(seen.body, content_ + ".\r\n");
}

TEST_F(SmtpClientRefusal, NoRecipientAcceptedSendsNoContent) {
    struct Case {
        std::vector<std::string> replies;
        DeliveryOutcome outcome;
        bool pipelining;
    };
    const std::vector<Case> cases{
        {{"550 5.1.1 no such user", "553 5.1.3 bad address"}, DeliveryOutcome::Failed, true},
        {{"550 5.1.1 no such user", "450 4.2.0 try later"}, DeliveryOutcome::Deferred, true},
        {{"550 5.1.1 no such user", "553 5.1.3 bad address"}, DeliveryOutcome::Failed, false},
    };
    for (const auto& c : cases) {
        ServerScript script;
        script.rcptReplies = c.replies;
        if (!c.pipelining) {
            script.extensions = {};
        }
        ScriptedServer server{script};
        DeliveryRequest r = request(server.port());
        r.recipients = {"x@example.test", "y@example.test"};
        const DeliveryResult result = deliver(r);
        const ServerRecord& seen = server.record();
        EXPECT_EQ(result.outcome, c.outcome) << result.reason;
        EXPECT_EQ(result.reason, std::string("host ") + kPeer +
                                     " said: 550 5.1.1 no such user (in reply to RCPT TO command)");
        EXPECT_EQ(result.recipients[1].code, std::stoi(c.replies[1].substr(0, 3)));
        EXPECT_TRUE(seen.body.empty());
        EXPECT_EQ(seen.commands.back(), "QUIT");
        EXPECT_EQ(std::count(seen.commands.begin(), seen.commands.end(), "DATA"),
                  c.pipelining ? 1 : 0);
    }
}

TEST_F(SmtpClientRefusal, TemporaryMailRefusalDefers) {
    ServerScript script;
    script.mailReply = "451 4.3.0 try again later";
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port()));
    const ServerRecord& seen = server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::Deferred);
    EXPECT_FALSE(result.policyDeferred);
    EXPECT_EQ(seen.commands.back(), "QUIT");
    EXPECT_EQ(result.reason,
              std::string("host ") + kPeer +
                  " said: 451 4.3.0 try again later (in reply to MAIL FROM command)");
    EXPECT_TRUE(seen.body.empty());
}

TEST_F(SmtpClientRefusal, PermanentMailRefusalFails) {
    ServerScript script;
    script.mailReply = "553 5.7.1 sender rejected";
    script.extensions = {};
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port()));
    const ServerRecord& seen = server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::Failed);
    const std::vector<std::string> transcript{"EHLO gateway.example.test",
                                              "MAIL FROM:<alice@example.org>", "QUIT"};
    EXPECT_EQ(seen.commands, transcript);
}

TEST_F(SmtpClientRefusal, DataRefusalFails) {
    ServerScript script;
    script.dataReply = "554 5.7.1 transaction refused";
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port()));
    const ServerRecord& seen = server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::Failed) << result.reason;
    EXPECT_EQ(result.reason, std::string("host ") + kPeer +
                                 " said: 554 5.7.1 transaction refused (in reply to DATA command)");
    EXPECT_EQ(result.recipients[0].code, 554);
    EXPECT_TRUE(seen.body.empty());
}

TEST_F(SmtpClientRefusal, RefusalAfterTheContent) {
    for (const std::string& reply :
         {std::string("554 5.6.0 content rejected"), std::string("452 4.3.1 out of space")}) {
        ServerScript script;
        script.finalReply = reply;
        ScriptedServer server{script};
        const DeliveryResult result = deliver(request(server.port()));
        server.record();
        EXPECT_EQ(result.outcome,
                  reply[0] == '5' ? DeliveryOutcome::Failed : DeliveryOutcome::Deferred);
        EXPECT_EQ(result.reason, std::string("host ") + kPeer + " said: " + reply +
                                     " (in reply to end of DATA command)");
        EXPECT_EQ(result.recipients[0].code, std::stoi(reply.substr(0, 3)));
    }
}

TEST_F(SmtpClientRefusal, GreetingRefusalDefers) {
    ServerScript script;
    script.greeting = "554-mx.example.test no service\r\n554 go away";
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port()));
    const ServerRecord& seen = server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::Deferred);
    EXPECT_EQ(result.reason,
              std::string("host ") + kPeer + " said: 554 mx.example.test no service go away");
    const std::vector<std::string> transcript{"QUIT"};
    EXPECT_EQ(seen.commands, transcript);
}

TEST_F(SmtpClientRefusal, MessageOverTheAnnouncedSizeFails) {
    ServerScript script;
    script.extensions = {"PIPELINING", "SIZE 1000"};
    ScriptedServer server{script};
    DeliveryRequest r = request(server.port());
    r.size = 5000;
    const DeliveryResult result = deliver(r);
    const ServerRecord& seen = server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::Failed);
    EXPECT_EQ(result.reason, "5.3.4 message size exceeds the limit of localhost");
    const std::vector<std::string> transcript{"EHLO gateway.example.test", "QUIT"};
    EXPECT_EQ(seen.commands, transcript);
}

TEST_F(SmtpClientConnection, RefusedConnectionDefers) {
    // A port that was just free: bind, read it back, close.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
    const std::uint16_t port = ntohs(address.sin_port);
    ::close(fd);

    const DeliveryResult result = deliver(request(port));
    EXPECT_EQ(result.outcome, DeliveryOutcome::Deferred);
    EXPECT_EQ(result.reason, std::string("4.4.1 connect to ") + kPeer + ":" + std::to_string(port) +
                                 ": Connection refused");
}

TEST_F(SmtpClientConnection, HangUpDuringDataDefers) {
    ServerScript script;
    script.closeInData = true;
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port()));
    server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::Deferred);
    EXPECT_TRUE(
        contains(result.reason, std::string("4.4.2 lost connection with ") + kPeer + " while "))
        << result.reason;
}

TEST_F(SmtpClientConnection, HangUpBeforeTheGreetingDefers) {
    ServerScript script;
    script.greeting.clear();  // close at once
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port()));
    server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::Deferred);
    EXPECT_EQ(result.reason, std::string("4.4.2 lost connection with ") + kPeer +
                                 " while receiving the initial greeting");
}

TEST_F(SmtpClientConnection, MalformedGreetingDefers) {
    ServerScript script;
    script.greeting = "hello there";
    ScriptedServer server{script};
    const DeliveryResult result = deliver(request(server.port()));
    server.record();
    EXPECT_EQ(result.outcome, DeliveryOutcome::Deferred);
    EXPECT_EQ(result.reason, std::string("4.5.0 protocol error with ") + kPeer +
                                 " while receiving the initial greeting: malformed reply \"hello "
                                 "there\"");
}

using SmtpClientCache = SmtpClientTest;

TEST_F(SmtpClientCache, SecondMessageReusesTheVerifiedTlsConnection) {
    SslCtxPtr tls = serverContext(*goodLeaf_);
    ServerScript script;
    script.tls = tls.get();
    ScriptedServer server{script};
    ConnectionCache cache({std::chrono::seconds(60), 2, 4});
    DeliveryRequest r = request(server.port(), SendTlsLevel::RequireVerify);
    r.cache = &cache;
    const DeliveryResult first = deliver(r);
    EXPECT_EQ(cache.idle(), 1u);
    r.recipients = {"carol@example.test"};
    const DeliveryResult second = deliver(r);
    const ServerRecord& seen = server.record();

    EXPECT_EQ(first.outcome, DeliveryOutcome::Delivered) << first.reason;
    EXPECT_FALSE(first.reused);
    EXPECT_EQ(second.outcome, DeliveryOutcome::Delivered) << second.reason;
    EXPECT_TRUE(second.reused);
    // What the first transaction established holds for the second: same session, verified.
    EXPECT_TRUE(second.tlsUsed);
    EXPECT_TRUE(second.tlsFacts.chainVerified && second.tlsFacts.nameMatched);
    EXPECT_EQ(second.tlsCipher, first.tlsCipher);
    ASSERT_TRUE(second.serverCert.has_value());
    EXPECT_EQ(second.serverCert->sha256Fingerprint, first.serverCert->sha256Fingerprint);
    EXPECT_EQ(seen.connections, 1);
    const std::string mail =
        "MAIL FROM:<alice@example.org> SIZE=" + std::to_string(content_.size());
    // The reuse limit (2) closes the connection after the second message.
    const std::vector<std::string> transcript{"EHLO gateway.example.test",
                                              "STARTTLS",
                                              "EHLO gateway.example.test",
                                              mail,
                                              "RCPT TO:<bob@example.test>",
                                              "DATA",
                                              "RSET",
                                              mail,
                                              "RCPT TO:<carol@example.test>",
                                              "DATA",
                                              "QUIT"};
    EXPECT_EQ(seen.commands, transcript);
    EXPECT_EQ(cache.idle(), 0u);
}

TEST_F(SmtpClientCache, ConnectionClosedByTheServerIsReplacedByANewOne) {
    ServerScript script;
    script.closeAfterMessage = true;
    script.connections = 2;
    ScriptedServer server{script};
    ConnectionCache cache({std::chrono::seconds(60), 100, 4});
    DeliveryRequest r = request(server.port(), SendTlsLevel::NoTls);
    r.cache = &cache;
    const DeliveryResult first = deliver(r);
    const DeliveryResult second = deliver(r);
    const ServerRecord& seen = server.record();

    EXPECT_EQ(first.outcome, DeliveryOutcome::Delivered) << first.reason;
    EXPECT_EQ(second.outcome, DeliveryOutcome::Delivered) << second.reason;
    EXPECT_FALSE(second.reused);
    EXPECT_EQ(seen.connections, 2);
    EXPECT_EQ(std::count(seen.commands.begin(), seen.commands.end(), "EHLO gateway.example.test"),
              2);
}

TEST_F(SmtpClientCache, DifferentLevelIsNotServedFromTheCache) {
    SslCtxPtr tls = serverContext(*goodLeaf_);
    ServerScript script;
    script.tls = tls.get();
    script.connections = 2;
    ScriptedServer server{script};
    ConnectionCache cache({std::chrono::seconds(60), 100, 4});
    DeliveryRequest r = request(server.port(), SendTlsLevel::Attempt);
    r.cache = &cache;
    r.forcePlain = true;  // a plaintext connection must not carry a message that needs TLS
    EXPECT_EQ(deliver(r).outcome, DeliveryOutcome::Delivered);
    r.forcePlain = false;
    r.level = SendTlsLevel::RequireVerify;
    const DeliveryResult second = deliver(r);
    EXPECT_EQ(second.outcome, DeliveryOutcome::Delivered) << second.reason;
    EXPECT_FALSE(second.reused);
    EXPECT_TRUE(second.tlsUsed);
    EXPECT_EQ(cache.idle(), 2u);
    cache.clear();  // QUIT to both
    const ServerRecord& seen = server.record();
    EXPECT_EQ(seen.connections, 2);
    EXPECT_EQ(std::count(seen.commands.begin(), seen.commands.end(), "QUIT"), 2);
}

TEST_F(SmtpClientCache, IdleConnectionsAreClosedWhenTheirTimeIsUp) {
    ScriptedServer server{ServerScript()};
    ConnectionCache cache({std::chrono::milliseconds(0), 100, 4});
    DeliveryRequest r = request(server.port(), SendTlsLevel::NoTls);
    r.cache = &cache;
    EXPECT_EQ(deliver(r).outcome, DeliveryOutcome::Delivered);
    EXPECT_EQ(cache.idle(), 1u);
    cache.closeExpired();
    EXPECT_EQ(cache.idle(), 0u);
    const ServerRecord& seen = server.record();
    EXPECT_EQ(seen.commands.back(), "QUIT");
}

}  // namespace
}  // namespace tlsgate::gateway
