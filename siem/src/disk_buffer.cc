// The disk buffer: append-only segment files replayed in order, a cursor file for restarts.
// Called by a destination's sender thread and the Kafka delivery thread, under one mutex.
#include "tlsgate/siem/disk_buffer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace tlsgate::siem {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kCursorEvery = 1000;  // pops between cursor writes (duplicates bound)
constexpr std::size_t kHeaderMax = 48;        // "KEYLEN PAYLOADLEN\n" fits easily

std::string frame(const Record& record) {
    std::string out =
        std::to_string(record.key.size()) + ' ' + std::to_string(record.payload.size()) + '\n';
    out.reserve(out.size() + record.key.size() + record.payload.size() + 1);
    out += record.key;
    out += record.payload;
    out += '\n';
    return out;
}

bool preadAll(int fd, char* data, std::size_t size, std::uint64_t offset) {
    while (size > 0) {
        const ssize_t n = ::pread(fd, data, size, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
        offset += static_cast<std::uint64_t>(n);
    }
    return true;
}

bool writeAll(int fd, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

bool MemoryBacklog::append(const Record& record) {
    const std::uint64_t size = record.key.size() + record.payload.size();
    std::lock_guard lock(mutex_);
    if (bytes_ + size > maxBytes_) {
        return false;
    }
    records_.push_back(record);
    bytes_ += size;
    return true;
}

std::optional<Record> MemoryBacklog::front() {
    std::lock_guard lock(mutex_);
    if (records_.empty()) {
        return std::nullopt;
    }
    return records_.front();
}

void MemoryBacklog::popFront() {
    std::lock_guard lock(mutex_);
    if (!records_.empty()) {
        bytes_ -= std::min<std::uint64_t>(
            bytes_, records_.front().key.size() + records_.front().payload.size());
        records_.pop_front();
    }
}

std::uint64_t MemoryBacklog::records() const {
    std::lock_guard lock(mutex_);
    return records_.size();
}

std::uint64_t MemoryBacklog::bytes() const {
    std::lock_guard lock(mutex_);
    return bytes_;
}

DiskBuffer::DiskBuffer(fs::path dir, std::uint64_t maxBytes, std::uint64_t segmentBytes)
    : dir_(std::move(dir)),
      maxBytes_(maxBytes),
      segmentBytes_(std::max<std::uint64_t>(segmentBytes, 4096)) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec || !fs::is_directory(dir_)) {
        throw std::runtime_error("disk buffer " + dir_.string() +
                                 ": cannot create directory: " + ec.message());
    }
    std::uint64_t cursorSequence = 0;
    std::uint64_t cursorOffset = 0;
    if (std::ifstream cursor(dir_ / "cursor"); cursor) {
        cursor >> cursorSequence >> cursorOffset;
        if (!cursor) {
            cursorSequence = 0;
            cursorOffset = 0;
        }
    }
    scan(cursorSequence, cursorOffset);
}

DiskBuffer::~DiskBuffer() {
    std::lock_guard lock(mutex_);
    writeCursor();
    if (writeFd_ >= 0) {
        ::close(writeFd_);
    }
    if (readFd_ >= 0) {
        ::close(readFd_);
    }
}

fs::path DiskBuffer::segmentPath(std::uint64_t sequence) const {
    char name[32];
    std::snprintf(name, sizeof name, "%020llu.seg", static_cast<unsigned long long>(sequence));
    return dir_ / name;
}

void DiskBuffer::scan(std::uint64_t cursorSequence, std::uint64_t cursorOffset) {
    std::vector<std::uint64_t> sequences;
    for (const auto& entry : fs::directory_iterator(dir_)) {
        const std::string name = entry.path().filename().string();
        if (name.size() == 24 && name.ends_with(".seg") &&
            std::all_of(name.begin(), name.begin() + 20,
                        [](char c) { return c >= '0' && c <= '9'; })) {
            sequences.push_back(std::stoull(name.substr(0, 20)));
        }
    }
    std::sort(sequences.begin(), sequences.end());
    nextSequence_ = cursorSequence + 1;
    for (const std::uint64_t sequence : sequences) {
        std::error_code ec;
        nextSequence_ = std::max(nextSequence_, sequence + 1);
        if (sequence < cursorSequence) {  // consumed before the last cursor write
            fs::remove(segmentPath(sequence), ec);
            continue;
        }
        const int fd = ::open(segmentPath(sequence).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        const std::uint64_t fileSize = fs::file_size(segmentPath(sequence), ec);
        const std::uint64_t start = sequence == cursorSequence ? cursorOffset : 0;
        std::uint64_t offset = 0;
        std::uint64_t count = 0;
        std::uint64_t counted = 0;
        std::uint64_t next = 0;
        while (offset < fileSize && readAt(fd, offset, fileSize, next)) {
            if (offset >= start) {
                ++count;
                counted += next - offset;
            }
            offset = next;
        }
        ::close(fd);
        if (count == 0) {
            fs::remove(segmentPath(sequence), ec);
            continue;
        }
        if (segments_.empty()) {
            readOffset_ = start;
        }
        segments_.push_back(Segment{sequence, offset});  // a torn tail is left out of `size`
        records_ += count;
        bytes_ += counted;
    }
}

std::optional<Record> DiskBuffer::readAt(int fd, std::uint64_t offset, std::uint64_t limit,
                                         std::uint64_t& next) const {
    if (offset >= limit) {
        return std::nullopt;
    }
    char header[kHeaderMax];
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(kHeaderMax, limit - offset));
    if (!preadAll(fd, header, want, offset)) {
        return std::nullopt;
    }
    const void* newline = std::memchr(header, '\n', want);
    if (newline == nullptr) {
        return std::nullopt;
    }
    const std::size_t headerSize =
        static_cast<std::size_t>(static_cast<const char*>(newline) - header) + 1;
    unsigned long long keySize = 0;
    unsigned long long payloadSize = 0;
    if (std::sscanf(header, "%llu %llu", &keySize, &payloadSize) != 2) {
        return std::nullopt;
    }
    const std::uint64_t total = headerSize + keySize + payloadSize + 1;
    if (offset + total > limit) {
        return std::nullopt;
    }
    std::string body(static_cast<std::size_t>(keySize + payloadSize + 1), '\0');
    if (!preadAll(fd, body.data(), body.size(), offset + headerSize) || body.back() != '\n') {
        return std::nullopt;
    }
    Record record;
    record.key = body.substr(0, static_cast<std::size_t>(keySize));
    record.payload =
        body.substr(static_cast<std::size_t>(keySize), static_cast<std::size_t>(payloadSize));
    next = offset + total;
    return record;
}

bool DiskBuffer::openWriter() {
    const std::uint64_t sequence = nextSequence_++;
    const int fd = ::open(segmentPath(sequence).c_str(),
                          O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        lastError_ = segmentPath(sequence).string() + ": " + std::strerror(errno);
        return false;
    }
    if (writeFd_ >= 0) {
        ::close(writeFd_);
    }
    writeFd_ = fd;
    segments_.push_back(Segment{sequence, 0});
    return true;
}

bool DiskBuffer::append(const Record& record) {
    const std::string framed = frame(record);
    std::lock_guard lock(mutex_);
    if (bytes_ + framed.size() > maxBytes_) {
        return false;
    }
    if (writeFd_ < 0 || segments_.back().size >= segmentBytes_) {
        if (!openWriter()) {
            return false;
        }
    }
    Segment& segment = segments_.back();
    if (!writeAll(writeFd_, framed)) {
        lastError_ = segmentPath(segment.sequence).string() + ": write: " + std::strerror(errno);
        // Cut what a partial write left, so the segment stays a run of whole records.
        if (::ftruncate(writeFd_, static_cast<off_t>(segment.size)) != 0) {
            ::close(writeFd_);
            writeFd_ = -1;
        }
        return false;
    }
    segment.size += framed.size();
    ++records_;
    bytes_ += framed.size();
    return true;
}

std::optional<Record> DiskBuffer::front() {
    std::lock_guard lock(mutex_);
    if (cached_) {
        return cached_;
    }
    while (!segments_.empty()) {
        const Segment& segment = segments_.front();
        if (readOffset_ < segment.size) {
            if (readFd_ < 0 || readSequence_ != segment.sequence) {
                if (readFd_ >= 0) {
                    ::close(readFd_);
                }
                readFd_ = ::open(segmentPath(segment.sequence).c_str(), O_RDONLY | O_CLOEXEC);
                readSequence_ = segment.sequence;
                if (readFd_ < 0) {
                    lastError_ =
                        segmentPath(segment.sequence).string() + ": " + std::strerror(errno);
                }
            }
            std::uint64_t next = 0;
            if (readFd_ >= 0) {
                if (auto record = readAt(readFd_, readOffset_, segment.size, next)) {
                    cached_ = std::move(record);
                    cachedNext_ = next;
                    return cached_;
                }
            }
            // Unreadable: give up on the rest of this segment rather than stall forever.
            lastError_ = segmentPath(segment.sequence).string() + ": unreadable record skipped";
            bytes_ -= std::min(bytes_, segment.size - readOffset_);
            records_ -= std::min<std::uint64_t>(records_, 1);
        } else if (segments_.size() == 1 && writeFd_ >= 0) {
            return std::nullopt;  // the segment being written is consumed: nothing else on disk
        }
        dropFrontSegment();
    }
    records_ = 0;
    bytes_ = 0;
    return std::nullopt;
}

void DiskBuffer::dropFrontSegment() {
    const std::uint64_t sequence = segments_.front().sequence;
    if (readFd_ >= 0 && readSequence_ == sequence) {
        ::close(readFd_);
        readFd_ = -1;
    }
    if (segments_.size() == 1 && writeFd_ >= 0) {
        ::close(writeFd_);
        writeFd_ = -1;
    }
    std::error_code ec;
    fs::remove(segmentPath(sequence), ec);
    segments_.erase(segments_.begin());
    readOffset_ = 0;
}

void DiskBuffer::popFront() {
    std::lock_guard lock(mutex_);
    if (!cached_) {
        return;
    }
    bytes_ -= std::min(bytes_, cachedNext_ - readOffset_);
    records_ -= std::min<std::uint64_t>(records_, 1);
    readOffset_ = cachedNext_;
    cached_.reset();
    if (readOffset_ >= segments_.front().size) {
        // A fully consumed segment goes, even the one being written (the next append starts a
        // new one), so an idle buffer holds no files.
        dropFrontSegment();
        writeCursor();
        popsSinceCursor_ = 0;
    } else if (++popsSinceCursor_ >= kCursorEvery) {
        writeCursor();
        popsSinceCursor_ = 0;
    }
}

std::uint64_t DiskBuffer::records() const {
    std::lock_guard lock(mutex_);
    return records_;
}

std::uint64_t DiskBuffer::bytes() const {
    std::lock_guard lock(mutex_);
    return bytes_;
}

void DiskBuffer::sync() {
    std::lock_guard lock(mutex_);
    writeCursor();
}

std::string DiskBuffer::lastError() const {
    std::lock_guard lock(mutex_);
    return lastError_;
}

void DiskBuffer::writeCursor() {
    const std::uint64_t sequence = segments_.empty() ? 0 : segments_.front().sequence;
    const std::uint64_t offset = segments_.empty() ? 0 : readOffset_;
    const fs::path temporary = dir_ / "cursor.tmp";
    {
        std::ofstream out(temporary, std::ios::trunc);
        out << sequence << ' ' << offset << '\n';
        if (!out) {
            lastError_ = temporary.string() + ": cannot write the cursor";
            return;
        }
    }
    std::error_code ec;
    fs::rename(temporary, dir_ / "cursor", ec);
    if (ec) {
        lastError_ = (dir_ / "cursor").string() + ": " + ec.message();
    }
}

}  // namespace tlsgate::siem
