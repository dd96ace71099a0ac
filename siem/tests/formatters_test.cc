// Each SIEM format on the events the gateway and certmgr publish, hostile values included; JSON is
// parsed back with Poco. Failures are gtest assertions.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <chrono>
#include <regex>

#include "tlsgate/siem/formatters.h"
#include "tlsgate/siem/json_writer.h"
#include "tlsgate/siem/record_fields.h"

namespace tlsgate::siem {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

const TimePoint kAt = sys_days{2024y / May / 1} + 12h + 34min + 56s + 789ms;
constexpr std::string_view kFingerprint = "AB:CD:EF:01:23";

FormatContext context() {
    FormatContext c;
    c.observerHost = "gw1.example.net";
    c.productVersion = "0.1.0";
    c.procId = "4242";
    return c;
}

TlsSessionEvent inbound(TlsSessionEventKind kind) {
    TlsSessionEvent e;
    e.kind = kind;
    e.at = kAt;
    e.sessionId = "S1";
    e.direction = Direction::Inbound;
    e.peerAddress = "192.0.2.10";
    e.peerPort = 52344;
    e.localAddress = "198.51.100.1";
    e.localPort = 25;
    e.peerName = "mail.example.org";
    return e;
}

TlsSessionEvent withTls(TlsSessionEvent e) {
    e.tls = true;
    e.tlsVersion = "TLSv1.3";
    e.cipher = "TLS_AES_256_GCM_SHA384";
    e.cipherBits = 256;
    e.group = "X25519";
    return e;
}

TlsSessionEvent handshakeWithClientCert() {
    auto e = withTls(inbound(TlsSessionEventKind::HandshakeSucceeded));
    e.serverName = "mx.example.net";
    e.peerCertSubject = "CN=client.example.org,O=Example";
    e.peerCertIssuer = "CN=Example CA,O=Example";
    e.peerCertSha256 = std::string(kFingerprint);
    e.peerCertSerial = "1A2B3C";
    e.peerCertVerified = true;
    return e;
}

TlsSessionEvent handshakeWithoutCert() {
    auto e = withTls(inbound(TlsSessionEventKind::HandshakeSucceeded));
    e.serverName = "mx.example.net";
    return e;
}

TlsSessionEvent policyRejection() {
    auto e = inbound(TlsSessionEventKind::PolicyDecision);
    e.rule = "tls-required";
    e.reason = "530 5.7.0 Must issue a STARTTLS command first";
    e.success = false;
    return e;
}

TlsSessionEvent messageAccepted() {
    auto e = withTls(inbound(TlsSessionEventKind::MessageAccepted));
    e.queueId = "Q0001";
    e.sender = "alice@example.org";
    e.recipientCount = 3;
    e.messageSize = 4096;
    return e;
}

TlsSessionEvent outboundDeferral() {
    // As the queue manager publishes it: no local address or peer port.
    TlsSessionEvent e;
    e.kind = TlsSessionEventKind::Deferred;
    e.at = kAt;
    e.sessionId = "S1";
    e.direction = Direction::Outbound;
    e.queueId = "Q0001";
    e.sender = "alice@example.org";
    e.recipientCount = 1;
    e.messageSize = 4096;
    e.reason = "server certificate does not match mx.remote.example";
    e.rule = "require-verify";
    e.success = false;
    e.peerName = "mx.remote.example";
    e.peerAddress = "203.0.113.5";
    e.tls = true;
    e.tlsVersion = "TLSv1.2";
    e.cipher = "ECDHE-RSA-AES256-GCM-SHA384";
    e.peerCertSubject = "CN=other.example";
    e.peerCertIssuer = "CN=Remote CA";
    e.peerCertSha256 = "01:02:0A:0B";
    e.peerCertSerial = "05";
    e.peerCertVerified = false;
    return e;
}

CertificateEvent certificate(CertificateEventKind kind) {
    CertificateEvent e;
    e.kind = kind;
    e.at = kAt;
    e.certId = "c-7";
    e.subject = "CN=gw1.example.net";
    e.sha256Fingerprint = std::string(kFingerprint);
    e.notAfter = sys_days{2024y / May / 15} + 0h;
    e.daysLeft = 14;
    return e;
}

CertificateEvent expiring() {
    auto e = certificate(CertificateEventKind::Expiring);
    e.thresholdDays = 14;
    e.detail = "server certificate expires in 14 days";
    return e;
}

CertificateEvent expired() {
    auto e = certificate(CertificateEventKind::Expired);
    e.notAfter = sys_days{2024y / April / 30} + 0h;
    e.daysLeft = -1;
    e.detail = "server certificate expired";
    return e;
}

CertificateEvent imported() {
    auto e = certificate(CertificateEventKind::Imported);
    e.daysLeft = 365;
    e.notAfter = sys_days{2025y / May / 1} + 0h;
    e.detail = "imported from /tmp/gw1.pem";
    return e;
}

/// Every hostile character: the delimiters of all formats, quotes, backslash, CR LF, tab, '^',
/// and non-ASCII UTF-8 ("Zürich", U+20AC).
const std::string kHostileSubject = "CN=a|b=c\"d]e\\f\r\ng\th^i,L=Z\xC3\xBCrich \xE2\x82\xAC";
const std::string kHostileReason = "bad | reason = \"x\" ] \\ \nend\t^";

TlsSessionEvent hostile() {
    auto e = handshakeWithClientCert();
    e.kind = TlsSessionEventKind::ClientCertificate;
    e.success = false;
    e.peerCertSubject = kHostileSubject;
    e.reason = kHostileReason;
    return e;
}

/// A parsed JSON record, read by dotted paths ("tls.client.x509.serial_number", "a.0.b").
class Json {
  public:
    explicit Json(const std::string& text) {
        Poco::JSON::Parser parser;
        root_ = parser.parse(text);
    }
    Poco::Dynamic::Var at(const std::string& path) const {
        Poco::Dynamic::Var v = root_;
        std::size_t start = 0;
        while (start <= path.size()) {
            const auto dot = path.find('.', start);
            const std::string key =
                path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
            if (v.type() == typeid(Poco::JSON::Array::Ptr)) {
                v = v.extract<Poco::JSON::Array::Ptr>()->get(static_cast<unsigned>(std::stoi(key)));
            } else if (v.type() == typeid(Poco::JSON::Object::Ptr)) {
                auto object = v.extract<Poco::JSON::Object::Ptr>();
                if (!object->has(key)) {
                    return {};
                }
                v = object->get(key);
            } else {
                return {};
            }
            if (dot == std::string::npos) {
                break;
            }
            start = dot + 1;
        }
        return v;
    }
    bool has(const std::string& path) const { return !at(path).isEmpty(); }
    std::string str(const std::string& path) const { return at(path).convert<std::string>(); }
    std::int64_t num(const std::string& path) const { return at(path).convert<std::int64_t>(); }
    bool flag(const std::string& path) const { return at(path).convert<bool>(); }

  private:
    Poco::Dynamic::Var root_;
};

std::string ecs(const Event& e) {
    return formatEcs(e, context());
}
std::string ocsf(const Event& e) {
    return formatOcsf(e, context());
}
std::string cef(const Event& e) {
    return formatCef(e, context());
}
std::string leef(const Event& e) {
    return formatLeef(e, context());
}
std::string syslog(const Event& e, std::string_view body = {}) {
    return formatSyslog(e, context(), body);
}

// ---------------------------------------------------------------------------------------- ECS

TEST(SiemJsonWriter, NestedObjectsAppearOnlyWithMembers) {
    JsonWriter w;
    w.string("a", "x");
    w.open("empty").stringIfNotEmpty("never", "").open("deeper").close().close();
    w.open("outer").open("inner").number("n", -5).close().boolean("b", false).close();
    w.strings("list", {"p", "q\"r"});
    w.open("late").open("later").number("u", std::uint64_t{18446744073709551615u});
    EXPECT_EQ(w.finish(),
              "{\"a\":\"x\",\"outer\":{\"inner\":{\"n\":-5},\"b\":false},"
              "\"list\":[\"p\",\"q\\\"r\"],\"late\":{\"later\":{\"u\":18446744073709551615}}}");
    JsonWriter nothing;
    nothing.open("x").close();
    EXPECT_EQ(nothing.finish(), "{}");
}

TEST(SiemTime, Rfc3339MillisPadsEveryField) {
    EXPECT_EQ(rfc3339Millis(sys_days{2026y / January / 2} + 3h + 4min + 5s + 6ms),
              "2026-01-02T03:04:05.006Z");
    EXPECT_EQ(rfc3339Millis(sys_days{1999y / December / 31} + 23h + 59min + 59s + 999ms),
              "1999-12-31T23:59:59.999Z");
    EXPECT_EQ(rfc3339Millis(TimePoint{}), "1970-01-01T00:00:00.000Z");
}

TEST(SiemEcs, InboundHandshakeWithClientCertificate) {
    const std::string text = ecs(handshakeWithClientCert());
    EXPECT_EQ(text.find('\n'), std::string::npos);
    const Json j(text);
    EXPECT_EQ(j.str("@timestamp"), "2024-05-01T12:34:56.789Z");
    EXPECT_EQ(j.str("ecs.version"), "8.11.0");
    EXPECT_EQ(j.str("event.kind"), "event");
    EXPECT_EQ(j.str("event.category.0"), "network");
    EXPECT_EQ(j.str("event.type.0"), "protocol");
    EXPECT_EQ(j.str("event.action"), "handshake-succeeded");
    EXPECT_EQ(j.str("event.outcome"), "success");
    EXPECT_EQ(j.num("event.severity"), 6);
    EXPECT_EQ(j.str("log.level"), "informational");
    EXPECT_EQ(j.str("message"), "TLS handshake succeeded");
    EXPECT_EQ(j.str("source.ip"), "192.0.2.10");
    EXPECT_EQ(j.num("source.port"), 52344);
    EXPECT_EQ(j.str("destination.ip"), "198.51.100.1");
    EXPECT_EQ(j.num("destination.port"), 25);
    EXPECT_EQ(j.str("network.direction"), "inbound");
    EXPECT_TRUE(j.flag("tls.established"));
    EXPECT_EQ(j.str("tls.version"), "1.3");
    EXPECT_EQ(j.str("tls.version_protocol"), "tls");
    EXPECT_EQ(j.str("tls.cipher"), "TLS_AES_256_GCM_SHA384");
    EXPECT_EQ(j.str("tls.curve"), "X25519");
    EXPECT_EQ(j.str("tls.client.server_name"), "mx.example.net");
    EXPECT_EQ(j.str("tls.client.x509.subject.distinguished_name"),
              "CN=client.example.org,O=Example");
    EXPECT_EQ(j.str("tls.client.x509.issuer.distinguished_name"), "CN=Example CA,O=Example");
    EXPECT_EQ(j.str("tls.client.x509.serial_number"), "1A2B3C");
    EXPECT_EQ(j.str("tls.client.hash.sha256"), "ABCDEF0123");
    EXPECT_FALSE(j.has("tls.server"));
    EXPECT_EQ(j.str("observer.hostname"), "gw1.example.net");
    EXPECT_EQ(j.str("observer.product"), "tlsgate");
    EXPECT_EQ(j.str("observer.version"), "0.1.0");
    EXPECT_EQ(j.str("tlsgate.session_id"), "S1");
    EXPECT_EQ(j.str("tlsgate.direction"), "inbound");
    EXPECT_EQ(j.str("tlsgate.peer_name"), "mail.example.org");
    EXPECT_EQ(j.num("tlsgate.cipher_bits"), 256);
    EXPECT_TRUE(j.flag("tlsgate.peer_certificate_verified"));
    EXPECT_FALSE(j.has("email"));
}

TEST(SiemEcs, InboundHandshakeWithoutClientCertificate) {
    const Json j(ecs(handshakeWithoutCert()));
    EXPECT_EQ(j.str("tls.version"), "1.3");
    EXPECT_EQ(j.str("tls.client.server_name"), "mx.example.net");
    EXPECT_FALSE(j.has("tls.client.x509"));
    EXPECT_FALSE(j.has("tls.client.hash"));
    EXPECT_FALSE(j.has("tlsgate.peer_certificate_verified"));
}

TEST(SiemEcs, PolicyRejectionIsAnAlert) {
    const Json j(ecs(policyRejection()));
    EXPECT_EQ(j.str("event.kind"), "alert");
    EXPECT_EQ(j.str("event.type.0"), "denied");
    EXPECT_EQ(j.str("event.action"), "policy-decision");
    EXPECT_EQ(j.str("event.outcome"), "failure");
    EXPECT_EQ(j.num("event.severity"), 4);
    EXPECT_EQ(j.str("log.level"), "warning");
    EXPECT_FALSE(j.flag("tls.established"));
    EXPECT_FALSE(j.has("tls.version"));
    EXPECT_EQ(j.str("tlsgate.rule"), "tls-required");
    EXPECT_EQ(j.str("tlsgate.reason"), "530 5.7.0 Must issue a STARTTLS command first");
    EXPECT_EQ(j.str("message"), "Refused by policy: 530 5.7.0 Must issue a STARTTLS command first");
}

TEST(SiemEcs, MessageAccepted) {
    const Json j(ecs(messageAccepted()));
    EXPECT_EQ(j.str("event.category.0"), "email");
    EXPECT_EQ(j.str("event.type.0"), "info");
    EXPECT_EQ(j.str("event.action"), "message-accepted");
    EXPECT_EQ(j.str("email.direction"), "inbound");
    EXPECT_EQ(j.str("email.from.address"), "alice@example.org");
    EXPECT_EQ(j.str("email.local_id"), "Q0001");
    EXPECT_EQ(j.str("tlsgate.queue_id"), "Q0001");
    EXPECT_EQ(j.num("tlsgate.recipient_count"), 3);
    EXPECT_EQ(j.num("tlsgate.message_size"), 4096);
}

TEST(SiemEcs, OutboundDeferralPutsUsAtTheSource) {
    const Json j(ecs(outboundDeferral()));
    EXPECT_EQ(j.str("event.kind"), "alert");
    EXPECT_EQ(j.str("event.action"), "deferred");
    EXPECT_EQ(j.str("event.outcome"), "failure");
    EXPECT_EQ(j.str("log.level"), "warning");
    EXPECT_FALSE(j.has("source"));  // the queue manager does not report our address
    EXPECT_EQ(j.str("destination.ip"), "203.0.113.5");
    EXPECT_FALSE(j.has("destination.port"));
    EXPECT_EQ(j.str("destination.domain"), "mx.remote.example");
    EXPECT_EQ(j.str("network.direction"), "outbound");
    EXPECT_EQ(j.str("tls.version"), "1.2");
    EXPECT_EQ(j.str("tls.server.x509.subject.distinguished_name"), "CN=other.example");
    EXPECT_EQ(j.str("tls.server.x509.issuer.distinguished_name"), "CN=Remote CA");
    EXPECT_EQ(j.str("tls.server.hash.sha256"), "01020A0B");
    EXPECT_FALSE(j.has("tls.client"));
    EXPECT_FALSE(j.flag("tlsgate.peer_certificate_verified"));
    EXPECT_EQ(j.str("email.direction"), "outbound");
    EXPECT_EQ(j.str("tlsgate.rule"), "require-verify");
}

TEST(SiemEcs, CertificateExpiring) {
    const Json j(ecs(expiring()));
    EXPECT_EQ(j.str("event.kind"), "alert");
    EXPECT_EQ(j.str("event.category.0"), "configuration");
    EXPECT_EQ(j.str("event.type.0"), "info");
    EXPECT_EQ(j.str("event.action"), "certificate-expiring");
    EXPECT_EQ(j.str("event.outcome"), "unknown");
    EXPECT_EQ(j.str("log.level"), "warning");
    EXPECT_EQ(j.str("event.dataset"), "tlsgate.certificate");
    EXPECT_EQ(j.str("x509.subject.distinguished_name"), "CN=gw1.example.net");
    EXPECT_EQ(j.str("x509.not_after"), "2024-05-15T00:00:00.000Z");
    EXPECT_EQ(j.str("tlsgate.certificate.sha256"), "ABCDEF0123");
    EXPECT_EQ(j.str("tlsgate.cert_id"), "c-7");
    EXPECT_EQ(j.num("tlsgate.days_left"), 14);
    EXPECT_EQ(j.num("tlsgate.threshold_days"), 14);
    EXPECT_FALSE(j.has("tls"));
    EXPECT_FALSE(j.has("source"));
}

TEST(SiemEcs, CertificateExpiredAndImported) {
    const Json gone(ecs(expired()));
    EXPECT_EQ(gone.str("event.action"), "certificate-expired");
    EXPECT_EQ(gone.str("log.level"), "error");
    EXPECT_EQ(gone.num("tlsgate.days_left"), -1);
    EXPECT_FALSE(gone.has("tlsgate.threshold_days"));
    const Json added(ecs(imported()));
    EXPECT_EQ(added.str("event.kind"), "event");
    EXPECT_EQ(added.str("event.type.0"), "creation");
    EXPECT_EQ(added.str("event.action"), "certificate-imported");
    EXPECT_EQ(added.str("event.outcome"), "success");
    EXPECT_EQ(added.str("message"), "Certificate imported: imported from /tmp/gw1.pem");
}

TEST(SiemEcs, ClosedCarriesBytesAndDuration) {
    auto e = inbound(TlsSessionEventKind::Closed);
    e.durationMs = 1500;
    e.bytesIn = 1000;
    e.bytesOut = 200;
    e.commands = 7;
    const Json j(ecs(e));
    EXPECT_EQ(j.str("event.type.1"), "end");
    EXPECT_EQ(j.num("event.duration"), 1'500'000'000);
    EXPECT_EQ(j.num("source.bytes"), 1000);
    EXPECT_EQ(j.num("destination.bytes"), 200);
    EXPECT_EQ(j.num("tlsgate.commands"), 7);
}

TEST(SiemEcs, HostileValuesRoundTrip) {
    const std::string text = ecs(hostile());
    EXPECT_EQ(text.find('\n'), std::string::npos);
    EXPECT_EQ(text.find('\t'), std::string::npos);
    const Json j(text);
    EXPECT_EQ(j.str("tls.client.x509.subject.distinguished_name"), kHostileSubject);
    EXPECT_EQ(j.str("tlsgate.reason"), kHostileReason);
    EXPECT_EQ(j.str("event.outcome"), "failure");
    EXPECT_NE(text.find("\"CN=a|b=c\\\"d]e\\\\f\\r\\ng\\th^i,L=Z\xC3\xBCrich \xE2\x82\xAC\""),
              std::string::npos);
}

TEST(SiemEcs, InvalidUtf8BecomesReplacementCharacter) {
    auto e = policyRejection();
    e.reason = "bad \xFF byte";
    const Json j(ecs(e));
    EXPECT_EQ(j.str("tlsgate.reason"), "bad \xEF\xBF\xBD byte");
}

// --------------------------------------------------------------------------------------- OCSF

TEST(SiemOcsf, InboundHandshakeIsNetworkActivity) {
    const Json j(ocsf(handshakeWithClientCert()));
    EXPECT_EQ(j.num("class_uid"), 4001);
    EXPECT_EQ(j.num("category_uid"), 4);
    EXPECT_EQ(j.num("activity_id"), 6);
    EXPECT_EQ(j.str("activity_name"), "Traffic");
    EXPECT_EQ(j.num("type_uid"), 400106);
    EXPECT_EQ(j.num("time"), epochMillis(kAt));
    EXPECT_EQ(j.num("severity_id"), 1);
    EXPECT_EQ(j.num("status_id"), 1);
    EXPECT_EQ(j.str("metadata.version"), "1.1.0");
    EXPECT_EQ(j.str("metadata.product.name"), "tlsgate");
    EXPECT_EQ(j.str("metadata.product.vendor_name"), "tlsgate");
    EXPECT_EQ(j.str("metadata.event_code"), "handshake-succeeded");
    EXPECT_EQ(j.str("metadata.correlation_uid"), "S1");
    EXPECT_EQ(j.num("connection_info.direction_id"), 1);
    EXPECT_EQ(j.str("src_endpoint.ip"), "192.0.2.10");
    EXPECT_EQ(j.num("src_endpoint.port"), 52344);
    EXPECT_EQ(j.str("src_endpoint.hostname"), "mail.example.org");
    EXPECT_EQ(j.str("dst_endpoint.ip"), "198.51.100.1");
    EXPECT_EQ(j.str("dst_endpoint.hostname"), "gw1.example.net");
    EXPECT_EQ(j.str("tls.version"), "TLSv1.3");
    EXPECT_EQ(j.str("tls.cipher"), "TLS_AES_256_GCM_SHA384");
    EXPECT_EQ(j.num("tls.key_length"), 256);
    EXPECT_EQ(j.str("tls.sni"), "mx.example.net");
    EXPECT_EQ(j.str("tls.certificate.subject"), "CN=client.example.org,O=Example");
    EXPECT_EQ(j.str("tls.certificate.issuer"), "CN=Example CA,O=Example");
    EXPECT_EQ(j.str("tls.certificate.serial_number"), "1A2B3C");
    EXPECT_EQ(j.num("tls.certificate.fingerprints.0.algorithm_id"), 3);
    EXPECT_EQ(j.str("tls.certificate.fingerprints.0.value"), "ABCDEF0123");
    EXPECT_EQ(j.str("unmapped.tlsgate.group"), "X25519");
}

TEST(SiemOcsf, WithoutClientCertificateHasNoCertificateObject) {
    const Json j(ocsf(handshakeWithoutCert()));
    EXPECT_TRUE(j.has("tls.version"));
    EXPECT_FALSE(j.has("tls.certificate"));
}

TEST(SiemOcsf, PolicyRejectionIsRefuse) {
    const Json j(ocsf(policyRejection()));
    EXPECT_EQ(j.num("class_uid"), 4001);
    EXPECT_EQ(j.num("activity_id"), 5);
    EXPECT_EQ(j.num("type_uid"), 400105);
    EXPECT_EQ(j.num("status_id"), 2);
    EXPECT_EQ(j.str("status"), "Failure");
    EXPECT_EQ(j.str("status_detail"), "530 5.7.0 Must issue a STARTTLS command first");
    EXPECT_EQ(j.num("severity_id"), 3);
    EXPECT_EQ(j.str("unmapped.tlsgate.rule"), "tls-required");
    EXPECT_FALSE(j.has("tls"));
}

TEST(SiemOcsf, MessageAcceptedIsEmailReceive) {
    const Json j(ocsf(messageAccepted()));
    EXPECT_EQ(j.num("class_uid"), 4009);
    EXPECT_EQ(j.num("category_uid"), 4);
    EXPECT_EQ(j.num("activity_id"), 2);
    EXPECT_EQ(j.num("type_uid"), 400902);
    EXPECT_EQ(j.num("direction_id"), 1);
    EXPECT_EQ(j.str("smtp_hello"), "mail.example.org");
    EXPECT_EQ(j.str("email.smtp_from"), "alice@example.org");
    EXPECT_EQ(j.str("email.uid"), "Q0001");
    EXPECT_EQ(j.num("email.size"), 4096);
    EXPECT_EQ(j.num("unmapped.tlsgate.recipient_count"), 3);
    EXPECT_EQ(j.str("tls.version"), "TLSv1.3");
}

TEST(SiemOcsf, OutboundDeferralIsEmailSendFailure) {
    const Json j(ocsf(outboundDeferral()));
    EXPECT_EQ(j.num("class_uid"), 4009);
    EXPECT_EQ(j.num("activity_id"), 1);
    EXPECT_EQ(j.num("direction_id"), 2);
    EXPECT_EQ(j.num("status_id"), 2);
    EXPECT_EQ(j.str("metadata.event_code"), "deferred");
    EXPECT_EQ(j.str("src_endpoint.hostname"), "gw1.example.net");
    EXPECT_FALSE(j.has("src_endpoint.ip"));
    EXPECT_EQ(j.str("dst_endpoint.ip"), "203.0.113.5");
    EXPECT_EQ(j.str("dst_endpoint.hostname"), "mx.remote.example");
    EXPECT_EQ(j.str("tls.certificate.subject"), "CN=other.example");
    EXPECT_FALSE(j.flag("unmapped.tlsgate.peer_certificate_verified"));
}

TEST(SiemOcsf, ExpiringAndExpiredAreDetectionFindings) {
    const Json soon(ocsf(expiring()));
    EXPECT_EQ(soon.num("class_uid"), 2004);
    EXPECT_EQ(soon.num("category_uid"), 2);
    EXPECT_EQ(soon.num("activity_id"), 1);
    EXPECT_EQ(soon.num("type_uid"), 200401);
    EXPECT_EQ(soon.num("status_id"), 1);
    EXPECT_EQ(soon.str("status"), "New");
    EXPECT_EQ(soon.num("severity_id"), 3);
    EXPECT_EQ(soon.str("finding_info.uid"), "c-7/expiring/14");
    EXPECT_EQ(soon.str("finding_info.title"), "Certificate expires in 14 days");
    EXPECT_EQ(soon.str("finding_info.types.0"), "certificate-expiring");
    EXPECT_EQ(soon.str("resources.0.uid"), "c-7");
    EXPECT_EQ(soon.str("resources.0.type"), "certificate");
    EXPECT_EQ(soon.num("unmapped.tlsgate.threshold_days"), 14);
    const Json gone(ocsf(expired()));
    EXPECT_EQ(gone.num("class_uid"), 2004);
    EXPECT_EQ(gone.num("severity_id"), 4);
    EXPECT_EQ(gone.str("finding_info.uid"), "c-7/expired");
    EXPECT_EQ(gone.str("finding_info.title"), "Certificate expired");
}

TEST(SiemOcsf, ImportedIsEntityManagementCreate) {
    const Json j(ocsf(imported()));
    EXPECT_EQ(j.num("class_uid"), 3004);
    EXPECT_EQ(j.num("category_uid"), 3);
    EXPECT_EQ(j.num("activity_id"), 1);
    EXPECT_EQ(j.num("type_uid"), 300401);
    EXPECT_EQ(j.num("status_id"), 1);
    EXPECT_EQ(j.str("entity.uid"), "c-7");
    EXPECT_EQ(j.str("entity.name"), "CN=gw1.example.net");
    EXPECT_EQ(j.str("entity.type"), "certificate");
    EXPECT_EQ(j.str("unmapped.tlsgate.sha256"), "ABCDEF0123");
}

TEST(SiemOcsf, HostileValuesRoundTrip) {
    const Json j(ocsf(hostile()));
    EXPECT_EQ(j.num("activity_id"), 5);  // a rejected client certificate is a refusal
    EXPECT_EQ(j.str("tls.certificate.subject"), kHostileSubject);
    EXPECT_EQ(j.str("status_detail"), kHostileReason);
}

// ------------------------------------------------------------------------------------- Syslog

// RFC 5424: PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG].
const std::regex kSyslog(
    R"(^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ([!-~]{1,255}) ([!-~]{1,48}) )"
    R"(([!-~]{1,128}) ([!-~]{1,32}) \[tlsgate@32473)"
    R"(((?: [^ =\]"]{1,32}="(?:[^"\\\]]|\\["\\\]])*")*)\])"
    R"((?: (.*))?$)");

TEST(SiemSyslog, HeaderFieldsMatchRfc5424) {
    for (const Event& e :
         {Event{handshakeWithClientCert()}, Event{handshakeWithoutCert()}, Event{policyRejection()},
          Event{messageAccepted()}, Event{outboundDeferral()}, Event{expiring()}, Event{expired()},
          Event{imported()}, Event{hostile()}}) {
        const std::string text = syslog(e, formatText(e));
        std::smatch m;
        ASSERT_TRUE(std::regex_match(text, m, kSyslog)) << text;
        EXPECT_EQ(m[2], "2024-05-01T12:34:56.789Z");
        EXPECT_EQ(m[3], "gw1.example.net");
        EXPECT_EQ(m[4], "tlsgate");
        EXPECT_EQ(m[5], "4242");
        EXPECT_EQ(m[6], actionOf(e));
        EXPECT_EQ(m[8], formatText(e));
    }
}

TEST(SiemSyslog, PriIsFacilityTimesEightPlusSeverity) {
    std::smatch m;
    const std::string info = syslog(handshakeWithClientCert());
    ASSERT_TRUE(std::regex_match(info, m, kSyslog));
    EXPECT_EQ(m[1], "22");  // mail (2) * 8 + informational (6)
    const std::string warning = syslog(policyRejection());
    ASSERT_TRUE(std::regex_match(warning, m, kSyslog));
    EXPECT_EQ(m[1], "20");
    FormatContext local = context();
    local.facility = SyslogFacility::Local7;
    EXPECT_EQ(formatSyslog(expired(), local, "").substr(0, 6), "<187>1");  // 23 * 8 + 3
}

TEST(SiemSyslog, InboundHandshakeStructuredData) {
    EXPECT_EQ(syslog(handshakeWithClientCert(), "TLS handshake succeeded"),
              "<22>1 2024-05-01T12:34:56.789Z gw1.example.net tlsgate 4242 handshake-succeeded "
              "[tlsgate@32473 action=\"handshake-succeeded\" outcome=\"success\" sessionId=\"S1\" "
              "direction=\"inbound\" src=\"192.0.2.10\" srcPort=\"52344\" dst=\"198.51.100.1\" "
              "dstPort=\"25\" peerName=\"mail.example.org\" tls=\"true\" tlsVersion=\"TLSv1.3\" "
              "cipher=\"TLS_AES_256_GCM_SHA384\" cipherBits=\"256\" group=\"X25519\" "
              "sni=\"mx.example.net\" peerCertSubject=\"CN=client.example.org,O=Example\" "
              "peerCertIssuer=\"CN=Example CA,O=Example\" peerCertSerial=\"1A2B3C\" "
              "peerCertSha256=\"ABCDEF0123\" peerCertVerified=\"true\"] TLS handshake succeeded");
}

TEST(SiemSyslog, WithoutClientCertificateAndPolicyRejection) {
    const std::string plain = syslog(handshakeWithoutCert());
    EXPECT_EQ(plain.find("peerCert"), std::string::npos);
    EXPECT_EQ(plain.back(), ']');  // no body, no trailing space
    const std::string refused = syslog(policyRejection(), "x");
    EXPECT_NE(refused.find(" policy-decision [tlsgate@32473 "), std::string::npos);
    EXPECT_NE(refused.find(" tls=\"false\" rule=\"tls-required\" reason=\"530 5.7.0 Must issue a "
                           "STARTTLS command first\"] x"),
              std::string::npos);
}

TEST(SiemSyslog, MessageAndDeferral) {
    const std::string accepted = syslog(messageAccepted());
    EXPECT_NE(accepted.find(" queueId=\"Q0001\" sender=\"alice@example.org\" "
                            "recipientCount=\"3\" messageSize=\"4096\"]"),
              std::string::npos);
    const std::string deferred = syslog(outboundDeferral());
    EXPECT_EQ(deferred.substr(0, 4), "<20>");
    EXPECT_NE(deferred.find(" deferred [tlsgate@32473 action=\"deferred\" outcome=\"failure\" "
                            "sessionId=\"S1\" direction=\"outbound\" dst=\"203.0.113.5\" "
                            "peerName=\"mx.remote.example\""),
              std::string::npos);
}

TEST(SiemSyslog, CertificateEvents) {
    EXPECT_EQ(syslog(expiring(), formatText(expiring())),
              "<20>1 2024-05-01T12:34:56.789Z gw1.example.net tlsgate 4242 certificate-expiring "
              "[tlsgate@32473 action=\"certificate-expiring\" outcome=\"unknown\" certId=\"c-7\" "
              "subject=\"CN=gw1.example.net\" sha256=\"ABCDEF0123\" "
              "notAfter=\"2024-05-15T00:00:00.000Z\" daysLeft=\"14\" thresholdDays=\"14\" "
              "detail=\"server certificate expires in 14 days\"] Certificate expiring: server "
              "certificate expires in 14 days");
    EXPECT_EQ(syslog(expired()).substr(0, 4), "<19>");
    EXPECT_NE(syslog(imported()).find(" certificate-imported [tlsgate@32473 "), std::string::npos);
}

TEST(SiemSyslog, HostileValuesAreEscaped) {
    const std::string text = syslog(hostile(), formatText(hostile()));
    EXPECT_NE(text.find(" peerCertSubject=\"CN=a|b=c\\\"d\\]e\\\\f  g h^i,L=Z\xC3\xBCrich "
                        "\xE2\x82\xAC\" "),
              std::string::npos);
    EXPECT_NE(text.find(" reason=\"bad | reason = \\\"x\\\" \\] \\\\  end ^\"]"),
              std::string::npos);
    EXPECT_TRUE(text.ends_with("] Client certificate rejected: bad | reason = \"x\" ] \\  end ^"));
    EXPECT_EQ(text.find('\n'), std::string::npos);
}

// formatSyslog writes the flat field names as PARAM-NAMEs unescaped, and LEEF as keys: every
// name any event can carry must be a valid SD-NAME and free of LEEF's separators.
TEST(SiemSyslog, EveryFlatFieldNameIsAValidParamName) {
    auto closed = withTls(inbound(TlsSessionEventKind::Closed));
    closed.durationMs = 1200;
    closed.bytesIn = 10;
    closed.bytesOut = 20;
    closed.commands = 5;
    const std::vector<Event> events = {handshakeWithClientCert(),
                                       policyRejection(),
                                       messageAccepted(),
                                       outboundDeferral(),
                                       closed,
                                       expiring(),
                                       expired(),
                                       certificate(CertificateEventKind::Activated)};
    std::size_t names = 0;
    for (const auto& event : events) {
        for (const auto& [name, value] : flatFieldsOf(event)) {
            ++names;
            EXPECT_EQ(sdName(name), name);
            EXPECT_EQ(name.find_first_of("=|\t "), std::string_view::npos) << name;
        }
    }
    EXPECT_GT(names, 40U);
}

TEST(SiemSyslog, HeaderFieldsAreLimitedAndNilWhenEmpty) {
    FormatContext c = context();
    c.observerHost = std::string(300, 'h');
    c.appName = std::string(60, 'a');
    c.procId = "";
    c.enterpriseNumber = 99999;
    const std::string text = formatSyslog(messageAccepted(), c, "");
    const std::string expected = "<22>1 2024-05-01T12:34:56.789Z " + std::string(255, 'h') + " " +
                                 std::string(48, 'a') + " - message-accepted [tlsgate@99999 ";
    EXPECT_EQ(text.substr(0, expected.size()), expected);
    c.observerHost = "";
    c.appName = "tls gate";
    EXPECT_NE(formatSyslog(messageAccepted(), c, "").find(" - tls_gate - message-accepted "),
              std::string::npos);
}

TEST(SiemSyslog, CarriesOtherFormatsAsBody) {
    const Event e{policyRejection()};
    for (const std::string& body :
         {formatCef(e, context()), formatLeef(e, context()), formatEcs(e, context())}) {
        const std::string text = formatSyslog(e, context(), body);
        std::smatch m;
        ASSERT_TRUE(std::regex_match(text, m, kSyslog)) << text;
        EXPECT_EQ(m[8], body);
    }
}

// ---------------------------------------------------------------------------------------- CEF

TEST(SiemCef, InboundHandshakeWithClientCertificate) {
    EXPECT_EQ(cef(handshakeWithClientCert()),
              "CEF:0|tlsgate|tlsgate|0.1.0|handshake-succeeded|TLS handshake succeeded|1|"
              "rt=1714566896789 act=handshake-succeeded outcome=success cat=network "
              "dvchost=gw1.example.net deviceDirection=0 proto=TCP app=SMTP src=192.0.2.10 "
              "spt=52344 dst=198.51.100.1 dpt=25 shost=mail.example.org "
              "cs1=TLSv1.3 cs1Label=tlsVersion cs2=TLS_AES_256_GCM_SHA384 cs2Label=cipher "
              "cs3=CN\\=client.example.org,O\\=Example cs3Label=peerCertSubject "
              "cs4=ABCDEF0123 cs4Label=peerCertSha256 cs6=S1 cs6Label=sessionId "
              "flexString1=CN\\=Example CA,O\\=Example flexString1Label=peerCertIssuer "
              "flexString2=mx.example.net flexString2Label=sni");
}

TEST(SiemCef, WithoutClientCertificate) {
    const std::string text = cef(handshakeWithoutCert());
    EXPECT_EQ(text.find("cs3="), std::string::npos);
    EXPECT_EQ(text.find("cs4="), std::string::npos);
    EXPECT_NE(text.find(" cs1=TLSv1.3 cs1Label=tlsVersion "), std::string::npos);
}

TEST(SiemCef, PolicyRejection) {
    EXPECT_EQ(cef(policyRejection()),
              "CEF:0|tlsgate|tlsgate|0.1.0|policy-decision|Refused by policy|5|"
              "rt=1714566896789 act=policy-decision outcome=failure cat=network "
              "dvchost=gw1.example.net deviceDirection=0 proto=TCP app=SMTP src=192.0.2.10 "
              "spt=52344 dst=198.51.100.1 dpt=25 shost=mail.example.org "
              "msg=530 5.7.0 Must issue a STARTTLS command first "
              "cs5=tls-required cs5Label=rule cs6=S1 cs6Label=sessionId");
}

TEST(SiemCef, MessageAcceptedAndDeferral) {
    const std::string accepted = cef(messageAccepted());
    EXPECT_NE(accepted.find("|message-accepted|Message accepted|1|"), std::string::npos);
    EXPECT_NE(accepted.find(" cat=email "), std::string::npos);
    EXPECT_NE(accepted.find(" suser=alice@example.org externalId=Q0001 cn1=3 "
                            "cn1Label=recipientCount fsize=4096 "),
              std::string::npos);
    const std::string deferred = cef(outboundDeferral());
    EXPECT_NE(deferred.find("|deferred|Delivery deferred|5|"), std::string::npos);
    EXPECT_NE(deferred.find(" deviceDirection=1 proto=TCP app=SMTP dst=203.0.113.5 "
                            "dhost=mx.remote.example msg=server certificate does not match "
                            "mx.remote.example "),
              std::string::npos);
    EXPECT_NE(deferred.find(" cs3=CN\\=other.example cs3Label=peerCertSubject "),
              std::string::npos);
}

TEST(SiemCef, CertificateEvents) {
    EXPECT_EQ(cef(expiring()),
              "CEF:0|tlsgate|tlsgate|0.1.0|certificate-expiring|Certificate expiring|5|"
              "rt=1714566896789 act=certificate-expiring outcome=unknown cat=configuration "
              "dvchost=gw1.example.net msg=server certificate expires in 14 days "
              "cs3=CN\\=gw1.example.net cs3Label=certificateSubject cs4=ABCDEF0123 "
              "cs4Label=certificateSha256 cs6=c-7 cs6Label=certId cn2=14 cn2Label=daysLeft "
              "deviceCustomDate1=1715731200000 deviceCustomDate1Label=notAfter cn3=14 "
              "cn3Label=thresholdDays");
    EXPECT_NE(cef(expired()).find("|certificate-expired|Certificate expired|7|"),
              std::string::npos);
    EXPECT_NE(cef(imported()).find("|certificate-imported|Certificate imported|1|"),
              std::string::npos);
}

TEST(SiemCef, HostileValuesAreEscaped) {
    const std::string text = cef(hostile());
    EXPECT_NE(text.find(" cs3=CN\\=a|b\\=c\"d]e\\\\f\\r\\ng\th^i,L\\=Z\xC3\xBCrich \xE2\x82\xAC "
                        "cs3Label=peerCertSubject "),
              std::string::npos);
    EXPECT_NE(text.find(" msg=bad | reason \\= \"x\" ] \\\\ \\nend\t^ "), std::string::npos);
    EXPECT_EQ(text.find('\n'), std::string::npos);
    FormatContext c = context();
    c.productVersion = "1.0|beta\\2\n";
    EXPECT_EQ(formatCef(Event{imported()}, c).substr(0, 36),
              "CEF:0|tlsgate|tlsgate|1.0\\|beta\\\\2 |");
}

// --------------------------------------------------------------------------------------- LEEF

TEST(SiemLeef, InboundHandshakeWithClientCertificate) {
    EXPECT_EQ(leef(handshakeWithClientCert()),
              "LEEF:2.0|tlsgate|tlsgate|0.1.0|handshake-succeeded|"
              "devTime=2024-05-01T12:34:56.789Z\tdevTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSX\t"
              "sev=1\tcat=network\tobserverHostname=gw1.example.net\t"
              "action=handshake-succeeded\toutcome=success\tsessionId=S1\tdirection=inbound\t"
              "src=192.0.2.10\tsrcPort=52344\tdst=198.51.100.1\tdstPort=25\t"
              "peerName=mail.example.org\ttls=true\ttlsVersion=TLSv1.3\t"
              "cipher=TLS_AES_256_GCM_SHA384\tcipherBits=256\tgroup=X25519\tsni=mx.example.net\t"
              "peerCertSubject=CN=client.example.org,O=Example\t"
              "peerCertIssuer=CN=Example CA,O=Example\tpeerCertSerial=1A2B3C\t"
              "peerCertSha256=ABCDEF0123\tpeerCertVerified=true");
}

TEST(SiemLeef, OtherSessionEvents) {
    EXPECT_EQ(leef(handshakeWithoutCert()).find("peerCert"), std::string::npos);
    const std::string refused = leef(policyRejection());
    EXPECT_NE(refused.find("|policy-decision|devTime="), std::string::npos);
    EXPECT_NE(refused.find("\tsev=5\t"), std::string::npos);
    EXPECT_NE(refused.find("\trule=tls-required\treason=530 5.7.0 Must issue"), std::string::npos);
    const std::string accepted = leef(messageAccepted());
    EXPECT_NE(accepted.find("\tcat=email\t"), std::string::npos);
    EXPECT_NE(accepted.find("\tqueueId=Q0001\tsender=alice@example.org\trecipientCount=3\t"),
              std::string::npos);
    const std::string deferred = leef(outboundDeferral());
    EXPECT_NE(deferred.find("\tdirection=outbound\tdst=203.0.113.5\tpeerName=mx.remote.example\t"),
              std::string::npos);
}

TEST(SiemLeef, CertificateEvents) {
    EXPECT_EQ(leef(expired()),
              "LEEF:2.0|tlsgate|tlsgate|0.1.0|certificate-expired|"
              "devTime=2024-05-01T12:34:56.789Z\tdevTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSX\t"
              "sev=7\tcat=configuration\tobserverHostname=gw1.example.net\t"
              "action=certificate-expired\toutcome=unknown\tcertId=c-7\t"
              "subject=CN=gw1.example.net\tsha256=ABCDEF0123\t"
              "notAfter=2024-04-30T00:00:00.000Z\tdaysLeft=-1\tdetail=server certificate expired");
    EXPECT_NE(leef(expiring()).find("\tsev=5\t"), std::string::npos);
    EXPECT_NE(leef(expiring()).find("\tthresholdDays=14\t"), std::string::npos);
    EXPECT_NE(leef(imported()).find("|certificate-imported|"), std::string::npos);
}

TEST(SiemLeef, HostileValuesAreReplaced) {
    const std::string tab = leef(hostile());
    EXPECT_NE(tab.find("\tpeerCertSubject=CN=a b=c\"d]e\\f  g h^i,L=Z\xC3\xBCrich \xE2\x82\xAC\t"),
              std::string::npos);
    EXPECT_NE(tab.find("\treason=bad   reason = \"x\" ] \\  end ^"), std::string::npos);
    EXPECT_EQ(tab.find('\n'), std::string::npos);

    FormatContext caret = context();
    caret.leefDelimiter = '^';
    const std::string text = formatLeef(Event{hostile()}, caret);
    EXPECT_EQ(text.substr(0, 56), "LEEF:2.0|tlsgate|tlsgate|0.1.0|client-certificate|^|devT");
    EXPECT_NE(text.find("^peerCertSubject=CN=a b=c\"d]e\\f  g h i,L=Z\xC3\xBCrich \xE2\x82\xAC^"),
              std::string::npos);
    EXPECT_NE(text.find("^reason=bad   reason = \"x\" ] \\  end  "), std::string::npos);
    EXPECT_EQ(text.find('\t'), std::string::npos);
}

TEST(SiemLeef, UnusableDelimiterFallsBackToTab) {
    FormatContext c = context();
    c.leefDelimiter = '=';
    EXPECT_EQ(formatLeef(Event{imported()}, c).substr(0, 58),
              "LEEF:2.0|tlsgate|tlsgate|0.1.0|certificate-imported|devTim");
    c.leefDelimiter = '\x1F';
    EXPECT_NE(formatLeef(Event{imported()}, c).find("|certificate-imported|x1F|devTime="),
              std::string::npos);
    // A space would not be replaced in values (the replacement is a space): found by fuzzing.
    c.leefDelimiter = ' ';
    EXPECT_EQ(formatLeef(Event{imported()}, c).substr(0, 58),
              "LEEF:2.0|tlsgate|tlsgate|0.1.0|certificate-imported|devTim");
}

// --------------------------------------------------------------------------------------- Text

TEST(SiemText, SummaryIsOneLine) {
    EXPECT_EQ(formatText(handshakeWithClientCert()), "TLS handshake succeeded");
    EXPECT_EQ(formatText(hostile()),
              "Client certificate rejected: bad | reason = \"x\" ] \\  end ^");
    EXPECT_EQ(formatText(expired()), "Certificate expired: server certificate expired");
}

}  // namespace
}  // namespace tlsgate::siem
