// Unit tests: the certificate store (defaults, import, roles, removal, renewal, expiry notices,
// crash leftovers), on a temporary directory with a fake clock.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "test_ca.h"
#include "tlsgate/certmgr/store.h"

namespace tlsgate::certmgr {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
  protected:
    StoreOptions options() const {
        StoreOptions o;
        o.directory = dir_.file("store");
        o.hostname = "mx.example.com";
        o.useSystemCa = false;
        return o;
    }

    ImportedMaterial leafMaterial(std::string keyType, std::chrono::hours lifetime) {
        testing::CertOptions o;
        o.commonName = "imported.example.com";
        o.dnsNames = {"imported.example.com"};
        o.keyType = std::move(keyType);
        o.notBefore = clock_.now() - 1h;
        o.notAfter = clock_.now() + lifetime;
        auto leaf = testing::makeLeaf(nullptr, o);
        ImportedMaterial m;
        m.leaf = std::move(leaf.cert);
        m.key = std::move(leaf.key);
        return m;
    }

    static mode_t modeOf(const fs::path& p) {
        struct stat st {};
        EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
        return st.st_mode & 07777;
    }

    testing::TempDir dir_;
    FakeClock clock_{parseTime("2026-06-01T00:00:00Z")};
};

TEST_F(StoreTest, FirstStartCreatesEcdsaAndRsaDefaultsOnce) {
    Store store(options(), clock_);
    auto created = store.ensureDefault();
    ASSERT_EQ(created.size(), 2u);
    EXPECT_EQ(created[0].info.keyDescription(), "EC P-256");
    EXPECT_EQ(created[1].info.keyDescription(), "RSA 2048");
    EXPECT_EQ(created[0].info.subject, "CN=mx.example.com");
    EXPECT_EQ(created[0].info.notAfter - created[0].info.notBefore, std::chrono::days(825));
    EXPECT_TRUE(created[0].isActive(Role::Server));
    EXPECT_TRUE(created[0].isActive(Role::Client));
    EXPECT_TRUE(created[1].isActive(Role::Server));
    EXPECT_FALSE(created[1].isActive(Role::Client));

    EXPECT_TRUE(store.ensureDefault().empty());
    EXPECT_EQ(Store(options(), clock_).list().size(), 2u);
    EXPECT_EQ(store.activeMaterial(Role::Server).size(), 2u);
}

TEST_F(StoreTest, PrivateKeysAreOwnerOnly) {
    Store store(options(), clock_);
    store.ensureDefault();
    EXPECT_EQ(modeOf(options().directory), 0700u);
    int keys = 0;
    for (const auto& entry : fs::recursive_directory_iterator(options().directory)) {
        if (!entry.is_regular_file()) {
            continue;
        }
        std::ifstream in(entry.path());
        std::string text((std::istreambuf_iterator<char>(in)), {});
        if (text.find("PRIVATE KEY") != std::string::npos) {
            EXPECT_EQ(modeOf(entry.path()), 0600u) << entry.path();
            ++keys;
        }
    }
    EXPECT_EQ(keys, 2);
}

TEST_F(StoreTest, ActivatingReplacesOnlyTheSameKeyTypeInTheServerRole) {
    Store store(options(), clock_);
    store.ensureDefault();  // 1 = EC, 2 = RSA
    auto imported = store.import(leafMaterial("ec-p256", 24h * 400), Role::Server, false);
    EXPECT_TRUE(imported.roles.empty());
    store.activate(imported.id, Role::Server);
    EXPECT_FALSE(store.get("1").isActive(Role::Server));
    EXPECT_TRUE(store.get("1").isActive(Role::Client));  // other role untouched
    EXPECT_TRUE(store.get("2").isActive(Role::Server));  // RSA keeps serving
    EXPECT_TRUE(store.get(imported.id).isActive(Role::Server));

    store.activate(imported.id, Role::Client);
    EXPECT_FALSE(store.get("1").isActive(Role::Client));
}

TEST_F(StoreTest, RefusesToRemoveTheLastActiveServerCertificate) {
    Store store(options(), clock_);
    store.ensureDefault();
    store.remove("2");
    std::uint64_t before = store.generation();
    try {
        store.remove("1");
        FAIL() << "removed the last server certificate";
    } catch (const StoreError& e) {
        EXPECT_NE(std::string(e.what()).find("last active server certificate"), std::string::npos);
    }
    EXPECT_EQ(store.generation(), before);
    EXPECT_EQ(store.list().size(), 1u);
    EXPECT_THROW(store.get("2"), NotFoundError);
}

TEST_F(StoreTest, FindsByFingerprintPrefixAndReportsAmbiguity) {
    Store store(options(), clock_);
    auto created = store.ensureDefault();
    std::string fp = created[1].info.sha256Fingerprint;
    EXPECT_EQ(store.get(fp.substr(0, 11)).id, created[1].id);  // "AB:CD:EF:12" with colons
    EXPECT_EQ(store.get(normalizeFingerprint(fp).substr(0, 6)).id, created[1].id);
    EXPECT_THROW(store.get("ffff0000ffff0000"), NotFoundError);
    EXPECT_THROW(store.get("99"), NotFoundError);
}

TEST_F(StoreTest, DuplicateImportIsRefused) {
    Store store(options(), clock_);
    auto material = leafMaterial("ec-p256", 24h * 100);
    X509Ptr copy(X509_dup(material.leaf.get()));
    EVP_PKEY_up_ref(material.key.get());
    EvpPkeyPtr keyCopy(material.key.get());
    store.import(std::move(material), Role::Server, true);
    ImportedMaterial again;
    again.leaf = std::move(copy);
    again.key = std::move(keyCopy);
    EXPECT_THROW(store.import(std::move(again), Role::Server, true), StoreError);
    EXPECT_EQ(store.list().size(), 1u);
}

TEST_F(StoreTest, DefaultRenewsAtTwoThirdsKeepingItsKey) {
    Store store(options(), clock_);
    auto created = store.ensureDefault();
    clock_.advance(std::chrono::days(549));  // 825 * 2/3 = 550
    EXPECT_TRUE(store.renewDue().empty());
    clock_.advance(std::chrono::days(2));
    auto renewed = store.renewDue();
    ASSERT_EQ(renewed.size(), 2u);
    EXPECT_EQ(renewed[0].id, created[0].id);
    EXPECT_NE(renewed[0].info.sha256Fingerprint, created[0].info.sha256Fingerprint);
    EXPECT_EQ(renewed[0].info.spkiSha256Hex, created[0].info.spkiSha256Hex);  // DANE 3 1 1 holds
    EXPECT_EQ(renewed[0].info.notBefore, clock_.now());
    EXPECT_TRUE(store.get(created[0].id).isActive(Role::Server));
    EXPECT_TRUE(store.renewDue().empty());
}

TEST_F(StoreTest, RenewalCanBeSwitchedOffAndLeavesImportsAlone) {
    StoreOptions o = options();
    o.autoRenew = false;
    Store store(o, clock_);
    store.ensureDefault();
    store.import(leafMaterial("ec-p256", 24h * 30), Role::Server, false);
    clock_.advance(std::chrono::days(800));
    EXPECT_TRUE(store.renewDue().empty());
}

TEST_F(StoreTest, EachExpiryThresholdIsAnnouncedOnceEvenAcrossRestarts) {
    Store store(options(), clock_);
    auto imported = store.import(leafMaterial("ec-p256", 24h * 40), Role::Server, true);
    EXPECT_TRUE(store.recordExpiryNotices().empty());

    clock_.advance(std::chrono::days(11));  // 29 days left
    auto events = store.recordExpiryNotices();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, CertificateEventKind::Expiring);
    EXPECT_EQ(events[0].thresholdDays, 30);
    EXPECT_EQ(events[0].certId, imported.id);
    EXPECT_EQ(events[0].daysLeft, 29);
    EXPECT_TRUE(store.recordExpiryNotices().empty());

    clock_.advance(std::chrono::days(23));  // 5 days left: 14 and 7 crossed at once -> one event
    Store restarted(options(), clock_);
    events = restarted.recordExpiryNotices();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].thresholdDays, 7);
    EXPECT_TRUE(restarted.recordExpiryNotices().empty());

    clock_.advance(std::chrono::days(6));
    events = Store(options(), clock_).recordExpiryNotices();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, CertificateEventKind::Expired);
    EXPECT_TRUE(Store(options(), clock_).recordExpiryNotices().empty());
}

TEST_F(StoreTest, JournalKeepsChangesUntilPublishedWithoutTouchingTheGeneration) {
    Store store(options(), clock_);
    store.ensureDefault();
    auto entries = store.unpublished();
    ASSERT_FALSE(entries.empty());
    EXPECT_EQ(entries.front().event.kind, CertificateEventKind::Created);
    std::uint64_t generation = store.generation();
    store.markPublished(entries.back().seq);
    EXPECT_TRUE(store.unpublished().empty());
    EXPECT_EQ(store.generation(), generation);
    store.remove("2");
    entries = store.unpublished();
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].event.kind, CertificateEventKind::Removed);
    EXPECT_GT(store.generation(), generation);
}

TEST_F(StoreTest, LeftoversOfAnInterruptedChangeAreIgnoredAndCleaned) {
    Store store(options(), clock_);
    store.ensureDefault();
    fs::path stray = options().directory / "keys" / "99-7.key.tmp.12345";
    fs::path half = options().directory / "manifest.json.tmp.12345";
    std::ofstream(stray) << "half a key";
    std::ofstream(half) << "{ half a manifest";
    EXPECT_EQ(store.list().size(), 2u);  // readers never look at them
    store.import(leafMaterial("ec-p256", 24h * 100), Role::Server, false);
    EXPECT_FALSE(fs::exists(stray));
    EXPECT_FALSE(fs::exists(half));
}

TEST_F(StoreTest, CorruptManifestIsReportedNotReplaced) {
    Store store(options(), clock_);
    store.ensureDefault();
    std::ofstream(options().directory / "manifest.json") << "{ not json";
    try {
        store.list();
        FAIL() << "corrupt manifest read";
    } catch (const StoreError& e) {
        EXPECT_NE(std::string(e.what()).find("manifest.json"), std::string::npos) << e.what();
    }
    EXPECT_THROW(store.ensureDefault(), StoreError);
}

TEST_F(StoreTest, TrustAnchorsAreAddedListedAndRemoved) {
    Store store(options(), clock_);
    auto ca = testing::makeCa("Example Root");
    auto anchor = store.addCa(*ca.cert);
    EXPECT_THROW(store.addCa(*ca.cert), StoreError);
    ASSERT_EQ(store.listCas().size(), 1u);
    EXPECT_EQ(store.listCas()[0].info.commonName, "Example Root");
    X509StorePtr trust = store.trustStore();
    EXPECT_EQ(sk_X509_OBJECT_num(X509_STORE_get0_objects(trust.get())), 1);
    store.removeCa(anchor.id);
    EXPECT_TRUE(store.listCas().empty());
    EXPECT_THROW(store.removeCa(anchor.id), NotFoundError);
}

}  // namespace
}  // namespace tlsgate::certmgr
