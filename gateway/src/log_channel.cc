// LineChannel: a message and its newline in one write; a short write (a full pipe, a signal) is
// completed, a failed one is dropped (logging never stops the mail path).
#include "tlsgate/gateway/log_channel.h"

#include <cerrno>
#include <string>

namespace tlsgate::gateway {

void LineChannel::log(const Poco::Message& message) {
    std::string line;
    line.reserve(message.getText().size() + 1);
    line += message.getText();
    line += '\n';
    const char* data = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        const ssize_t n = ::write(fd_, data, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        data += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace tlsgate::gateway
