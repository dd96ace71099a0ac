// Helpers shared by the libFuzzer targets: splitting an input into the chunks a peer would write,
// a per-process scratch directory, and the check that aborts with a readable message. Single
// thread (libFuzzer's); a failed invariant prints what broke and calls abort(), which libFuzzer
// reports as a crash and saves the input.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace tlsgate::fuzz {

/// Aborts (a libFuzzer crash) with `what` when `condition` is false.
inline void check(bool condition, const char* what, std::string_view detail = {}) {
    if (!condition) {
        std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
        if (!detail.empty()) {
            std::fprintf(stderr, "detail (%zu bytes): ", detail.size());
            for (const char ch : detail.substr(0, 512)) {
                const auto c = static_cast<unsigned char>(ch);
                if (c >= 0x20 && c < 0x7f && c != '\\') {
                    std::fputc(c, stderr);
                } else {
                    std::fprintf(stderr, "\\x%02x", c);
                }
            }
            std::fputc('\n', stderr);
        }
        std::abort();
    }
}

/// Cuts `stream` into the pieces successive read() calls would return. `key` (an input byte)
/// picks the pattern, so the fuzzer explores split points: 0 gives one piece; otherwise lengths
/// come from a small generator seeded by `key`, short (1-3 bytes: every boundary, a CR at the end
/// of one read and its LF in the next), medium (1-17) or long (1-600).
inline std::vector<std::string_view> splitIntoChunks(std::string_view stream, std::uint8_t key) {
    std::vector<std::string_view> chunks;
    if (key == 0) {
        if (!stream.empty()) {
            chunks.push_back(stream);
        }
        return chunks;
    }
    static constexpr std::size_t kSpans[] = {3, 17, 600};
    const std::size_t span = kSpans[key % 3];
    std::uint32_t state = 0x9e3779b9u ^ (static_cast<std::uint32_t>(key) * 0x01000193u);
    while (!stream.empty()) {
        state ^= state << 13;  // xorshift32
        state ^= state >> 17;
        state ^= state << 5;
        const std::size_t length = std::min(stream.size(), 1 + state % span);
        chunks.push_back(stream.substr(0, length));
        stream.remove_prefix(length);
    }
    return chunks;
}

/// A scratch directory made once per process (under $TLSGATE_FUZZ_SCRATCH, else /dev/shm when
/// there is one: the spool fsyncs) and removed at a normal exit (a crash leaves it behind).
class ScratchDirectory {
  public:
    ScratchDirectory() {
        std::error_code ec;
        const char* chosen = std::getenv("TLSGATE_FUZZ_SCRATCH");  // scripts/fuzz.sh sets it
        std::string base = chosen != nullptr && *chosen != '\0' ? chosen : "/dev/shm";
        if (!std::filesystem::is_directory(base, ec) || ::access(base.c_str(), W_OK) != 0) {
            const char* tmp = std::getenv("TMPDIR");
            base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
        }
        std::string pattern = base + "/tlsgate-fuzz-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::perror("mkdtemp");
            std::abort();
        }
        path_ = pattern;
    }
    ~ScratchDirectory() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    ScratchDirectory(const ScratchDirectory&) = delete;
    ScratchDirectory& operator=(const ScratchDirectory&) = delete;

    const std::filesystem::path& path() const { return path_; }

    /// Writes `bytes` to `name` in the directory (replacing it) and returns the full path.
    std::string write(const std::string& name, std::string_view bytes) const {
        const std::filesystem::path file = path_ / name;
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        out.close();
        check(out.good(), "cannot write the scratch file");
        return file.string();
    }

  private:
    std::filesystem::path path_;
};

}  // namespace tlsgate::fuzz
