// Each format's escaping or replacement rule on hostile text, as exact strings; failures are
// gtest assertions.
#include <gtest/gtest.h>

#include "tlsgate/siem/context.h"
#include "tlsgate/siem/escaping.h"
#include "tlsgate/siem/json_value.h"

namespace tlsgate::siem {
namespace {

// Every character a format treats specially, a tab, a CR LF, and non-ASCII UTF-8 ("é", "€").
const std::string kHostile = "a|b=c\"d]e\\f\r\ng\th^i \xC3\xA9\xE2\x82\xAC";

TEST(SiemEscaping, Utf8InvalidBytesBecomeReplacementCharacters) {
    EXPECT_EQ(sanitizeUtf8("ok \xC3\xA9"), "ok \xC3\xA9");
    EXPECT_EQ(sanitizeUtf8("\xC3\x28"), "\xEF\xBF\xBD(");             // truncated 2-byte sequence
    EXPECT_EQ(sanitizeUtf8("\x80"), "\xEF\xBF\xBD");                  // stray continuation byte
    EXPECT_EQ(sanitizeUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
    EXPECT_EQ(sanitizeUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
    EXPECT_EQ(sanitizeUtf8("\xF4\x90\x80\x80").size(), 12u);          // above U+10FFFF: 4 x U+FFFD
    EXPECT_EQ(sanitizeUtf8("\xF0\x9F\x94\x92"), "\xF0\x9F\x94\x92");  // U+1F512 passes
}

TEST(SiemEscaping, Json) {
    EXPECT_EQ(jsonQuote(kHostile), "\"a|b=c\\\"d]e\\\\f\\r\\ng\\th^i \xC3\xA9\xE2\x82\xAC\"");
    EXPECT_EQ(jsonQuote(std::string("\x01\x1F\x7F", 3)), "\"\\u0001\\u001f\x7F\"");
    EXPECT_EQ(jsonQuote(std::string("nul\0", 4)), "\"nul\\u0000\"");
}

TEST(SiemEscaping, CefHeader) {
    EXPECT_EQ(escapeCefHeader(kHostile), "a\\|b=c\"d]e\\\\f  g h^i \xC3\xA9\xE2\x82\xAC");
}

TEST(SiemEscaping, CefExtensionValue) {
    EXPECT_EQ(escapeCefValue(kHostile), "a|b\\=c\"d]e\\\\f\\r\\ng\th^i \xC3\xA9\xE2\x82\xAC");
    EXPECT_EQ(escapeCefValue("x\x01y"), "x y");
}

TEST(SiemEscaping, LeefReplacesWhatItCannotEscape) {
    EXPECT_EQ(replaceLeef(kHostile, '\t'), "a b=c\"d]e\\f  g h^i \xC3\xA9\xE2\x82\xAC");
    EXPECT_EQ(replaceLeef(kHostile, '^'), "a b=c\"d]e\\f  g h i \xC3\xA9\xE2\x82\xAC");
}

TEST(SiemEscaping, SyslogParamValue) {
    EXPECT_EQ(escapeSdParamValue(kHostile), "a|b=c\\\"d\\]e\\\\f  g h^i \xC3\xA9\xE2\x82\xAC");
}

TEST(SiemEscaping, SyslogNames) {
    EXPECT_EQ(sdName("tlsgate@32473"), "tlsgate@32473");
    EXPECT_EQ(sdName("a b=c]d\"e\xC3\xA9"), "a_b_c_d_e__");
    EXPECT_EQ(sdName(std::string(40, 'n')).size(), 32u);
    EXPECT_EQ(syslogHeaderField("", 48), "-");
    EXPECT_EQ(syslogHeaderField("mx 1\xC3\xA9", 48), "mx_1__");
    EXPECT_EQ(syslogHeaderField(std::string(300, 'h'), 255).size(), 255u);
}

TEST(SiemEscaping, JsonValueKeepsOrderAndNests) {
    JsonValue doc = JsonValue::object();
    doc.set("b", 1)
        .set("a.y", "two")
        .set("a.x", true)
        .set("b", std::uint64_t{18446744073709551615u});
    doc.set("list", JsonValue::array().push("x").push(std::int64_t{-5}));
    doc.setIfNotEmpty("skipped", "");
    EXPECT_EQ(doc.dump(),
              "{\"b\":18446744073709551615,\"a\":{\"y\":\"two\",\"x\":true},\"list\":[\"x\",-5]}");
}

TEST(SiemEscaping, FacilityNames) {
    EXPECT_EQ(syslogFacilityFromName("mail"), SyslogFacility::Mail);
    EXPECT_EQ(syslogFacilityFromName("local7"), SyslogFacility::Local7);
    EXPECT_EQ(syslogFacilityFromName("nope"), std::nullopt);
}

}  // namespace
}  // namespace tlsgate::siem
