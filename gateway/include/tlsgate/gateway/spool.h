// The durable spool: one file per accepted message (envelope header + content), written to a
// temporary name, fsynced, renamed into queue/, and the directory fsynced before the message is
// acknowledged (one directory fsync serves every commit waiting at that moment). Recovery at start
// is a directory scan. Thread-safe (each Writer is used by one session thread). Errors throw
// SpoolError; a full disk is flagged so SMTP can answer 452 4.3.1.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tlsgate/common/clock.h"

namespace tlsgate::gateway {

class SpoolError : public std::runtime_error {
  public:
    SpoolError(const std::string& what, bool noSpace)
        : std::runtime_error(what), noSpace_(noSpace) {}
    /// ENOSPC or EDQUOT: a temporary condition (452 4.3.1), not a fault.
    bool noSpace() const { return noSpace_; }

  private:
    bool noSpace_;
};

/// What the receiving session knew about a message.
struct Envelope {
    std::string sender;                   ///< reverse path, empty for <>
    std::vector<std::string> recipients;  ///< forward paths
    std::string sessionId;
    std::string clientAddress;  ///< "192.0.2.1" / "2001:db8::1"
    std::string clientName;     ///< EHLO/HELO argument
    bool tls = false;
    std::string tlsVersion;
    std::string tlsCipher;
    std::string clientCertSha256;  ///< when a client certificate was presented
    bool eightBitMime = false;
    TimePoint received;
};

/// Where a message stands in delivery; kept beside it (state/<id>), rewritten atomically after
/// every attempt so a restart neither forgets delivered recipients nor retries too early.
struct DeliveryState {
    int attempts = 0;
    TimePoint nextAttempt;  ///< epoch (zero) = due now
    std::string lastError;
    std::vector<std::string> delivered;  ///< recipients the next hop answered 250 for
    /// Recipients that failed for good, with the reply (for the DSN).
    std::vector<std::pair<std::string, std::string>> failed;
};

struct SpooledMessage {
    std::string queueId;
    Envelope envelope;
    std::uint64_t size = 0;  ///< content bytes
    std::filesystem::path file;
};

class Spool {
  public:
    /// Owner: the daemon, which writes and recovers; Inspect: `tlsgate queue`, which only reads
    /// while a daemon may be writing.
    enum class Access { Owner, Inspect };

    /// Opens `directory`. As Owner: creates it (mode 0700) with its queue/ and tmp/ folders and
    /// removes leftovers of interrupted writes from tmp/ and delivery states whose message is
    /// gone (only one owner per directory).
    Spool(std::filesystem::path directory, const Clock& clock = SystemClock::instance(),
          Access access = Access::Owner);

    /// Streams one message to a temporary file; commit() makes it durable and visible.
    class Writer {
      public:
        ~Writer();  ///< removes the temporary file unless committed
        Writer(Writer&&) noexcept;
        Writer(const Writer&) = delete;
        Writer& operator=(const Writer&) = delete;
        Writer& operator=(Writer&&) = delete;

        /// Appends content bytes (buffered; written in large chunks).
        void append(std::string_view bytes);
        /// Writes what is buffered, fsyncs, renames into queue/, fsyncs the directory. Returns
        /// the queue id. After a throw nothing is visible in the queue.
        std::string commit();
        std::uint64_t size() const { return size_; }
        /// The id the message will have once committed (known from begin(), for Received:).
        const std::string& queueId() const { return queueId_; }

      private:
        friend class Spool;
        Writer(Spool& spool, Envelope envelope);
        void flush();

        Spool* spool_;
        Envelope envelope_;
        std::string queueId_;
        std::filesystem::path temporary_;
        int fd_ = -1;
        std::string buffer_;
        std::uint64_t size_ = 0;
        bool committed_ = false;
    };

    /// Starts a message. Throws SpoolError when the temporary file cannot be created.
    Writer begin(Envelope envelope);
    /// Every committed message, oldest first (the recovery scan). Unreadable files are reported
    /// in `problems` and skipped, never deleted.
    std::vector<SpooledMessage> list(std::vector<std::string>* problems = nullptr) const;
    /// One committed message's envelope; empty when it is gone (delivered, deleted).
    std::optional<SpooledMessage> message(const std::string& queueId) const;
    /// The content of a committed message.
    std::string content(const std::string& queueId) const;
    /// Removes a delivered (or bounced) message and its delivery state. Its file is emptied and
    /// kept in recycle/ for a later message (a bounded number of them). Not fsynced: after a
    /// power failure the message may come back and be delivered again, never lost.
    void remove(const std::string& queueId);
    /// The delivery state of a message (the initial state when none was saved yet).
    DeliveryState state(const std::string& queueId) const;
    /// Saves it atomically (temporary file, fsync, rename). Throws SpoolError.
    void saveState(const std::string& queueId, const DeliveryState& state);
    /// Whether the message is still queued.
    bool contains(const std::string& queueId) const;
    const std::filesystem::path& directory() const { return directory_; }

    Spool(const Spool&) = delete;
    Spool& operator=(const Spool&) = delete;
    ~Spool();

  private:
    std::string newQueueId();
    /// Makes every rename into queue/ done before the call durable. Concurrent commits share one
    /// directory fsync (group commit): a caller waits for a sync that started after its rename,
    /// or runs one itself. Throws SpoolError when the sync that covered the call failed.
    void syncQueue();
    /// A delivered message's file, emptied, renamed to `target` and opened for writing; -1 when
    /// there is none. Creating a file and deleting one per message costs inode allocation, and on
    /// ext4 without a journal every new inode skips past the ones deleted in the last 30 s (a
    /// scan that grows with the message rate); reusing files keeps the set of inodes steady.
    int reuseRecycled(const std::filesystem::path& target);

    struct DirectorySync;

    std::filesystem::path directory_;
    const Clock& clock_;
    std::unique_ptr<DirectorySync> queueSync_;
    std::mutex recycleMutex_;
    std::vector<std::string> recycled_;  ///< names of the emptied files in recycle/
};

}  // namespace tlsgate::gateway
