// The durable spool: spool files (a version line, one JSON envelope line, the raw content) written
// under tmp/, fsynced, renamed into queue/ and the directory fsynced. Failing syscalls throw
// SpoolError naming the path, the operation and strerror; ENOSPC/EDQUOT set noSpace().
#include "tlsgate/gateway/spool.h"

#include "tlsgate/common/durable_file.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "tlsgate/certmgr/certificate.h"
#include "tlsgate/certmgr/ossl.h"

namespace tlsgate::gateway {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kMagic = "tlsgate-spool 1\n";
constexpr std::size_t kChunkSize = 64 * 1024;
/// The envelope line is never longer than this; list() reads no further looking for it.
constexpr std::size_t kMaxHeader = 1024 * 1024;
/// 13 hex digits of microseconds (fixed width until 2112) + 7 random hex digits.
constexpr std::size_t kTimeDigits = 13;
constexpr std::size_t kRandomDigits = 7;
constexpr std::size_t kQueueIdLength = kTimeDigits + kRandomDigits;
constexpr std::string_view kTemporarySuffix = ".tmp";
/// Emptied files kept for reuse (Spool::reuseRecycled): enough for the messages in flight.
constexpr std::size_t kMaxRecycled = 512;

[[noreturn]] void throwSystem(const std::string& operation, const fs::path& path, int error) {
    throw SpoolError(
        "spool: cannot " + operation + " " + path.string() + ": " + std::strerror(error),
        error == ENOSPC || error == EDQUOT);
}

bool isQueueId(std::string_view id) {
    return id.size() == kQueueIdLength && std::all_of(id.begin(), id.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

void checkQueueId(const std::string& id) {
    if (!isQueueId(id)) {
        throw SpoolError("spool: invalid queue id '" + id + "' (expected " +
                             std::to_string(kQueueIdLength) + " lowercase hex digits)",
                         false);
    }
}

using Fd = UniqueFd;

void makeDirectory(const fs::path& path) {
    if (::mkdir(path.c_str(), 0700) == 0) {
        // The umask may have taken bits away; the owner needs all three.
        if (::chmod(path.c_str(), 0700) != 0) {
            throwSystem("chmod", path, errno);
        }
        return;
    }
    const int error = errno;
    struct stat st {};
    if (error != EEXIST || ::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throwSystem("create directory", path, error == EEXIST ? ENOTDIR : error);
    }
}

/// The inode numbers of the entries of `directory` (readdir's d_ino: no stat per entry).
std::set<ino_t> inodesIn(const fs::path& directory) {
    std::set<ino_t> inodes;
    struct CloseDir {
        void operator()(DIR* d) const { ::closedir(d); }
    };
    std::unique_ptr<DIR, CloseDir> dir(::opendir(directory.c_str()));
    if (!dir) {
        return inodes;
    }
    while (const dirent* entry = ::readdir(dir.get())) {
        inodes.insert(entry->d_ino);
    }
    return inodes;
}

/// Makes renames and unlinks in `directory` durable (durable_file.h), as a SpoolError.
void syncDir(const fs::path& directory) {
    try {
        syncDirectory(directory);
    } catch (const std::system_error& e) {
        throw SpoolError("spool: " + std::string(e.what()), false);
    }
}

/// Reads up to `count` bytes (fewer only at end of file), resuming after EINTR.
std::size_t readSome(int fd, char* data, std::size_t count, const fs::path& path) {
    std::size_t done = 0;
    while (done < count) {
        const ssize_t n = ::read(fd, data + done, count - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throwSystem("read", path, errno);
        }
        if (n == 0) {
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    return done;
}

/// A problem with a file's contents (not a syscall failure): the file is skipped, not deleted.
struct MalformedFile : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Reads the version line and the envelope line, no further (and never past kMaxHeader).
/// Returns both lines including their '\n'; throws MalformedFile when they are not there.
std::string readHeader(int fd, const fs::path& path) {
    std::string header;
    std::size_t newlines = 0;
    std::size_t scanned = 0;
    constexpr std::size_t kStep = 4096;
    while (header.size() < kMaxHeader) {
        const std::size_t old = header.size();
        header.resize(old + std::min(kStep, kMaxHeader - old));
        const std::size_t n = readSome(fd, header.data() + old, header.size() - old, path);
        header.resize(old + n);
        for (; scanned < header.size(); ++scanned) {
            if (header[scanned] == '\n' && ++newlines == 2) {
                header.resize(scanned + 1);
                if (header.compare(0, kMagic.size(), kMagic) != 0) {
                    throw MalformedFile("not a tlsgate spool file (version 1)");
                }
                return header;
            }
        }
        if (n == 0) {
            break;
        }
    }
    if (header.compare(0, kMagic.size(), kMagic) != 0) {
        throw MalformedFile("not a tlsgate spool file (version 1)");
    }
    throw MalformedFile(header.size() >= kMaxHeader ? "envelope line longer than 1 MiB"
                                                    : "truncated envelope line");
}

std::string envelopeLine(const Envelope& e) {
    Poco::JSON::Object o;
    o.set("sender", e.sender);
    Poco::JSON::Array recipients;
    for (const auto& r : e.recipients) {
        recipients.add(r);
    }
    o.set("recipients", recipients);
    o.set("session_id", e.sessionId);
    o.set("client_address", e.clientAddress);
    o.set("client_name", e.clientName);
    o.set("tls", e.tls);
    o.set("tls_version", e.tlsVersion);
    o.set("tls_cipher", e.tlsCipher);
    o.set("client_cert_sha256", e.clientCertSha256);
    o.set("eight_bit_mime", e.eightBitMime);
    o.set("received", certmgr::formatTime(e.received));
    std::ostringstream out;
    o.stringify(out, 0);  // no indentation: one line (strings escape their control characters)
    std::string line = out.str();
    if (line.find('\n') != std::string::npos) {
        throw SpoolError("spool: the envelope does not serialize to one line", false);
    }
    return line + '\n';
}

Envelope parseEnvelope(std::string_view line) {
    Envelope e;
    try {
        Poco::JSON::Parser parser;
        auto o = parser.parse(std::string(line)).extract<Poco::JSON::Object::Ptr>();
        if (!o) {
            throw MalformedFile("the envelope is not a JSON object");
        }
        e.sender = o->getValue<std::string>("sender");
        auto recipients = o->getArray("recipients");
        if (!recipients) {
            throw MalformedFile("the envelope has no recipients array");
        }
        for (std::size_t i = 0; i < recipients->size(); ++i) {
            e.recipients.push_back(recipients->getElement<std::string>(static_cast<unsigned>(i)));
        }
        e.sessionId = o->optValue<std::string>("session_id", "");
        e.clientAddress = o->optValue<std::string>("client_address", "");
        e.clientName = o->optValue<std::string>("client_name", "");
        e.tls = o->optValue<bool>("tls", false);
        e.tlsVersion = o->optValue<std::string>("tls_version", "");
        e.tlsCipher = o->optValue<std::string>("tls_cipher", "");
        e.clientCertSha256 = o->optValue<std::string>("client_cert_sha256", "");
        e.eightBitMime = o->optValue<bool>("eight_bit_mime", false);
        e.received = certmgr::parseTime(o->getValue<std::string>("received"));
    } catch (const MalformedFile&) {
        throw;
    } catch (const Poco::Exception& ex) {
        throw MalformedFile("bad envelope: " + ex.displayText());
    } catch (const std::exception& ex) {
        throw MalformedFile(std::string("bad envelope: ") + ex.what());
    }
    return e;
}

/// Closes `fd` (if open) and unlinks `temporary` (if set); for failures, so reports nothing.
void discard(int& fd, fs::path& temporary) {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
    if (!temporary.empty()) {
        ::unlink(temporary.c_str());
        temporary.clear();
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Spool

/// The group commit state of queue/'s directory fsyncs. Requests are numbered; a sync covers
/// every request made before it started, and syncs run one at a time.
struct Spool::DirectorySync {
    struct Failure {
        std::uint64_t from;
        std::uint64_t to;
        std::string error;
    };
    std::mutex mutex;
    std::condition_variable finished;
    std::uint64_t requested = 0;
    std::uint64_t completed = 0;  ///< every request up to here is settled
    bool running = false;
    std::deque<Failure> failures;  ///< recent failed syncs (an I/O error), newest last
};

Spool::~Spool() = default;

void Spool::syncQueue() {
    DirectorySync& s = *queueSync_;
    std::unique_lock lock(s.mutex);
    const std::uint64_t mine = ++s.requested;  // the caller's rename happened before this
    while (s.completed < mine) {
        if (s.running) {
            s.finished.wait(lock);
            continue;
        }
        s.running = true;
        const std::uint64_t from = s.completed + 1;
        const std::uint64_t to = s.requested;
        lock.unlock();
        std::string error;
        try {
            syncDirectory(directory_ / "queue");
        } catch (const std::system_error& e) {
            error = e.what();
        }
        lock.lock();
        s.running = false;
        s.completed = to;
        if (!error.empty()) {
            // After a failed fsync a later one may succeed without the lost metadata: every
            // request this sync covered fails, never retried into a false success.
            s.failures.push_back({from, to, std::move(error)});
            if (s.failures.size() > 1024) {
                s.failures.pop_front();
            }
        }
        s.finished.notify_all();
    }
    for (const auto& f : s.failures) {
        if (mine >= f.from && mine <= f.to) {
            throw SpoolError("spool: " + f.error, false);
        }
    }
}

Spool::Spool(fs::path directory, const Clock& clock, Access access)
    : directory_(std::move(directory)),
      clock_(clock),
      queueSync_(std::make_unique<DirectorySync>()) {
    if (access == Access::Inspect) {
        return;  // another process (the daemon) owns tmp/: never touch it
    }
    makeDirectory(directory_);
    makeDirectory(directory_ / "tmp");
    makeDirectory(directory_ / "queue");
    makeDirectory(directory_ / "state");
    makeDirectory(directory_ / "recycle");
    syncDir(directory_);
    // A file is renamed into queue/ with only queue/ fsynced: after a power failure on a file
    // system without a journal, its old entry in tmp/ or recycle/ may have survived too. Such
    // an entry is the committed message: never emptied, reused or unlinked.
    const std::set<ino_t> queued = inodesIn(directory_ / "queue");
    const auto isQueued = [&queued](const fs::path& path) {
        struct stat st {};
        return ::lstat(path.c_str(), &st) == 0 && queued.count(st.st_ino) != 0;
    };
    // Whatever is in tmp/ was never acknowledged (the session died before 250): drop it.
    const fs::path tmp = directory_ / "tmp";
    std::error_code ec;
    for (fs::directory_iterator it(tmp, ec), end; !ec && it != end; it.increment(ec)) {
        if (isQueued(it->path())) {
            continue;
        }
        std::error_code removeError;
        fs::remove_all(it->path(), removeError);
        if (removeError) {
            throwSystem("remove stale temporary file", it->path(), removeError.value());
        }
    }
    if (ec) {
        throwSystem("scan", tmp, ec.value());
    }
    syncDir(tmp);
    // Emptied files from earlier runs: reused, up to the bound.
    const fs::path recycle = directory_ / "recycle";
    for (fs::directory_iterator it(recycle, ec), end; !ec && it != end; it.increment(ec)) {
        if (isQueued(it->path())) {
            continue;
        }
        if (recycled_.size() < kMaxRecycled && it->is_regular_file(ec) &&
            isQueueId(it->path().filename().string())) {
            recycled_.push_back(it->path().filename().string());
        } else {
            ::unlink(it->path().c_str());
        }
    }
    ec.clear();
    // A delivery state without its message: the process stopped between the two unlinks of
    // remove(). Only the state is left; it belongs to nothing.
    const fs::path states = directory_ / "state";
    for (fs::directory_iterator it(states, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path path = it->path();
        if (path.extension() == ".json" && !fs::exists(directory_ / "queue" / path.stem(), ec)) {
            ::unlink(path.c_str());
        }
    }
}

std::string Spool::newQueueId() {
    using std::chrono::microseconds;
    const auto micros =
        std::chrono::duration_cast<microseconds>(clock_.now().time_since_epoch()).count();
    constexpr unsigned long long kMaxMicros = (1ULL << (4 * kTimeDigits)) - 1;
    const unsigned long long time =
        micros < 0 ? 0ULL : std::min(static_cast<unsigned long long>(micros), kMaxMicros);
    unsigned char random[4];
    if (RAND_bytes(random, sizeof random) != 1) {
        throw SpoolError("spool: cannot make a queue id: " + certmgr::drainOpensslErrors(), false);
    }
    const unsigned long long bits = (static_cast<unsigned long long>(random[0]) << 24 |
                                     static_cast<unsigned long long>(random[1]) << 16 |
                                     static_cast<unsigned long long>(random[2]) << 8 |
                                     static_cast<unsigned long long>(random[3])) &
                                    ((1ULL << (4 * kRandomDigits)) - 1);
    char text[kQueueIdLength + 1];
    std::snprintf(text, sizeof text, "%013llx%07llx", time, bits);
    return std::string(text, kQueueIdLength);
}

int Spool::reuseRecycled(const fs::path& target) {
    for (;;) {
        std::string name;
        {
            std::lock_guard lock(recycleMutex_);
            if (recycled_.empty()) {
                return -1;
            }
            name = std::move(recycled_.back());
            recycled_.pop_back();
        }
        const fs::path spare = directory_ / "recycle" / name;
        if (::renameat2(AT_FDCWD, spare.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
            if (errno == EEXIST) {
                std::lock_guard lock(recycleMutex_);
                recycled_.push_back(std::move(name));
                return -1;  // the temporary name is taken: the caller picks another id
            }
            continue;  // gone (or no RENAME_NOREPLACE here): the next one, or a new file
        }
        // O_TRUNC: empty already, unless the process stopped between remove()'s two steps.
        const int fd = ::open(target.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            return fd;
        }
        ::unlink(target.c_str());
    }
}

Spool::Writer Spool::begin(Envelope envelope) {
    return Writer(*this, std::move(envelope));
}

namespace {

/// Reads one committed message's envelope; nullopt when it was removed meanwhile. Throws
/// MalformedFile or SpoolError.
std::optional<SpooledMessage> readMessage(const fs::path& path, const std::string& name) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) {
        if (errno == ENOENT) {
            return std::nullopt;  // removed (delivered) since the directory was read
        }
        throwSystem("open", path, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throwSystem("stat", path, errno);
    }
    if (!S_ISREG(st.st_mode)) {
        throw MalformedFile("not a regular file");
    }
    const std::string header = readHeader(fd.get(), path);
    SpooledMessage m;
    m.queueId = name;
    m.envelope = parseEnvelope(std::string_view(header).substr(kMagic.size()));
    m.size = static_cast<std::uint64_t>(st.st_size) - header.size();
    m.file = path;
    return m;
}

}  // namespace

std::optional<SpooledMessage> Spool::message(const std::string& queueId) const {
    checkQueueId(queueId);
    try {
        return readMessage(directory_ / "queue" / queueId, queueId);
    } catch (const MalformedFile& ex) {
        throw SpoolError("spool: " + queueId + ": " + ex.what(), false);
    }
}

std::vector<SpooledMessage> Spool::list(std::vector<std::string>* problems) const {
    const fs::path queue = directory_ / "queue";
    auto report = [problems](const fs::path& path, const std::string& what) {
        if (problems != nullptr) {
            problems->push_back(path.string() + ": " + what);
        }
    };
    std::vector<SpooledMessage> out;
    std::error_code ec;
    for (fs::directory_iterator it(queue, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path path = it->path();
        const std::string name = path.filename().string();
        if (!isQueueId(name)) {
            report(path, "not a queue id; skipped");
            continue;
        }
        try {
            if (auto m = readMessage(path, name)) {
                out.push_back(std::move(*m));
            }
        } catch (const MalformedFile& ex) {
            report(path, std::string(ex.what()) + "; skipped");
        } catch (const SpoolError& ex) {
            report(path, std::string(ex.what()) + "; skipped");
        }
    }
    if (ec) {
        throwSystem("scan", queue, ec.value());
    }
    std::sort(out.begin(), out.end(), [](const SpooledMessage& a, const SpooledMessage& b) {
        return a.queueId < b.queueId;
    });
    return out;
}

std::string Spool::content(const std::string& queueId) const {
    checkQueueId(queueId);
    const fs::path path = directory_ / "queue" / queueId;
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) {
        throwSystem("open", path, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throwSystem("stat", path, errno);
    }
    std::string header;
    try {
        header = readHeader(fd.get(), path);
    } catch (const MalformedFile& ex) {
        throw SpoolError("spool: " + path.string() + ": " + ex.what(), false);
    }
    const auto total = static_cast<std::size_t>(st.st_size);
    std::string bytes(total > header.size() ? total - header.size() : 0, '\0');
    if (::lseek(fd.get(), static_cast<off_t>(header.size()), SEEK_SET) < 0) {
        throwSystem("seek in", path, errno);
    }
    bytes.resize(readSome(fd.get(), bytes.data(), bytes.size(), path));
    return bytes;
}

void Spool::remove(const std::string& queueId) {
    checkQueueId(queueId);
    const fs::path path = directory_ / "queue" / queueId;
    bool room = false;
    {
        std::lock_guard lock(recycleMutex_);
        room = recycled_.size() < kMaxRecycled;
    }
    const fs::path spare = directory_ / "recycle" / queueId;
    // Out of queue/ first (a reader never sees the message half gone), then emptied: delivered
    // mail does not stay on disk.
    if (room && ::rename(path.c_str(), spare.c_str()) == 0) {
        if (::truncate(spare.c_str(), 0) == 0) {
            std::lock_guard lock(recycleMutex_);
            recycled_.push_back(queueId);
        } else {
            ::unlink(spare.c_str());
        }
    } else if (::unlink(path.c_str()) != 0) {
        throwSystem("remove", path, errno);
    }
    // No directory fsync: a removal lost to a power failure brings the message back, and it is
    // delivered again (at least once), never lost. Every fsync here would be paid per message.
    const fs::path statePath = directory_ / "state" / (queueId + ".json");
    ::unlink(statePath.c_str());  // may not exist: never attempted
}

bool Spool::contains(const std::string& queueId) const {
    checkQueueId(queueId);
    return ::access((directory_ / "queue" / queueId).c_str(), F_OK) == 0;
}

DeliveryState Spool::state(const std::string& queueId) const {
    checkQueueId(queueId);
    DeliveryState st;
    const fs::path path = directory_ / "state" / (queueId + ".json");
    std::ifstream in(path);
    if (!in) {
        return st;
    }
    try {
        Poco::JSON::Parser parser;
        auto o = parser.parse(in).extract<Poco::JSON::Object::Ptr>();
        st.attempts = o->getValue<int>("attempts");
        st.nextAttempt = certmgr::parseTime(o->getValue<std::string>("next_attempt"));
        st.lastError = o->getValue<std::string>("last_error");
        auto delivered = o->getArray("delivered");
        for (unsigned i = 0; delivered && i < delivered->size(); ++i) {
            st.delivered.push_back(delivered->getElement<std::string>(i));
        }
        auto failed = o->getArray("failed");
        for (unsigned i = 0; failed && i < failed->size(); ++i) {
            auto f = failed->getObject(i);
            st.failed.emplace_back(f->getValue<std::string>("recipient"),
                                   f->getValue<std::string>("reply"));
        }
    } catch (const std::exception&) {
        // A damaged state file must not block delivery: start over (at least once, never zero).
        return DeliveryState{};
    }
    return st;
}

void Spool::saveState(const std::string& queueId, const DeliveryState& st) {
    checkQueueId(queueId);
    Poco::JSON::Object o;
    o.set("attempts", st.attempts);
    o.set("next_attempt", certmgr::formatTime(st.nextAttempt));
    o.set("last_error", st.lastError);
    Poco::JSON::Array delivered;
    for (const auto& r : st.delivered) {
        delivered.add(r);
    }
    o.set("delivered", delivered);
    Poco::JSON::Array failed;
    for (const auto& [recipient, reply] : st.failed) {
        Poco::JSON::Object f;
        f.set("recipient", recipient);
        f.set("reply", reply);
        failed.add(f);
    }
    o.set("failed", failed);
    std::ostringstream text;
    o.stringify(text);
    try {
        writeFileAtomic(directory_ / "state" / (queueId + ".json"), text.str(), 0600);
    } catch (const std::system_error& e) {
        const int error = e.code().value();
        throw SpoolError("spool: " + std::string(e.what()), error == ENOSPC || error == EDQUOT);
    }
}

// ---------------------------------------------------------------------------------------------
// Spool::Writer

Spool::Writer::Writer(Spool& spool, Envelope envelope)
    : spool_(&spool), envelope_(std::move(envelope)) {
    buffer_ = std::string(kMagic) + envelopeLine(envelope_);
    if (buffer_.size() > kMaxHeader) {
        throw SpoolError("spool: the envelope is longer than 1 MiB", false);
    }
    buffer_.reserve(kChunkSize + buffer_.size());
    // O_EXCL makes the name ours; a clash (same microsecond, same random bits) takes another.
    for (int attempt = 0;; ++attempt) {
        queueId_ = spool.newQueueId();
        temporary_ = spool.directory_ / "tmp" / (queueId_ + std::string(kTemporarySuffix));
        fd_ = spool.reuseRecycled(temporary_);
        if (fd_ < 0) {
            fd_ = ::open(temporary_.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        }
        if (fd_ >= 0) {
            break;
        }
        const int error = errno;
        if (error != EEXIST || attempt == 10) {
            fs::path failed = std::move(temporary_);
            temporary_.clear();
            throwSystem("create", failed, error);
        }
    }
}

Spool::Writer::Writer(Writer&& other) noexcept
    : spool_(other.spool_),
      envelope_(std::move(other.envelope_)),
      queueId_(std::move(other.queueId_)),
      temporary_(std::move(other.temporary_)),
      fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)),
      size_(other.size_),
      committed_(other.committed_) {
    other.temporary_.clear();
}

Spool::Writer::~Writer() {
    if (!committed_) {
        discard(fd_, temporary_);
    } else if (fd_ >= 0) {
        ::close(fd_);
    }
}

void Spool::Writer::append(std::string_view bytes) {
    if (fd_ < 0) {
        throw SpoolError("spool: message " + queueId_ + " is already committed or abandoned",
                         false);
    }
    buffer_.append(bytes);
    size_ += bytes.size();
    if (buffer_.size() >= kChunkSize) {
        flush();
    }
}

void Spool::Writer::flush() {
    const int error = writeAll(fd_, buffer_);
    buffer_.clear();
    if (error != 0) {
        fs::path failed = temporary_;
        discard(fd_, temporary_);
        throwSystem("write", failed, error);
    }
}

std::string Spool::Writer::commit() {
    if (fd_ < 0) {
        throw SpoolError("spool: message " + queueId_ + " is already committed or abandoned",
                         false);
    }
    flush();
    auto fail = [this](const char* operation, int error) {
        fs::path failed = temporary_;
        discard(fd_, temporary_);
        throwSystem(operation, failed, error);
    };
    if (::fsync(fd_) != 0) {
        fail("fsync", errno);
    }
    const int closed = ::close(fd_);
    fd_ = -1;
    if (closed != 0 && errno != EINTR) {  // after EINTR the descriptor is gone on Linux
        fail("close", errno);
    }
    const fs::path queue = spool_->directory_ / "queue";
    fs::path target = queue / queueId_;
    // RENAME_NOREPLACE: a committed message is never overwritten; on an id clash (same
    // microsecond, same random bits, the other already committed) the message takes another id.
    for (int attempt = 0;; ++attempt) {
        if (::renameat2(AT_FDCWD, temporary_.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) ==
            0) {
            break;
        }
        const int error = errno;
        if (error == EEXIST && attempt < 10) {
            queueId_ = spool_->newQueueId();
            target = queue / queueId_;
        } else if (error == EINVAL || error == ENOSYS) {  // no RENAME_NOREPLACE on this fs
            if (::rename(temporary_.c_str(), target.c_str()) != 0) {
                fail("rename", errno);
            }
            break;
        } else {
            fail("rename", error);
        }
    }
    temporary_.clear();
    try {
        spool_->syncQueue();
    } catch (const SpoolError&) {
        // Not durable, so not acknowledged: take it back out of the queue.
        ::unlink(target.c_str());
        throw;
    }
    committed_ = true;
    return queueId_;
}

}  // namespace tlsgate::gateway
