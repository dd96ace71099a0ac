// Durable files, shared by the certificate store and the spool: an owned descriptor, a directory
// fsync, and replacing a file atomically (temporary name, fsync, rename, directory fsync).
// Failures throw std::system_error whose what() names the operation and the path.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string_view>
#include <utility>

namespace tlsgate {

/// Closes a file descriptor on scope exit.
class UniqueFd {
  public:
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd();
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }

  private:
    int fd_;
};

/// Writes all of `bytes`, resuming after EINTR and short writes; returns 0 or an errno value.
int writeAll(int fd, std::string_view bytes);

/// Makes renames and unlinks in `directory` durable.
void syncDirectory(const std::filesystem::path& directory);

/// Replaces `target` with `content` (mode `mode`, whatever the umask) so that a crash leaves the
/// old or the new file, never a mixture: temporary name, fsync, rename, directory fsync.
void writeFileAtomic(const std::filesystem::path& target, std::string_view content, mode_t mode);

}  // namespace tlsgate
