// The file sink: JSON lines appended to a file rotated by size, on the destination's sender
// thread. Errors are SendResult::Failed / open() false with lastError().
#include "tlsgate/siem/sink_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace tlsgate::siem {

FileSink::FileSink(const DestinationSettings& destination) : destination_(destination) {}

FileSink::~FileSink() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

bool FileSink::open() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
    fd_ = ::open(destination_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd_ < 0) {
        setError(destination_.path + ": " + std::strerror(errno));
        return false;
    }
    struct stat st {};
    size_ = ::fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    return true;
}

bool FileSink::rotate() {
    namespace fs = std::filesystem;
    ::close(fd_);
    fd_ = -1;
    const std::string& path = destination_.path;
    std::error_code ec;
    if (destination_.keepFiles == 0) {
        fs::remove(path, ec);
    } else {
        fs::remove(path + "." + std::to_string(destination_.keepFiles), ec);
        for (int i = destination_.keepFiles - 1; i >= 1; --i) {
            fs::rename(path + "." + std::to_string(i), path + "." + std::to_string(i + 1), ec);
        }
        fs::rename(path, path + ".1", ec);
        if (ec) {
            setError(path + ": rotate: " + ec.message());
        }
    }
    return open();
}

SendResult FileSink::send(const Record& record) {
    const BatchResult result = sendBatch(std::span(&record, 1));
    return result.sent == 1 ? SendResult::Sent : result.stop;
}

BatchResult FileSink::sendBatch(std::span<const Record> records) {
    constexpr std::size_t kWriteChunk = 64 << 10;
    BatchResult result;
    std::string chunk;
    std::size_t next = 0;  // the first record not yet in a chunk
    while (next < records.size()) {
        if (fd_ < 0) {
            result.stop = SendResult::Failed;
            return result;
        }
        // One write per chunk of whole lines; a chunk never runs past the rotation size, except
        // a single line that alone does (it starts the next file).
        chunk.clear();
        const std::size_t first = next;
        while (next < records.size()) {
            const std::size_t line = records[next].payload.size() + 1;
            if (!chunk.empty() && (chunk.size() >= kWriteChunk ||
                                   size_ + chunk.size() + line > destination_.rotateBytes)) {
                break;
            }
            chunk += records[next].payload;
            chunk += '\n';
            ++next;
        }
        if (size_ > 0 && size_ + chunk.size() > destination_.rotateBytes && !rotate()) {
            result.stop = SendResult::Failed;
            return result;
        }
        if (!writeWhole(chunk)) {
            result.stop = SendResult::Failed;
            return result;
        }
        result.sent += next - first;
    }
    return result;
}

bool FileSink::writeWhole(std::string_view lines) {
    std::size_t done = 0;
    while (done < lines.size()) {
        const ssize_t n = ::write(fd_, lines.data() + done, lines.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            setError(destination_.path + ": write: " + std::strerror(errno));
            // Cut what was written of these lines, so the file stays whole lines and none of
            // them is in it twice once retried.
            if (done > 0 && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
                setError(destination_.path + ": truncate: " + std::strerror(errno));
            }
            ::close(fd_);
            fd_ = -1;
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    size_ += lines.size();
    return true;
}

void FileSink::close(Deadline /*deadline*/) {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

}  // namespace tlsgate::siem
