// The gateway's log output: one line per message, written to a descriptor (stderr) whole.
#pragma once

#include <Poco/Channel.h>
#include <Poco/Message.h>
#include <unistd.h>

namespace tlsgate::gateway {

/// Writes each message's text and a newline with one write(2) and no lock. Lines from concurrent
/// session threads never interleave (one write to a file or a pipe, up to PIPE_BUF, is whole),
/// and no session waits for another's log line: Poco's ConsoleChannel holds a mutex around two
/// writes per line, which every session contended for (3 lines per session).
class LineChannel final : public Poco::Channel {
  public:
    explicit LineChannel(int fd = STDERR_FILENO) : fd_(fd) {}
    void log(const Poco::Message& message) override;

  private:
    const int fd_;
};

}  // namespace tlsgate::gateway
