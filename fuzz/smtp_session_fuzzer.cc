// libFuzzer target: the whole receiving Session (session.h) with the input as the client's writes,
// over a scripted Transport (no sockets, no real TLS: STARTTLS "succeeds" or fails on request, so
// the state after it is covered too) and a real Spool in a per-process scratch directory.
// Invariants: the output is only well-formed SMTP replies (three digits, space or dash, CRLF, no
// stray CR/LF), it starts with the 220 greeting, and every "250 ... queued as ID" is in the spool.
// Input layout: byte 0 picks the configuration, byte 1 the chunking (and the faked TLS facts).
#include <Poco/Logger.h>

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "tlsgate/certmgr/store.h"
#include "tlsgate/common/event_bus.h"
#include "tlsgate/gateway/config.h"
#include "tlsgate/gateway/session.h"
#include "tlsgate/gateway/spool.h"
#include "tlsgate/gateway/tls_server.h"

namespace gw = tlsgate::gateway;
using tlsgate::fuzz::check;

namespace {

/// Feeds the session one scripted chunk per read (as gateway/tests/session_test.cc does) and
/// records every write. startTls() pretends the handshake happened: reads stay plaintext.
class ScriptedTransport final : public gw::Transport {
  public:
    ScriptedTransport(std::deque<std::string_view> chunks, ReadStatus end, bool handshakeOk,
                      bool clientCert, bool clientCertVerified)
        : chunks_(std::move(chunks)),
          end_(end),
          handshakeOk_(handshakeOk),
          clientCert_(clientCert),
          clientCertVerified_(clientCertVerified) {}

    ReadResult read(char* buffer, std::size_t size) override {
        if (chunks_.empty()) {
            return {end_, 0, {}};
        }
        std::string_view& chunk = chunks_.front();
        const std::size_t n = std::min(size, chunk.size());
        std::copy_n(chunk.data(), n, buffer);
        chunk.remove_prefix(n);
        if (chunk.empty()) {
            chunks_.pop_front();
        }
        return {ReadStatus::Data, n, {}};
    }
    bool write(std::string_view data) override {
        output_ += data;
        return true;
    }
    void setTimeout(std::chrono::seconds) override {}
    gw::HandshakeResult startTls(const gw::ServerTlsContext&) override {
        ++startTlsCalls_;
        gw::HandshakeResult r;
        if (!handshakeOk_) {
            r.error = "scripted handshake failure";
            return r;
        }
        r.ok = true;
        r.version = "TLSv1.3";
        r.cipher = "TLS_AES_256_GCM_SHA384";
        r.cipherBits = 256;
        r.group = "X25519";
        r.serverName = "mx.example.test";
        if (clientCert_) {
            r.clientCertPresented = true;
            tlsgate::certmgr::CertificateInfo info;
            info.subject = "CN=client.example";
            info.issuer = "CN=Fuzz CA";
            info.commonName = "client.example";
            info.serial = "01";
            info.sha256Fingerprint = "AB:CD";
            r.clientCert = info;
            r.clientCertVerified = clientCertVerified_;
            if (!clientCertVerified_) {
                r.clientCertVerifyError = "unable to get local issuer certificate";
            }
        }
        return r;
    }

    std::string output_;
    int startTlsCalls_ = 0;

  private:
    std::deque<std::string_view> chunks_;
    ReadStatus end_;
    bool handshakeOk_;
    bool clientCert_;
    bool clientCertVerified_;
};

/// What lives for the whole process: scratch directory, certificate store, TLS context, spool.
struct World {
    tlsgate::fuzz::ScratchDirectory scratch;
    gw::GatewayConfig base;
    std::unique_ptr<tlsgate::certmgr::Store> store;
    std::unique_ptr<gw::ServerTlsContextHolder> tls;
    std::unique_ptr<gw::Spool> spool;
    tlsgate::EventBus bus;
    std::uint64_t runs = 0;

    World() {
        base = gw::defaultConfig();
        base.gateway.hostname = "mx.example.test";
        base.receive.relayDomains = {"example.test"};
        tlsgate::certmgr::StoreOptions options;
        options.directory = scratch.path() / "certs";
        options.hostname = "mx.example.test";
        options.useSystemCa = false;
        store = std::make_unique<tlsgate::certmgr::Store>(options);
        store->ensureDefault();
        tls = std::make_unique<gw::ServerTlsContextHolder>(gw::ServerTlsSettings{});
        const std::string error = tls->rebuild(*store);
        check(error.empty(), "cannot build the TLS context", error);
        freshSpool();
    }

    /// A new, empty spool: every message accepted so far is dropped (the fuzzer keeps it small).
    void freshSpool() {
        spool.reset();
        std::error_code ec;
        std::filesystem::remove_all(scratch.path() / "spool", ec);
        spool = std::make_unique<gw::Spool>(scratch.path() / "spool");
    }
};

World& world() {
    static World w;
    return w;
}

gw::GatewayConfig configFor(std::uint8_t selector) {
    gw::GatewayConfig c = world().base;
    static constexpr gw::ReceiveTlsLevel kLevels[] = {
        gw::ReceiveTlsLevel::NoTls, gw::ReceiveTlsLevel::Attempt, gw::ReceiveTlsLevel::Require,
        gw::ReceiveTlsLevel::Attempt};
    c.receive.tlsLevel = kLevels[selector & 3];
    static constexpr gw::ClientCertMode kModes[] = {
        gw::ClientCertMode::DoNotRequest, gw::ClientCertMode::Request, gw::ClientCertMode::Require,
        gw::ClientCertMode::DoNotRequest};
    c.receive.clientCertificate = kModes[(selector >> 6) & 3];
    // Only combinations loadConfig accepts.
    if (c.receive.clientCertificate == gw::ClientCertMode::Require) {
        c.receive.tlsLevel = gw::ReceiveTlsLevel::Require;
    } else if (c.receive.clientCertificate == gw::ClientCertMode::Request &&
               c.receive.tlsLevel == gw::ReceiveTlsLevel::NoTls) {
        c.receive.tlsLevel = gw::ReceiveTlsLevel::Attempt;
    }
    if ((selector & 8) != 0) {  // small limits: every limit is reachable with a short input
        c.receive.maxMessageSize = 300;
        c.receive.maxRecipients = 2;
        c.receive.maxErrors = 3;
        c.receive.maxCommands = 30;
        c.receive.commandLineLimit = 64;
        c.receive.textLineLimit = 80;
    } else {
        c.receive.maxMessageSize = 100000;
    }
    return c;
}

/// Every byte of `out` belongs to a reply line "DDD " / "DDD-" ... CRLF; continuation lines are
/// followed by a line with the same code.
void checkReplies(const std::string& out) {
    check(out.starts_with("220 mx.example.test"), "no 220 greeting first", out);
    std::size_t pos = 0;
    std::string continuing;
    while (pos < out.size()) {
        const std::size_t end = out.find("\r\n", pos);
        check(end != std::string::npos, "output does not end with CRLF", out.substr(pos));
        const std::string_view line(out.data() + pos, end - pos);
        check(line.size() >= 4, "reply line shorter than 4", line);
        check(line[0] >= '2' && line[0] <= '5' && line[1] >= '0' && line[1] <= '9' &&
                  line[2] >= '0' && line[2] <= '9',
              "reply line without a 3-digit code", line);
        check(line[3] == ' ' || line[3] == '-', "reply code not followed by space or dash", line);
        check(line.find_first_of("\r\n") == std::string_view::npos, "CR or LF inside a reply",
              line);
        if (!continuing.empty()) {
            check(line.substr(0, 3) == continuing, "continuation with another code", line);
        }
        continuing = line[3] == '-' ? std::string(line.substr(0, 3)) : std::string();
        pos = end + 2;
    }
    check(continuing.empty(), "multi-line reply without its last line", out);
}

/// Every message the session acknowledged is durable in the spool.
void checkQueued(const std::string& out, const gw::Spool& spool) {
    static constexpr std::string_view kQueued = "250 2.0.0 Ok: queued as ";
    for (std::size_t at = out.find(kQueued); at != std::string::npos;
         at = out.find(kQueued, at + 1)) {
        const std::size_t start = at + kQueued.size();
        const std::string id = out.substr(start, out.find("\r\n", start) - start);
        check(spool.contains(id), "a message answered 250 is not in the spool", id);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    std::signal(SIGPIPE, SIG_IGN);
    Poco::Logger::root().setLevel(0);  // no log lines: sessions would log every run
    Poco::Logger::setLevel("", 0);
    world();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    World& w = world();
    if (++w.runs % 256 == 0) {
        w.freshSpool();
    }
    const std::uint8_t selector = data[0];
    const std::uint8_t chunking = data[1];
    const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
    const auto pieces = tlsgate::fuzz::splitIntoChunks(stream, chunking);

    gw::SessionServices services;
    services.config = std::make_shared<const gw::GatewayConfig>(configFor(selector));
    services.tls = (selector & 0x20) != 0 ? nullptr : w.tls.get();
    services.spool = w.spool.get();
    services.bus = &w.bus;
    ScriptedTransport transport(std::deque<std::string_view>(pieces.begin(), pieces.end()),
                                (selector & 0x10) != 0 ? gw::Transport::ReadStatus::Timeout
                                                       : gw::Transport::ReadStatus::Eof,
                                (chunking & 0x20) == 0, (chunking & 0x40) != 0,
                                (chunking & 0x80) != 0);
    const bool trusted = (selector & 4) != 0;
    {
        gw::Session session(services, transport,
                            {trusted ? "127.0.0.1" : "192.0.2.10", 40000, "192.0.2.1", 25});
        session.run();
    }
    checkReplies(transport.output_);
    checkQueued(transport.output_, *w.spool);
    return 0;
}
