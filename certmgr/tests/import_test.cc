// Unit tests of loadForImport and its checks, on material made at test time by the test CA.
// Failures are GoogleTest assertions; every file lives in a per-test temporary directory.
#include "tlsgate/certmgr/import.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "test_ca.h"
#include "tlsgate/certmgr/certificate.h"

namespace tlsgate::certmgr {
namespace {

using std::chrono::hours;
using testing::CertOptions;
using testing::makeCa;
using testing::makeIntermediate;
using testing::makeKey;
using testing::makeLeaf;
using testing::TestCert;

constexpr hours kDay{24};

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string subjectOf(X509& cert) {
    return inspect(cert).subject;
}

class ImportTest : public ::testing::Test {
  protected:
    ImportTest()
        : now_(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())),
          root_(makeCa("Test Root")),
          intermediate_(makeIntermediate(root_, "Test Intermediate")) {}

    /// A leaf for mx.example.com under the intermediate, with `options` otherwise.
    TestCert leaf(CertOptions options = {}) {
        if (options.dnsNames.empty()) {
            options.dnsNames = {"mx.example.com"};
        }
        if (options.commonName == "test") {
            options.commonName = "mx.example.com";
        }
        return makeLeaf(&intermediate_, options);
    }

    std::string write(const std::string& name, const std::string& content) {
        const std::string path = dir_.file(name);
        testing::writeFile(path, content);
        return path;
    }

    /// A server import of `certFile` for mx.example.com at now_.
    ImportRequest request(const std::string& certFile) {
        ImportRequest r;
        r.certFile = certFile;
        r.hostname = "mx.example.com";
        r.now = now_;
        r.password = [this] {
            ++passwordAsked_;
            return password_;
        };
        return r;
    }

    /// The refusal of `r`; fails the test when it was imported. Checks the error queue is empty.
    ImportError refusal(const ImportRequest& r) {
        try {
            loadForImport(r);
        } catch (const ImportError& e) {
            EXPECT_EQ(ERR_peek_error(), 0UL) << "stale OpenSSL error left after: " << e.what();
            return e;
        }
        ADD_FAILURE() << "the import was not refused";
        return ImportError("(none)", "(imported)");
    }

    TimePoint now_;
    testing::TempDir dir_;
    TestCert root_;
    TestCert intermediate_;
    std::string password_ = "correct horse";
    int passwordAsked_ = 0;
};

// --- Roles and errors ---------------------------------------------------------------------------

TEST(ImportRoleTest, ParsesAndPrintsRoles) {
    EXPECT_EQ(parseRole("server"), Role::Server);
    EXPECT_EQ(parseRole("client"), Role::Client);
    EXPECT_EQ(toString(Role::Server), "server");
    EXPECT_EQ(toString(Role::Client), "client");
}

TEST(ImportRoleTest, RefusesUnknownRoleNamingAcceptedValues) {
    try {
        parseRole("relay");
        FAIL() << "accepted 'relay'";
    } catch (const std::invalid_argument& e) {
        EXPECT_TRUE(contains(e.what(), "relay")) << e.what();
        EXPECT_TRUE(contains(e.what(), "server")) << e.what();
        EXPECT_TRUE(contains(e.what(), "client")) << e.what();
    }
}

TEST(ImportErrorTest, NamesFileThenReason) {
    const ImportError error("/etc/tlsgate/mx.pem", "it is broken");
    EXPECT_STREQ(error.what(), "/etc/tlsgate/mx.pem: it is broken");
    EXPECT_EQ(error.file(), "/etc/tlsgate/mx.pem");
    EXPECT_EQ(error.reason(), "it is broken");
}

// --- Happy paths --------------------------------------------------------------------------------

TEST_F(ImportTest, PemAllInOneFileInAnyOrder) {
    TestCert mx = leaf();
    const std::string file =
        write("all.pem", testing::toPem(*intermediate_.cert) + testing::keyToPem(*mx.key) +
                             testing::toPem(*mx.cert));
    ImportedMaterial material = loadForImport(request(file));

    EXPECT_EQ(X509_cmp(material.leaf.get(), mx.cert.get()), 0);
    ASSERT_EQ(material.chain.size(), 1U);
    EXPECT_EQ(X509_cmp(material.chain[0].get(), intermediate_.cert.get()), 0);
    EXPECT_EQ(EVP_PKEY_eq(material.key.get(), mx.key.get()), 1);
    EXPECT_TRUE(material.warnings.empty()) << material.warnings.front();
    EXPECT_EQ(passwordAsked_, 0) << "asked for a password the key did not need";
}

TEST_F(ImportTest, PemSeparateCertKeyAndChainFiles) {
    TestCert mx = leaf();
    ImportRequest r = request(write("cert.pem", testing::toPem(*mx.cert)));
    r.keyFile = write("key.pem", testing::keyToPem(*mx.key));
    r.chainFile = write("chain.pem", testing::toPem(*intermediate_.cert));
    ImportedMaterial material = loadForImport(r);

    EXPECT_EQ(X509_cmp(material.leaf.get(), mx.cert.get()), 0);
    ASSERT_EQ(material.chain.size(), 1U);
    EXPECT_EQ(X509_cmp(material.chain[0].get(), intermediate_.cert.get()), 0);
    EXPECT_TRUE(material.warnings.empty());
}

TEST_F(ImportTest, ShuffledChainIsPutInIssuingOrder) {
    TestCert second = makeIntermediate(intermediate_, "Test Intermediate 2");
    TestCert mx =
        makeLeaf(&second, {.commonName = "mx.example.com", .dnsNames = {"mx.example.com"}});
    // The leaf is not first either: the key decides which certificate is the leaf.
    ImportRequest r = request(
        write("cert.pem", testing::toPem(*root_.cert) + testing::toPem(*mx.cert) +
                              testing::toPem(*intermediate_.cert) + testing::toPem(*second.cert)));
    r.keyFile = write("key.pem", testing::keyToPem(*mx.key));
    ImportedMaterial material = loadForImport(r);

    EXPECT_EQ(X509_cmp(material.leaf.get(), mx.cert.get()), 0);
    ASSERT_EQ(material.chain.size(), 3U);
    EXPECT_EQ(X509_cmp(material.chain[0].get(), second.cert.get()), 0);
    EXPECT_EQ(X509_cmp(material.chain[1].get(), intermediate_.cert.get()), 0);
    EXPECT_EQ(X509_cmp(material.chain[2].get(), root_.cert.get()), 0);
}

TEST_F(ImportTest, DuplicateChainCertificatesAreDropped) {
    TestCert mx = leaf();
    ImportRequest r = request(write("cert.pem", testing::toPem(*mx.cert)));
    r.keyFile = write("key.pem", testing::keyToPem(*mx.key));
    r.chainFile =
        write("chain.pem", testing::toPem(*intermediate_.cert) +
                               testing::toPem(*intermediate_.cert) + testing::toPem(*mx.cert));
    ImportedMaterial material = loadForImport(r);
    ASSERT_EQ(material.chain.size(), 1U);
    EXPECT_EQ(X509_cmp(material.chain[0].get(), intermediate_.cert.get()), 0);
}

TEST_F(ImportTest, DerCertificateIsAcceptedAsACourtesy) {
    TestCert mx = leaf();
    unsigned char* der = nullptr;
    const int length = i2d_X509(mx.cert.get(), &der);
    ASSERT_GT(length, 0);
    const std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
    OPENSSL_free(der);
    ImportRequest r = request(write("cert.der", bytes));
    r.keyFile = write("key.pem", testing::keyToPem(*mx.key));
    ImportedMaterial material = loadForImport(r);
    EXPECT_EQ(X509_cmp(material.leaf.get(), mx.cert.get()), 0);
    EXPECT_TRUE(material.chain.empty());
}

TEST_F(ImportTest, EncryptedKeyWithTheRightPasswordIsAskedOnce) {
    TestCert mx = leaf();
    ImportRequest r = request(write("cert.pem", testing::toPem(*mx.cert)));
    r.keyFile = write("key.pem", testing::keyToPem(*mx.key, password_));
    ImportedMaterial material = loadForImport(r);
    EXPECT_EQ(EVP_PKEY_eq(material.key.get(), mx.key.get()), 1);
    EXPECT_EQ(passwordAsked_, 1);
}

TEST_F(ImportTest, Ed25519AndRsa2048KeysAreAccepted) {
    for (const char* type : {"ed25519", "rsa2048", "ec-p384"}) {
        TestCert mx = leaf({.keyType = type});
        ImportRequest r = request(write("cert.pem", testing::toPem(*mx.cert)));
        r.keyFile = write("key.pem", testing::keyToPem(*mx.key));
        EXPECT_NO_THROW(loadForImport(r)) << type;
    }
}

TEST_F(ImportTest, Pkcs12ModernImportsWithItsChain) {
    TestCert mx = leaf();
    ImportRequest r = request("unused");
    r.certFile.reset();
    r.pkcs12File =
        write("mx.p12",
              testing::makePkcs12(*mx.cert, *mx.key, {intermediate_.cert.get()}, password_, false));
    ImportedMaterial material = loadForImport(r);
    EXPECT_EQ(X509_cmp(material.leaf.get(), mx.cert.get()), 0);
    ASSERT_EQ(material.chain.size(), 1U);
    EXPECT_EQ(X509_cmp(material.chain[0].get(), intermediate_.cert.get()), 0);
    EXPECT_EQ(EVP_PKEY_eq(material.key.get(), mx.key.get()), 1);
    EXPECT_EQ(passwordAsked_, 1);
}

TEST_F(ImportTest, Pkcs12LegacyImportsWhenTheLegacyProviderIsAvailable) {
    TestCert mx = leaf();
    ImportRequest r = request("unused");
    r.certFile.reset();
    r.pkcs12File =
        write("legacy.p12",
              testing::makePkcs12(*mx.cert, *mx.key, {intermediate_.cert.get()}, password_, true));
    ImportedMaterial material = loadForImport(r);
    EXPECT_EQ(X509_cmp(material.leaf.get(), mx.cert.get()), 0);
    ASSERT_EQ(material.chain.size(), 1U);
    EXPECT_EQ(EVP_PKEY_eq(material.key.get(), mx.key.get()), 1);
    EXPECT_EQ(OSSL_PROVIDER_available(nullptr, "legacy"), 0)
        << "the legacy algorithms stayed enabled after the import";
}

// --- Refusals -----------------------------------------------------------------------------------

TEST_F(ImportTest, RefusesAMissingFileNamingIt) {
    const std::string missing = dir_.file("nowhere.pem");
    ImportError e = refusal(request(missing));
    EXPECT_EQ(e.file(), missing);
    EXPECT_TRUE(contains(e.what(), missing)) << e.what();
    EXPECT_TRUE(contains(e.reason(), "No such file")) << e.what();
}

TEST_F(ImportTest, RefusesAFileWithoutCertificate) {
    TestCert mx = leaf();
    const std::string file = write("key-only.pem", testing::keyToPem(*mx.key));
    ImportError e = refusal(request(file));
    EXPECT_EQ(e.file(), file);
    EXPECT_TRUE(contains(e.reason(), "no PEM certificate found")) << e.what();
    EXPECT_TRUE(contains(e.reason(), "-----BEGIN CERTIFICATE-----")) << e.what();
}

TEST_F(ImportTest, RefusesWithoutPrivateKey) {
    TestCert mx = leaf();
    const std::string file = write("cert.pem", testing::toPem(*mx.cert));
    ImportError e = refusal(request(file));
    EXPECT_EQ(e.file(), file);
    EXPECT_TRUE(contains(e.reason(), "no private key found; give it with --key")) << e.what();
}

TEST_F(ImportTest, RefusesAWrongPasswordForTheKey) {
    TestCert mx = leaf();
    ImportRequest r = request(write("cert.pem", testing::toPem(*mx.cert)));
    r.keyFile = write("key.pem", testing::keyToPem(*mx.key, std::string("another password")));
    ImportError e = refusal(r);
    EXPECT_EQ(e.file(), *r.keyFile);
    EXPECT_EQ(e.reason(), "wrong password for the private key");
    EXPECT_EQ(passwordAsked_, 1);
}

TEST_F(ImportTest, RefusesAWrongPkcs12Password) {
    TestCert mx = leaf();
    ImportRequest r = request("unused");
    r.certFile.reset();
    r.pkcs12File =
        write("mx.p12", testing::makePkcs12(*mx.cert, *mx.key, {}, "another password", false));
    ImportError e = refusal(r);
    EXPECT_EQ(e.file(), *r.pkcs12File);
    EXPECT_EQ(e.reason(), "wrong PKCS#12 password");
}

TEST_F(ImportTest, RefusesLegacyPkcs12WithoutTheLegacyProviderAndSaysHowToConvert) {
    // The child re-runs this test from the start in a fresh process, so the legacy provider is not
    // loaded in its default library context; OPENSSL_MODULES then hides the module.
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    TestCert mx = leaf();
    ImportRequest r = request("unused");
    r.certFile.reset();
    r.pkcs12File = write("legacy.p12", testing::makePkcs12(*mx.cert, *mx.key, {}, password_, true));
    const std::string noModules = dir_.file("no-modules");
    std::filesystem::create_directory(noModules);

    EXPECT_EXIT(
        {
            setenv("OPENSSL_MODULES", noModules.c_str(), 1);
            try {
                loadForImport(r);
                std::fprintf(stderr, "imported\n");
            } catch (const ImportError& e) {
                std::fprintf(stderr, "%s\n", e.what());
            }
            std::filesystem::remove_all(dir_.path());  // _Exit skips the destructor
            std::_Exit(0);
        },
        ::testing::ExitedWithCode(0),
        "legacy.p12: .*legacy provider is not available.*openssl pkcs12 -legacy -in .*legacy.p12");
}

TEST_F(ImportTest, RefusesAKeyThatDoesNotMatchTheCertificate) {
    TestCert mx = leaf();
    EvpPkeyPtr other = makeKey("ec-p256");
    ImportRequest r = request(write("cert.pem", testing::toPem(*mx.cert)));
    r.keyFile = write("key.pem", testing::keyToPem(*other));
    ImportError e = refusal(r);
    EXPECT_EQ(e.file(), *r.keyFile);
    EXPECT_EQ(e.reason(), "the private key does not match the certificate");
}

TEST(ImportKeyTest, CheckKeyMatchesSignsAndVerifies) {
    for (const char* type : {"ec-p256", "rsa2048", "ed25519"}) {
        TestCert mx = makeLeaf(nullptr, {.keyType = type});
        EXPECT_NO_THROW(checkKeyMatches(*mx.cert, *mx.key, "k.pem")) << type;
        EvpPkeyPtr other = makeKey(type);
        try {
            checkKeyMatches(*mx.cert, *other, "k.pem");
            ADD_FAILURE() << "a foreign " << type << " key matched";
        } catch (const ImportError& e) {
            EXPECT_EQ(e.file(), "k.pem");
            EXPECT_TRUE(contains(e.reason(), "does not match")) << e.what();
        }
        EXPECT_EQ(ERR_peek_error(), 0UL);
    }
}

TEST_F(ImportTest, RefusesRsa1024) {
    TestCert mx = leaf({.keyType = "rsa1024"});
    ImportRequest r = request(write("cert.pem", testing::toPem(*mx.cert)));
    r.keyFile = write("key.pem", testing::keyToPem(*mx.key));
    ImportError e = refusal(r);
    EXPECT_EQ(e.file(), *r.keyFile);
    EXPECT_EQ(e.reason(), "RSA key of 1024 bits is too small (at least 2048)");
}

TEST_F(ImportTest, RefusesSecp256k1) {
    TestCert mx = leaf({.keyType = "ec-secp256k1"});
    const std::string file =
        write("all.pem", testing::toPem(*mx.cert) + testing::keyToPem(*mx.key));
    ImportError e = refusal(request(file));
    EXPECT_EQ(e.file(), file);
    EXPECT_EQ(e.reason(), "unsupported curve secp256k1 (supported: P-256, P-384, P-521)");
}

TEST_F(ImportTest, RefusesAnExpiredCertificate) {
    TestCert mx = leaf({.notBefore = now_ - 400 * kDay, .notAfter = now_ - 35 * kDay});
    const std::string file =
        write("all.pem", testing::toPem(*mx.cert) + testing::keyToPem(*mx.key));
    ImportError e = refusal(request(file));
    EXPECT_EQ(e.file(), file);
    EXPECT_EQ(e.reason(), "the certificate expired on " + formatTime(now_ - 35 * kDay));
}

TEST_F(ImportTest, RefusesACertificateNotValidYet) {
    TestCert mx = leaf({.notBefore = now_ + 2 * kDay, .notAfter = now_ + 400 * kDay});
    const std::string file =
        write("all.pem", testing::toPem(*mx.cert) + testing::keyToPem(*mx.key));
    ImportError e = refusal(request(file));
    EXPECT_EQ(e.file(), file);
    EXPECT_TRUE(contains(e.reason(), "not valid yet")) << e.what();
    EXPECT_TRUE(contains(e.reason(), formatTime(now_ + 2 * kDay))) << e.what();
}

TEST_F(ImportTest, RefusesClientAuthOnlyForTheServerRole) {
    TestCert mx = leaf({.extendedKeyUsages = {"clientAuth"}});
    const std::string file =
        write("all.pem", testing::toPem(*mx.cert) + testing::keyToPem(*mx.key));
    ImportError e = refusal(request(file));
    EXPECT_EQ(e.file(), file);
    EXPECT_EQ(e.reason(),
              "extendedKeyUsage does not include serverAuth, required for the server role");

    ImportRequest client = request(file);
    client.role = Role::Client;
    EXPECT_NO_THROW(loadForImport(client));
}

TEST_F(ImportTest, RefusesServerAuthOnlyForTheClientRole) {
    TestCert mx = leaf({.extendedKeyUsages = {"serverAuth"}});
    ImportRequest r =
        request(write("all.pem", testing::toPem(*mx.cert) + testing::keyToPem(*mx.key)));
    r.role = Role::Client;
    ImportError e = refusal(r);
    EXPECT_EQ(e.reason(),
              "extendedKeyUsage does not include clientAuth, required for the client role");
}

TEST_F(ImportTest, AnyExtendedKeyUsageAllowsBothRoles) {
    TestCert mx = leaf({.extendedKeyUsages = {"anyExtendedKeyUsage"}});
    ImportRequest r =
        request(write("all.pem", testing::toPem(*mx.cert) + testing::keyToPem(*mx.key)));
    EXPECT_NO_THROW(loadForImport(r));
    r.role = Role::Client;
    EXPECT_NO_THROW(loadForImport(r));
}

TEST_F(ImportTest, RefusesAChainWithAnUnrelatedCertificate) {
    TestCert mx = leaf();
    TestCert stranger = makeCa("Unrelated CA");
    ImportRequest r = request(write("cert.pem", testing::toPem(*mx.cert)));
    r.keyFile = write("key.pem", testing::keyToPem(*mx.key));
    r.chainFile =
        write("chain.pem", testing::toPem(*stranger.cert) + testing::toPem(*intermediate_.cert));
    ImportError e = refusal(r);
    EXPECT_EQ(e.file(), *r.chainFile);
    EXPECT_TRUE(contains(e.reason(), "the chain does not connect")) << e.what();
    EXPECT_TRUE(contains(e.reason(), subjectOf(*stranger.cert))) << e.what();
    EXPECT_TRUE(contains(e.reason(), subjectOf(*mx.cert))) << e.what();
}

TEST_F(ImportTest, OrderChainRefusesACertificateThatSharesOnlyTheIssuerName) {
    // Same subject as the intermediate, different key: the name matches, the signature does not.
    TestCert impostor = makeLeaf(&root_, {.commonName = "Test Intermediate", .isCa = true});
    TestCert mx = leaf();
    std::vector<X509Ptr> pool;
    pool.emplace_back(X509_dup(impostor.cert.get()));
    try {
        orderChain(*mx.cert, std::move(pool), "chain.pem");
        ADD_FAILURE() << "an impostor issuer was accepted";
    } catch (const ImportError& e) {
        EXPECT_TRUE(contains(e.reason(), "the chain does not connect")) << e.what();
    }
    EXPECT_EQ(ERR_peek_error(), 0UL);
}

// --- Warnings -----------------------------------------------------------------------------------

TEST_F(ImportTest, WarnsWhenTheHostnameIsNotAmongTheNames) {
    TestCert mx = leaf({.dnsNames = {"mx1.example.com", "*.example.net"}});
    ImportRequest r =
        request(write("all.pem", testing::toPem(*mx.cert) + testing::keyToPem(*mx.key)));

    r.hostname = "mx2.example.com";
    ImportedMaterial material = loadForImport(r);
    ASSERT_EQ(material.warnings.size(), 1U);
    EXPECT_TRUE(contains(material.warnings[0], "mx2.example.com")) << material.warnings[0];
    EXPECT_TRUE(contains(material.warnings[0], "mx1.example.com")) << material.warnings[0];

    r.hostname = "mail.example.net";  // the wildcard covers one label
    EXPECT_TRUE(loadForImport(r).warnings.empty());
    r.hostname = "a.mail.example.net";  // but not two
    EXPECT_EQ(loadForImport(r).warnings.size(), 1U);
}

TEST_F(ImportTest, WarnsWhenItExpiresSoon) {
    TestCert mx = leaf({.notAfter = now_ + 10 * kDay + hours(1)});
    ImportRequest r =
        request(write("all.pem", testing::toPem(*mx.cert) + testing::keyToPem(*mx.key)));
    ImportedMaterial material = loadForImport(r);
    ASSERT_EQ(material.warnings.size(), 1U);
    EXPECT_TRUE(contains(material.warnings[0], "expires in 10 days")) << material.warnings[0];

    r.warningDays = 5;
    EXPECT_TRUE(loadForImport(r).warnings.empty());
}

TEST_F(ImportTest, WarnsWhenTheChainDoesNotLeadToATrustedRoot) {
    TestCert mx = leaf();
    TestCert otherRoot = makeCa("Other Root");
    X509StorePtr trust(X509_STORE_new());
    ASSERT_EQ(X509_STORE_add_cert(trust.get(), otherRoot.cert.get()), 1);
    ImportRequest r =
        request(write("all.pem", testing::toPem(*mx.cert) + testing::keyToPem(*mx.key) +
                                     testing::toPem(*intermediate_.cert)));
    r.trust = trust.get();
    ImportedMaterial material = loadForImport(r);
    ASSERT_EQ(material.warnings.size(), 1U);
    EXPECT_TRUE(contains(material.warnings[0], "the chain does not lead to a trusted root: "))
        << material.warnings[0];
    EXPECT_EQ(ERR_peek_error(), 0UL);
}

TEST_F(ImportTest, NoTrustWarningWhenTheRootIsTrusted) {
    TestCert mx = leaf();
    X509StorePtr trust(X509_STORE_new());
    ASSERT_EQ(X509_STORE_add_cert(trust.get(), root_.cert.get()), 1);
    ImportRequest r =
        request(write("all.pem", testing::toPem(*mx.cert) + testing::keyToPem(*mx.key) +
                                     testing::toPem(*intermediate_.cert)));
    r.trust = trust.get();
    ImportedMaterial material = loadForImport(r);
    EXPECT_TRUE(material.warnings.empty()) << material.warnings.front();
}

}  // namespace
}  // namespace tlsgate::certmgr
