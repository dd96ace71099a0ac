// The file sink: one record per line, appended to a local file rotated by size (path -> path.1
// -> ... -> path.N). Driven by one sender thread; failures are SendResult::Failed + lastError().
#pragma once

#include <cstdint>
#include <string>

#include "tlsgate/siem/sink.h"

namespace tlsgate::siem {

class FileSink final : public Sink {
  public:
    explicit FileSink(const DestinationSettings& destination);
    ~FileSink() override;
    bool open() override;
    bool isOpen() const override { return fd_ >= 0; }
    SendResult send(const Record& record) override;
    /// Whole lines in writes of up to 64 KiB, rotating between two writes.
    BatchResult sendBatch(std::span<const Record> records) override;
    void close(Deadline deadline) override;

  private:
    bool rotate();
    /// Appends `lines`; on failure cuts the file back to whole lines, closes it and returns false.
    bool writeWhole(std::string_view lines);

    const DestinationSettings destination_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
};

}  // namespace tlsgate::siem
