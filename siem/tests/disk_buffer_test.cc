// The disk buffer: order across segments, the byte bound, and what survives a reopen.
// Failures are gtest assertions.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_ca.h"
#include "tlsgate/siem/disk_buffer.h"

namespace tlsgate::siem {
namespace {

Record numbered(int n) {
    return Record{"key" + std::to_string(n),
                  "payload with\nnewline and \"quotes\" #" + std::to_string(n)};
}

TEST(SiemSinkDiskBuffer, OrderAcrossSegments) {
    tlsgate::testing::TempDir dir;
    DiskBuffer buffer(dir.path(), 1 << 20, 4096);
    for (int i = 0; i < 500; ++i) {
        ASSERT_TRUE(buffer.append(numbered(i)));
    }
    EXPECT_EQ(buffer.records(), 500u);
    for (int i = 0; i < 500; ++i) {
        auto record = buffer.front();
        ASSERT_TRUE(record);
        EXPECT_EQ(*record, numbered(i));
        buffer.popFront();
        if (i == 200) {
            ASSERT_TRUE(buffer.append(numbered(500)));  // appends while replaying go behind
        }
    }
    EXPECT_EQ(*buffer.front(), numbered(500));
    buffer.popFront();
    EXPECT_FALSE(buffer.front());
    EXPECT_EQ(buffer.records(), 0u);
    EXPECT_EQ(buffer.bytes(), 0u);
    std::size_t segments = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
        segments += entry.path().extension() == ".seg" ? 1 : 0;
    }
    EXPECT_EQ(segments, 0u);  // consumed segments are deleted
}

TEST(SiemSinkDiskBuffer, BoundedByBytes) {
    tlsgate::testing::TempDir dir;
    DiskBuffer buffer(dir.path(), 2000, 4096);
    int kept = 0;
    for (int i = 0; i < 100; ++i) {
        kept += buffer.append(numbered(i)) ? 1 : 0;
    }
    EXPECT_GT(kept, 10);
    EXPECT_LT(kept, 100);
    EXPECT_LE(buffer.bytes(), 2000u);
    EXPECT_EQ(buffer.records(), static_cast<std::uint64_t>(kept));
}

TEST(SiemSinkDiskBuffer, ReopenResumesAtTheCursor) {
    tlsgate::testing::TempDir dir;
    {
        DiskBuffer buffer(dir.path(), 1 << 20, 4096);
        for (int i = 0; i < 300; ++i) {
            ASSERT_TRUE(buffer.append(numbered(i)));
        }
        for (int i = 0; i < 120; ++i) {
            buffer.front();
            buffer.popFront();
        }
    }
    DiskBuffer again(dir.path(), 1 << 20, 4096);
    EXPECT_EQ(again.records(), 180u);
    ASSERT_TRUE(again.append(numbered(300)));
    for (int i = 120; i <= 300; ++i) {
        auto record = again.front();
        ASSERT_TRUE(record) << i;
        EXPECT_EQ(*record, numbered(i));
        again.popFront();
    }
    EXPECT_TRUE(again.empty());
}

TEST(SiemSinkDiskBuffer, TornTailIsSkipped) {
    tlsgate::testing::TempDir dir;
    {
        DiskBuffer buffer(dir.path(), 1 << 20, 1 << 20);
        ASSERT_TRUE(buffer.append(numbered(1)));
        ASSERT_TRUE(buffer.append(numbered(2)));
    }
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
        if (entry.path().extension() == ".seg") {
            std::filesystem::resize_file(entry.path(),
                                         std::filesystem::file_size(entry.path()) - 5);
        }
    }
    DiskBuffer again(dir.path(), 1 << 20, 1 << 20);
    EXPECT_EQ(again.records(), 1u);
    EXPECT_EQ(*again.front(), numbered(1));
}

}  // namespace
}  // namespace tlsgate::siem
