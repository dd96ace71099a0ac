// A destination's disk buffer: records that could not be sent yet, in append-only segment files,
// read back in order. Thread-safe (the sender appends and replays, the Kafka delivery thread
// appends what came back). I/O errors are results (append() false, lastError()), not exceptions,
// except in the constructor (an unusable directory is a configuration error).
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tlsgate/siem/record.h"

namespace tlsgate::siem {

/// Records waiting for a destination, oldest first, bounded in bytes. Thread-safe.
class Backlog {
  public:
    virtual ~Backlog() = default;
    /// Appends `record`; false (nothing kept) when it would pass the bound or could not be kept.
    virtual bool append(const Record& record) = 0;
    /// The oldest record not yet consumed; empty when none.
    virtual std::optional<Record> front() = 0;
    /// Consumes the record front() returned.
    virtual void popFront() = 0;
    virtual std::uint64_t records() const = 0;
    virtual std::uint64_t bytes() const = 0;
    bool empty() const { return records() == 0; }
    /// Makes what was consumed durable (the disk buffer's cursor); a no-op in memory.
    virtual void sync() {}
    virtual std::string lastError() const { return {}; }
};

/// A backlog in memory, for a destination without buffer_dir: bounded the same way, lost at exit.
class MemoryBacklog final : public Backlog {
  public:
    explicit MemoryBacklog(std::uint64_t maxBytes) : maxBytes_(maxBytes) {}
    bool append(const Record& record) override;
    std::optional<Record> front() override;
    void popFront() override;
    std::uint64_t records() const override;
    std::uint64_t bytes() const override;

  private:
    const std::uint64_t maxBytes_;
    mutable std::mutex mutex_;
    std::deque<Record> records_;
    std::uint64_t bytes_ = 0;
};

/// Layout: DIR/SEQUENCE.seg (20-digit sequence, oldest first), each a run of records framed as
/// "KEYLEN PAYLOADLEN\n" KEY PAYLOAD "\n"; DIR/cursor holds "SEQUENCE OFFSET" of the next record
/// to replay, rewritten (temporary file + rename) when a segment is finished and on close. A
/// crash replays at most the records consumed since the last cursor write (at-least-once); a
/// torn record at a segment's end is skipped.
class DiskBuffer final : public Backlog {
  public:
    /// Opens (creating) `dir` and counts what an earlier run left there; throws
    /// std::runtime_error when the directory cannot be created or read.
    DiskBuffer(std::filesystem::path dir, std::uint64_t maxBytes,
               std::uint64_t segmentBytes = 4ULL << 20);
    ~DiskBuffer() override;
    DiskBuffer(const DiskBuffer&) = delete;
    DiskBuffer& operator=(const DiskBuffer&) = delete;

    /// Appends `record`; false (nothing written) when it would pass the byte bound or the write
    /// failed.
    bool append(const Record& record) override;
    /// The oldest record not yet consumed, read from disk; empty when none.
    std::optional<Record> front() override;
    /// Consumes the record front() returned; deletes a segment once it is fully consumed.
    void popFront() override;
    /// Records / bytes (framing included) on disk not yet consumed.
    std::uint64_t records() const override;
    std::uint64_t bytes() const override;
    /// Writes the cursor now (also done by the destructor).
    void sync() override;
    std::string lastError() const override;

  private:
    struct Segment {
        std::uint64_t sequence = 0;
        std::uint64_t size = 0;  ///< bytes written (valid records only)
    };
    std::filesystem::path segmentPath(std::uint64_t sequence) const;
    bool openWriter();
    void scan(std::uint64_t cursorSequence, std::uint64_t cursorOffset);
    std::optional<Record> readAt(int fd, std::uint64_t offset, std::uint64_t limit,
                                 std::uint64_t& next) const;
    void writeCursor();
    void dropFrontSegment();

    const std::filesystem::path dir_;
    const std::uint64_t maxBytes_;
    const std::uint64_t segmentBytes_;
    mutable std::mutex mutex_;
    std::vector<Segment> segments_;  ///< oldest first; the last one is written to
    int writeFd_ = -1;
    int readFd_ = -1;
    std::uint64_t readSequence_ = 0;  ///< the segment readFd_ is open on
    std::uint64_t popsSinceCursor_ = 0;
    std::uint64_t nextSequence_ = 1;
    std::uint64_t readOffset_ = 0;  ///< in segments_.front()
    std::uint64_t records_ = 0;
    std::uint64_t bytes_ = 0;
    /// front() cache: the record at readOffset_ and the offset after it.
    std::optional<Record> cached_;
    std::uint64_t cachedNext_ = 0;
    std::string lastError_;
};

}  // namespace tlsgate::siem
