// LineChannel: every log line arrives whole, even from many threads at once.
#include "tlsgate/gateway/log_channel.h"

#include <Poco/AutoPtr.h>
#include <Poco/Logger.h>
#include <fcntl.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "test_ca.h"

namespace tlsgate::gateway {
namespace {

TEST(LineChannel, ConcurrentThreadsWriteWholeLinesAndLoseNone) {
    testing::TempDir dir;
    const std::string path = dir.file("log");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    Poco::AutoPtr<LineChannel> channel(new LineChannel(fd));
    Poco::Logger& log =
        Poco::Logger::create("test.linechannel", channel, Poco::Message::PRIO_INFORMATION);
    constexpr int kThreads = 4;
    constexpr int kEach = 2000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&log, t] {
            // Lines of different lengths, some longer than a typical buffer chunk.
            for (int i = 0; i < kEach; ++i) {
                log.information("thread " + std::to_string(t) + " line " + std::to_string(i) + " " +
                                std::string(static_cast<std::size_t>(i % 700), 'x'));
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    log.debug("below the level: not written");
    ::close(fd);
    Poco::Logger::destroy("test.linechannel");

    std::ifstream in(path);
    const std::regex whole("thread ([0-9]) line ([0-9]+) (x*)");
    std::map<int, int> next;
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
        ++lines;
        std::smatch m;
        ASSERT_TRUE(std::regex_match(line, m, whole)) << "a broken line: " << line.substr(0, 80);
        const int t = std::stoi(m[1]);
        const int i = std::stoi(m[2]);
        EXPECT_EQ(m[3].length(), static_cast<std::size_t>(i % 700));
        EXPECT_EQ(i, next[t]) << "thread " << t << " out of order";
        next[t] = i + 1;
    }
    EXPECT_EQ(lines, kThreads * kEach);
}

}  // namespace
}  // namespace tlsgate::gateway
