// Unit tests: certificate generation and inspection, status and time formats.
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "test_ca.h"
#include "tlsgate/certmgr/certificate.h"
#include "tlsgate/certmgr/generate.h"

namespace tlsgate::certmgr {
namespace {

using namespace std::chrono_literals;

TimePoint at(const char* text) {
    return parseTime(text);
}

TEST(Generate, DefaultCertificateHasTheProfileTheIssueAsksFor) {
    EvpPkeyPtr key = generateKey(KeyAlgorithm::EcdsaP256);
    TimePoint start = at("2026-01-01T00:00:00Z");
    X509Ptr cert = makeSelfSigned(*key, {{"mx.example.com", "alt.example.com"}, start, 825});
    CertificateInfo info = inspect(*cert);

    EXPECT_EQ(info.subject, "CN=mx.example.com");
    EXPECT_EQ(info.issuer, "CN=mx.example.com");
    EXPECT_EQ(info.dnsNames, (std::vector<std::string>{"mx.example.com", "alt.example.com"}));
    EXPECT_EQ(info.notBefore, start);
    EXPECT_EQ(info.notAfter, start + std::chrono::days(825));
    EXPECT_EQ(info.keyDescription(), "EC P-256");
    EXPECT_FALSE(info.isCa);
    EXPECT_TRUE(info.selfIssued);
    EXPECT_EQ(info.extendedKeyUsages, (std::vector<std::string>{"serverAuth", "clientAuth"}));
    // 16 bytes, positive: 32 hex digits whose first is below 8.
    ASSERT_EQ(info.serial.size(), 32u);
    EXPECT_LT(info.serial[0], '8');
    EXPECT_EQ(X509_get_key_usage(cert.get()) & (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT),
              static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
    EXPECT_EQ(info.signatureAlgorithm, "ecdsa-with-SHA256");
    EXPECT_EQ(X509_verify(cert.get(), key.get()), 1);
}

TEST(Generate, RsaCertificateAllowsKeyEnciphermentAndSerialsDiffer) {
    EvpPkeyPtr key = generateKey(KeyAlgorithm::Rsa2048);
    X509Ptr a = makeSelfSigned(*key, {{"a.example"}, std::chrono::system_clock::now(), 10});
    X509Ptr b = makeSelfSigned(*key, {{"a.example"}, std::chrono::system_clock::now(), 10});
    EXPECT_EQ(inspect(*a).keyDescription(), "RSA 2048");
    EXPECT_TRUE(X509_get_key_usage(a.get()) & KU_KEY_ENCIPHERMENT);
    EXPECT_NE(inspect(*a).serial, inspect(*b).serial);
    EXPECT_EQ(inspect(*a).spkiSha256Hex, inspect(*b).spkiSha256Hex);  // same key, same pin
}

TEST(Generate, RefusesUnknownKeyTypeNamingTheAcceptedOnes) {
    try {
        parseKeyAlgorithm("dsa");
        FAIL() << "dsa accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("ecdsa-p384"), std::string::npos) << e.what();
    }
    EXPECT_EQ(parseKeyAlgorithm("rsa"), KeyAlgorithm::Rsa2048);
}

TEST(Inspect, ReadsChainCertificatesFingerprintsAndUsages) {
    auto ca = testing::makeCa("Test Root");
    testing::CertOptions options;
    options.commonName = "leaf.example";
    options.dnsNames = {"leaf.example"};
    options.extendedKeyUsages = {"clientAuth"};
    auto leaf = testing::makeLeaf(&ca, options);
    CertificateInfo info = inspect(*leaf.cert);
    EXPECT_EQ(info.issuer, "CN=Test Root,O=tlsgate tests");  // RFC 2253, most specific first
    EXPECT_FALSE(info.selfIssued);
    EXPECT_FALSE(info.allowsExtendedKeyUsage("serverAuth"));
    EXPECT_TRUE(info.allowsExtendedKeyUsage("clientAuth"));
    EXPECT_TRUE(inspect(*ca.cert).isCa);
    // Fingerprint form: 32 colon-separated upper-case pairs.
    EXPECT_EQ(info.sha256Fingerprint.size(), 32u * 3 - 1);
    EXPECT_EQ(info.sha1Fingerprint.size(), 20u * 3 - 1);
    EXPECT_EQ(info.spkiSha256Base64.size(), 44u);
    EXPECT_EQ(normalizeFingerprint(info.sha256Fingerprint).size(), 64u);
}

TEST(Inspect, PemRoundTripKeepsEveryCertificateInOrder) {
    auto ca = testing::makeCa("Root");
    auto mid = testing::makeIntermediate(ca, "Mid");
    std::string pem = toPem(*mid.cert) + toPem(*ca.cert);
    auto certs = parsePemCertificates(pem);
    ASSERT_EQ(certs.size(), 2u);
    EXPECT_EQ(inspect(*certs[0]).commonName, "Mid");
    EXPECT_EQ(inspect(*certs[1]).commonName, "Root");
    EXPECT_TRUE(parsePemCertificates("not pem at all").empty());
}

TEST(Status, BoundariesOfValidityAndWarningWindow) {
    CertificateInfo info;
    info.notBefore = at("2026-01-01T00:00:00Z");
    info.notAfter = at("2026-03-01T00:00:00Z");
    EXPECT_EQ(statusAt(info, at("2025-12-31T23:59:59Z"), 30), CertificateStatus::NotYetValid);
    EXPECT_EQ(statusAt(info, at("2026-01-01T00:00:00Z"), 30), CertificateStatus::Valid);
    // 30 days before notAfter is inside a 30-day window; one second earlier is not.
    EXPECT_EQ(statusAt(info, at("2026-01-29T23:59:59Z"), 30), CertificateStatus::Valid);
    EXPECT_EQ(statusAt(info, at("2026-01-30T00:00:00Z"), 30), CertificateStatus::Expiring);
    EXPECT_EQ(statusAt(info, at("2026-03-01T00:00:00Z"), 30), CertificateStatus::Expired);
    EXPECT_EQ(daysLeft(info.notAfter, at("2026-02-28T12:00:00Z")), 0);
    EXPECT_EQ(daysLeft(info.notAfter, at("2026-03-01T00:00:01Z")), -1);
    EXPECT_EQ(daysLeft(info.notAfter, at("2026-01-30T00:00:00Z")), 30);
}

TEST(Time, FormatsAndParsesUtc) {
    EXPECT_EQ(formatTime(at("2026-11-25T14:35:50Z")), "2026-11-25T14:35:50Z");
    EXPECT_THROW(parseTime("2026-11-25 14:35:50"), std::invalid_argument);
    EXPECT_THROW(parseTime("2026-11-25T14:35:50+01:00"), std::invalid_argument);
}

}  // namespace
}  // namespace tlsgate::certmgr
