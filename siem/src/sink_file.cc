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
    if (fd_ < 0) {
        return SendResult::Failed;
    }
    std::string line = record.payload;
    line += '\n';
    if (size_ > 0 && size_ + line.size() > destination_.rotateBytes && !rotate()) {
        return SendResult::Failed;
    }
    std::size_t done = 0;
    while (done < line.size()) {
        const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            setError(destination_.path + ": write: " + std::strerror(errno));
            // Cut a partial line so the file stays whole lines; the record is retried.
            if (done > 0 && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
                setError(destination_.path + ": truncate: " + std::strerror(errno));
            }
            ::close(fd_);
            fd_ = -1;
            return SendResult::Failed;
        }
        done += static_cast<std::size_t>(n);
    }
    size_ += line.size();
    return SendResult::Sent;
}

void FileSink::close(Deadline /*deadline*/) {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

}  // namespace tlsgate::siem
