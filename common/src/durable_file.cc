// Durable file primitives; errors throw std::system_error naming the operation and the path.
#include "tlsgate/common/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace tlsgate {

namespace {
[[noreturn]] void fail(const std::string& operation, const std::filesystem::path& path, int error) {
    throw std::system_error(error, std::generic_category(), path.string() + ": " + operation);
}
}  // namespace

UniqueFd::~UniqueFd() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

int writeAll(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        if (n == 0) {
            return EIO;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return 0;
}

void syncDirectory(const std::filesystem::path& directory) {
    UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) {
        fail("cannot open directory", directory, errno);
    }
    if (::fsync(fd.get()) != 0) {
        fail("cannot sync directory", directory, errno);
    }
}

void writeFileAtomic(const std::filesystem::path& target, std::string_view content, mode_t mode) {
    std::filesystem::path temporary = target;
    temporary += ".tmp." + std::to_string(::getpid());
    UniqueFd fd(
        ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
    if (fd.get() < 0) {
        fail("cannot create", temporary, errno);
    }
    const auto abandon = [&](const char* operation, int error) {
        ::unlink(temporary.c_str());
        fail(operation, temporary, error);
    };
    if (::fchmod(fd.get(), mode) != 0) {  // the umask must not widen or narrow it
        abandon("cannot set mode", errno);
    }
    if (const int error = writeAll(fd.get(), content); error != 0) {
        abandon("cannot write", error);
    }
    if (::fsync(fd.get()) != 0) {
        abandon("cannot sync", errno);
    }
    if (::close(fd.release()) != 0) {
        abandon("cannot close", errno);
    }
    if (::rename(temporary.c_str(), target.c_str()) != 0) {
        abandon("cannot rename into place", errno);
    }
    syncDirectory(target.parent_path());
}

}  // namespace tlsgate
