// Unit tests for the durable spool: round trips, queue ids, recovery scan, file modes, crashes of
// forked writers and a full (tmpfs) disk, each in a per-test temporary directory. gtest assertions.
#include "tlsgate/gateway/spool.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test_ca.h"

namespace tlsgate::gateway {
namespace {

namespace fs = std::filesystem;
using std::chrono::microseconds;

/// 2026-03-01T12:00:00Z: whole seconds, so the envelope's "received" round-trips exactly.
const TimePoint kStart = std::chrono::system_clock::from_time_t(1772366400);

Envelope sampleEnvelope() {
    Envelope e;
    e.sender = "alice@example.org";
    e.recipients = {"bob@example.net", "carol@example.com", "j\xc3\xb6rg@ex\xc3\xa4mple.de"};
    e.sessionId = "s-42";
    e.clientAddress = "2001:db8::1";
    e.clientName = "mail.example.org";
    e.tls = true;
    e.tlsVersion = "TLSv1.3";
    e.tlsCipher = "TLS_AES_256_GCM_SHA384";
    e.clientCertSha256 = std::string(64, 'a');
    e.eightBitMime = true;
    e.received = kStart;
    return e;
}

void expectSameEnvelope(const Envelope& a, const Envelope& b) {
    EXPECT_EQ(a.sender, b.sender);
    EXPECT_EQ(a.recipients, b.recipients);
    EXPECT_EQ(a.sessionId, b.sessionId);
    EXPECT_EQ(a.clientAddress, b.clientAddress);
    EXPECT_EQ(a.clientName, b.clientName);
    EXPECT_EQ(a.tls, b.tls);
    EXPECT_EQ(a.tlsVersion, b.tlsVersion);
    EXPECT_EQ(a.tlsCipher, b.tlsCipher);
    EXPECT_EQ(a.clientCertSha256, b.clientCertSha256);
    EXPECT_EQ(a.eightBitMime, b.eightBitMime);
    EXPECT_EQ(a.received, b.received);
}

std::vector<std::string> namesIn(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
        names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

unsigned modeOf(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
}

/// Bytes 0..255 repeated: NULs, bare CR and LF, and everything above 0x7f.
std::string binaryContent(std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        s[i] = static_cast<char>(static_cast<unsigned char>(i * 7 % 256));
    }
    return s;
}

class SpoolTest : public ::testing::Test {
  protected:
    fs::path spoolDir() const { return fs::path(tmp_.path()) / "spool"; }

    testing::TempDir tmp_;
    FakeClock clock_{kStart};
};

TEST_F(SpoolTest, RoundTripsEnvelopeAndBinaryContent) {
    Spool spool(spoolDir(), clock_);
    const std::string content = "Subject: hi\r\n\r\n" + binaryContent(1000) + "\r\n.\r\n";
    auto writer = spool.begin(sampleEnvelope());
    writer.append(content.substr(0, 10));
    writer.append(content.substr(10));
    EXPECT_EQ(writer.size(), content.size());
    const std::string id = writer.commit();

    std::vector<std::string> problems;
    auto messages = spool.list(&problems);
    EXPECT_TRUE(problems.empty());
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].queueId, id);
    EXPECT_EQ(messages[0].size, content.size());
    EXPECT_EQ(messages[0].file, spoolDir() / "queue" / id);
    expectSameEnvelope(messages[0].envelope, sampleEnvelope());
    EXPECT_EQ(spool.content(id), content);

    // The file is what the format says: version line, one JSON line, the raw bytes.
    std::ifstream in(messages[0].file, std::ios::binary);
    std::string first;
    std::string second;
    std::getline(in, first);
    std::getline(in, second);
    EXPECT_EQ(first, "tlsgate-spool 1");
    EXPECT_NE(second.find("\"received\":\"2026-03-01T12:00:00Z\""), std::string::npos) << second;
    EXPECT_NE(second.find("\"client_cert_sha256\""), std::string::npos) << second;
}

TEST_F(SpoolTest, OneMessageIsReadByIdWithoutListingTheQueue) {
    Spool spool(spoolDir(), clock_);
    auto writer = spool.begin(sampleEnvelope());
    writer.append("body\r\n");
    const std::string id = writer.commit();
    const auto m = spool.message(id);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->queueId, id);
    EXPECT_EQ(m->size, 6u);
    expectSameEnvelope(m->envelope, sampleEnvelope());
    spool.remove(id);
    EXPECT_FALSE(spool.message(id));
    EXPECT_THROW(spool.message("../etc/passwd"), SpoolError);
}

TEST_F(SpoolTest, RoundTripsEmptySenderAndContent) {
    Spool spool(spoolDir(), clock_);
    Envelope e;
    e.recipients = {"postmaster"};
    e.received = kStart;
    e.sessionId = "quote\" backslash\\ newline\n tab\t";
    const std::string id = spool.begin(e).commit();
    auto messages = spool.list();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].size, 0u);
    expectSameEnvelope(messages[0].envelope, e);
    EXPECT_EQ(spool.content(id), "");
}

TEST_F(SpoolTest, LargeContentCrossesTheChunkSize) {
    Spool spool(spoolDir(), clock_);
    const std::string content = binaryContent(200 * 1024 + 17);
    auto writer = spool.begin(sampleEnvelope());
    // Odd-sized pieces, so buffer boundaries fall everywhere.
    for (std::size_t pos = 0; pos < content.size(); pos += 999) {
        writer.append(std::string_view(content).substr(pos, 999));
    }
    const std::string id = writer.commit();
    auto messages = spool.list();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].size, content.size());
    EXPECT_EQ(spool.content(id), content);
}

TEST_F(SpoolTest, WritesChunksBeforeCommit) {
    Spool spool(spoolDir(), clock_);
    auto writer = spool.begin(sampleEnvelope());
    writer.append(binaryContent(100 * 1024));
    auto names = namesIn(spoolDir() / "tmp");
    ASSERT_EQ(names.size(), 1u);
    EXPECT_GE(fs::file_size(spoolDir() / "tmp" / names[0]), 64u * 1024);
    EXPECT_TRUE(namesIn(spoolDir() / "queue").empty());
}

TEST_F(SpoolTest, QueueIdsAreUniqueAndSortedByTime) {
    Spool spool(spoolDir(), clock_);
    std::vector<std::string> ids;
    for (int i = 0; i < 20; ++i) {
        clock_.set(kStart + microseconds(i));
        auto writer = spool.begin(sampleEnvelope());
        writer.append("message " + std::to_string(i));
        ids.push_back(writer.commit());
        EXPECT_EQ(ids.back().size(), 20u);
        EXPECT_EQ(ids.back().find_first_not_of("0123456789abcdef"), std::string::npos);
    }
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
    auto messages = spool.list();
    ASSERT_EQ(messages.size(), ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        EXPECT_EQ(messages[i].queueId, ids[i]);
        EXPECT_EQ(spool.content(ids[i]), "message " + std::to_string(i));
    }
    // Later than all of them, even with a large jump.
    clock_.advance(std::chrono::hours(24 * 365));
    EXPECT_GT(spool.begin(sampleEnvelope()).commit(), ids.back());
}

TEST_F(SpoolTest, QueueIdsAreUniqueUnderConcurrencyWithAFrozenClock) {
    Spool spool(spoolDir(), clock_);
    constexpr int kThreads = 8;
    constexpr int kPerThread = 50;
    std::vector<std::vector<std::string>> ids(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&spool, &ids, t] {
            for (int i = 0; i < kPerThread; ++i) {
                auto writer = spool.begin(sampleEnvelope());
                writer.append(std::to_string(t) + "/" + std::to_string(i));
                ids[static_cast<std::size_t>(t)].push_back(writer.commit());
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    std::set<std::string> unique;
    for (const auto& perThread : ids) {
        unique.insert(perThread.begin(), perThread.end());
    }
    EXPECT_EQ(unique.size(), static_cast<std::size_t>(kThreads * kPerThread));
    EXPECT_EQ(spool.list().size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST_F(SpoolTest, UncommittedWriterLeavesNothing) {
    Spool spool(spoolDir(), clock_);
    {
        auto writer = spool.begin(sampleEnvelope());
        writer.append(binaryContent(100 * 1024));
        EXPECT_EQ(namesIn(spoolDir() / "tmp").size(), 1u);
        auto moved = std::move(writer);  // the moved-from writer must not remove moved's file
        moved.append("more");
        EXPECT_EQ(namesIn(spoolDir() / "tmp").size(), 1u);
    }
    EXPECT_TRUE(namesIn(spoolDir() / "tmp").empty());
    EXPECT_TRUE(namesIn(spoolDir() / "queue").empty());
    EXPECT_TRUE(spool.list().empty());
}

TEST_F(SpoolTest, CommittedWriterCannotBeReused) {
    Spool spool(spoolDir(), clock_);
    auto writer = spool.begin(sampleEnvelope());
    writer.append("x");
    writer.commit();
    EXPECT_THROW(writer.append("y"), SpoolError);
    EXPECT_THROW(writer.commit(), SpoolError);
    EXPECT_EQ(spool.list().size(), 1u);
}

TEST_F(SpoolTest, OpeningRemovesStaleTemporaryFilesButKeepsTheQueue) {
    std::string id;
    {
        Spool spool(spoolDir(), clock_);
        id = spool.begin(sampleEnvelope()).commit();
    }
    testing::writeFile((spoolDir() / "tmp" / "0000000000000abcdef1.tmp").string(),
                       "half a message");
    testing::writeFile((spoolDir() / "tmp" / "other").string(), "junk");
    Spool reopened(spoolDir(), clock_);
    EXPECT_TRUE(namesIn(spoolDir() / "tmp").empty());
    auto messages = reopened.list();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].queueId, id);
}

TEST_F(SpoolTest, OpeningDropsDeliveryStatesWhoseMessageIsGone) {
    std::string kept;
    std::string removed;
    {
        Spool spool(spoolDir(), clock_);
        kept = spool.begin(sampleEnvelope()).commit();
        removed = spool.begin(sampleEnvelope()).commit();
        DeliveryState st;
        st.attempts = 2;
        st.delivered = {"bob@example.net"};
        spool.saveState(kept, st);
        spool.saveState(removed, st);
        // remove() stopped between its two unlinks: the message is gone, its state is not.
        fs::remove(spoolDir() / "queue" / removed);
    }
    Spool reopened(spoolDir(), clock_);
    EXPECT_EQ(namesIn(spoolDir() / "state"), std::vector<std::string>{kept + ".json"});
    EXPECT_EQ(reopened.state(kept).attempts, 2);
    EXPECT_EQ(reopened.state(kept).delivered, std::vector<std::string>{"bob@example.net"});
}

TEST_F(SpoolTest, DeliveredMessageFilesAreEmptiedAndReused) {
    Spool spool(spoolDir(), clock_);
    auto first = spool.begin(sampleEnvelope());
    first.append("delivered content");
    const std::string delivered = first.commit();
    struct stat before {};
    ASSERT_EQ(::stat((spoolDir() / "queue" / delivered).c_str(), &before), 0);
    spool.remove(delivered);
    EXPECT_FALSE(spool.contains(delivered));
    // Kept empty: the delivered content is gone from the disk.
    EXPECT_EQ(fs::file_size(spoolDir() / "recycle" / delivered), 0u);

    auto second = spool.begin(sampleEnvelope());
    second.append("next");
    const std::string next = second.commit();
    struct stat after {};
    ASSERT_EQ(::stat((spoolDir() / "queue" / next).c_str(), &after), 0);
    EXPECT_EQ(after.st_ino, before.st_ino);  // the same file, no new inode
    EXPECT_TRUE(namesIn(spoolDir() / "recycle").empty());
    EXPECT_EQ(spool.content(next), "next");
    EXPECT_EQ(modeOf(spoolDir() / "queue" / next), 0600u);
}

TEST_F(SpoolTest, OpeningNeverEmptiesAFileThatIsAlsoInTheQueue) {
    std::string id;
    {
        Spool spool(spoolDir(), clock_);
        auto writer = spool.begin(sampleEnvelope());
        writer.append("acknowledged");
        id = writer.commit();
    }
    // A power failure without a journal can leave a committed file's old entries behind.
    ASSERT_EQ(::link((spoolDir() / "queue" / id).c_str(), (spoolDir() / "recycle" / id).c_str()),
              0);
    ASSERT_EQ(
        ::link((spoolDir() / "queue" / id).c_str(), (spoolDir() / "tmp" / (id + ".tmp")).c_str()),
        0);
    Spool reopened(spoolDir(), clock_);
    reopened.begin(sampleEnvelope()).commit();  // would take a recycled file if it were one
    EXPECT_EQ(reopened.content(id), "acknowledged");
}

TEST_F(SpoolTest, MalformedQueueFilesAreReportedAndKept) {
    Spool spool(spoolDir(), clock_);
    const std::string good = spool.begin(sampleEnvelope()).commit();
    const fs::path queue = spoolDir() / "queue";
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"00000000000000000001", "not a spool file\n{}\n"},
        {"00000000000000000002", "tlsgate-spool 1\n{\"sender\": broken\n"},
        {"00000000000000000003", "tlsgate-spool 1\n{\"sender\":\"a\"}\n"},       // no recipients
        {"00000000000000000004", "tlsgate-spool 1\n{\"sender\":\"a\",\"recip"},  // truncated
        {"00000000000000000005", ""},
        {"not-a-queue-id", "tlsgate-spool 1\n{}\n"},
    };
    for (const auto& [name, text] : bad) {
        testing::writeFile((queue / name).string(), text);
    }
    // An envelope line with no end within 1 MiB: reported without reading the whole file.
    testing::writeFile((queue / "00000000000000000006").string(),
                       "tlsgate-spool 1\n" + std::string(2 * 1024 * 1024, 'x'));

    std::vector<std::string> problems;
    auto messages = spool.list(&problems);
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].queueId, good);
    ASSERT_EQ(problems.size(), bad.size() + 1);
    for (const auto& problem : problems) {
        EXPECT_NE(problem.find(queue.string()), std::string::npos) << problem;
    }
    std::sort(problems.begin(), problems.end());
    EXPECT_NE(problems[0].find("not a tlsgate spool file"), std::string::npos) << problems[0];
    EXPECT_NE(problems[5].find("longer than 1 MiB"), std::string::npos) << problems[5];
    for (const auto& [name, text] : bad) {
        EXPECT_TRUE(fs::exists(queue / name)) << name;
    }
    EXPECT_NO_THROW(spool.list());  // problems may be null
    EXPECT_THROW(spool.content("00000000000000000001"), SpoolError);
}

TEST_F(SpoolTest, RemoveDeletesAndRejectsBadIds) {
    Spool spool(spoolDir(), clock_);
    const std::string first = spool.begin(sampleEnvelope()).commit();
    clock_.advance(std::chrono::seconds(1));
    const std::string second = spool.begin(sampleEnvelope()).commit();
    spool.remove(first);
    auto messages = spool.list();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].queueId, second);
    EXPECT_FALSE(fs::exists(spoolDir() / "queue" / first));

    try {
        spool.remove(first);
        FAIL() << "removing twice should throw";
    } catch (const SpoolError& e) {
        EXPECT_NE(std::string(e.what()).find(first), std::string::npos) << e.what();
        EXPECT_FALSE(e.noSpace());
    }
    testing::writeFile((spoolDir() / "x").string(), "outside the queue");
    const std::vector<std::string> badIds = {"../x",
                                             "../../x",
                                             "",
                                             "/etc/passwd",
                                             second + "0",
                                             "0000000000000000000g",
                                             "ABCDEF0000000000000a"};
    for (const auto& id : badIds) {
        EXPECT_THROW(spool.remove(id), SpoolError) << id;
        EXPECT_THROW(spool.content(id), SpoolError) << id;
    }
    EXPECT_TRUE(fs::exists(spoolDir() / "x"));
    EXPECT_THROW(spool.content(first), SpoolError);
    EXPECT_EQ(spool.list().size(), 1u);
}

TEST_F(SpoolTest, FilesAreOwnerOnly) {
    Spool spool(spoolDir(), clock_);
    EXPECT_EQ(modeOf(spoolDir()), 0700u);
    EXPECT_EQ(modeOf(spoolDir() / "tmp"), 0700u);
    EXPECT_EQ(modeOf(spoolDir() / "queue"), 0700u);
    auto writer = spool.begin(sampleEnvelope());
    auto names = namesIn(spoolDir() / "tmp");
    ASSERT_EQ(names.size(), 1u);
    EXPECT_EQ(modeOf(spoolDir() / "tmp" / names[0]), 0600u);
    const std::string id = writer.commit();
    EXPECT_EQ(names[0], id + ".tmp");
    EXPECT_EQ(modeOf(spoolDir() / "queue" / id), 0600u);
}

TEST_F(SpoolTest, MissingParentDirectoryIsAnError) {
    EXPECT_THROW(Spool(fs::path(tmp_.path()) / "no" / "such" / "spool", clock_), SpoolError);
    testing::writeFile(tmp_.file("plain"), "a file");
    EXPECT_THROW(Spool(tmp_.file("plain"), clock_), SpoolError);
}

/// Waits for `pid` with a bounded deadline; kills it if it overruns. Returns the wait status.
int waitBounded(pid_t pid, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (true) {
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) {
            return status;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            ADD_FAILURE() << "child " << pid << " did not finish in time";
            return status;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

TEST_F(SpoolTest, CrashedWritersLeaveExactlyTheCommittedMessages) {
    const std::string committedContent = binaryContent(70 * 1024);
    {
        Spool spool(spoolDir(), clock_);  // create the directories before the children race
    }
    // Child 1: commits and dies at once, with no destructor or exit handler running.
    const pid_t committer = ::fork();
    ASSERT_GE(committer, 0) << std::strerror(errno);
    if (committer == 0) {
        try {
            Spool spool(spoolDir(), clock_);
            auto writer = spool.begin(sampleEnvelope());
            writer.append(committedContent);
            writer.commit();
            ::_exit(0);
        } catch (...) {
            ::_exit(1);
        }
    }
    int status = waitBounded(committer, std::chrono::seconds(30));
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

    // Child 2: killed while appending, before commit.
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t victim = ::fork();
    ASSERT_GE(victim, 0) << std::strerror(errno);
    if (victim == 0) {
        ::close(ready[0]);
        try {
            Spool spool(spoolDir(), clock_);
            auto writer = spool.begin(sampleEnvelope());
            writer.append(binaryContent(150 * 1024));
            const char byte = 'r';
            if (::write(ready[1], &byte, 1) != 1) {
                ::_exit(2);
            }
            for (int i = 0; i < 100000; ++i) {  // keeps appending until killed
                writer.append("still writing\r\n");
                ::usleep(1000);
            }
            ::_exit(3);
        } catch (...) {
            ::_exit(1);
        }
    }
    ::close(ready[1]);
    pollfd pfd{ready[0], POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 30000), 1) << "the writer never got going";
    char byte = 0;
    ASSERT_EQ(::read(ready[0], &byte, 1), 1);
    ::close(ready[0]);
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    status = waitBounded(victim, std::chrono::seconds(30));
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;

    // What a restart sees: the victim's temporary file is dropped, the committed one is there.
    EXPECT_EQ(namesIn(spoolDir() / "tmp").size(), 1u);
    Spool restarted(spoolDir(), clock_);
    EXPECT_TRUE(namesIn(spoolDir() / "tmp").empty());
    std::vector<std::string> problems;
    auto messages = restarted.list(&problems);
    EXPECT_TRUE(problems.empty());
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].size, committedContent.size());
    EXPECT_EQ(restarted.content(messages[0].queueId), committedContent);
}

/// A spool on a 64 KiB tmpfs (needs CAP_SYS_ADMIN; skipped otherwise).
class SpoolDiskFullTest : public SpoolTest {
  protected:
    void SetUp() override {
        mountPoint_ = fs::path(tmp_.path()) / "small";
        fs::create_directory(mountPoint_);
        if (::mount("tmpfs", mountPoint_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                    "size=64k,mode=0700") != 0) {
            const int error = errno;
            GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(error);
        }
        mounted_ = true;
    }
    void TearDown() override {
        if (mounted_) {
            EXPECT_EQ(::umount2(mountPoint_.c_str(), MNT_DETACH), 0) << std::strerror(errno);
        }
    }

    fs::path mountPoint_;
    bool mounted_ = false;
};

TEST_F(SpoolDiskFullTest, FullDiskIsReportedAsNoSpaceAndLeavesNothing) {
    Spool spool(mountPoint_ / "spool", clock_);
    const std::string kept = spool.begin(sampleEnvelope()).commit();
    bool thrown = false;
    {
        auto writer = spool.begin(sampleEnvelope());
        try {
            for (int i = 0; i < 64; ++i) {
                writer.append(binaryContent(16 * 1024));
            }
            writer.commit();
        } catch (const SpoolError& e) {
            thrown = true;
            EXPECT_TRUE(e.noSpace()) << e.what();
            EXPECT_NE(std::string(e.what()).find("/tmp/"), std::string::npos) << e.what();
        }
        // The failed writer already removed its temporary file; space is free again.
        EXPECT_TRUE(namesIn(mountPoint_ / "spool" / "tmp").empty());
    }
    EXPECT_TRUE(thrown);
    auto messages = spool.list();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].queueId, kept);
    EXPECT_EQ(namesIn(mountPoint_ / "spool" / "queue"), std::vector<std::string>{kept});
    // With the space back, the next message goes through.
    auto writer = spool.begin(sampleEnvelope());
    writer.append("small");
    EXPECT_NO_THROW(writer.commit());
    EXPECT_EQ(spool.list().size(), 2u);
}

}  // namespace
}  // namespace tlsgate::gateway
