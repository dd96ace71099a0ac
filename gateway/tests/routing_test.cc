// Unit tests for routing: route target parsing, the route table, MX answer parsing from hand-built
// DNS responses and the MX -> candidates rules. No network: only /etc/hosts ("localhost"). gtest.
#include "tlsgate/gateway/routing.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "../src/dns_parse.h"

namespace tlsgate::gateway {
namespace {

// ---- RouteTarget ---------------------------------------------------------------------------

struct ParseCase {
    std::string text;
    bool ok;
    std::string host;
    std::uint16_t port;
    std::string printed;
};

TEST(RoutingRouteTarget, ParsesTable) {
    const std::vector<ParseCase> cases{
        {"mx.example.com", true, "mx.example.com", 25, "mx.example.com:25"},
        {"MX.Example.COM.", true, "mx.example.com", 25, "mx.example.com:25"},
        {"mx.example.com:2525", true, "mx.example.com", 2525, "mx.example.com:2525"},
        {"[mx.example.com]", true, "mx.example.com", 25, "mx.example.com:25"},
        {"[mx.example.com]:587", true, "mx.example.com", 587, "mx.example.com:587"},
        {"localhost", true, "localhost", 25, "localhost:25"},
        {"[192.0.2.1]", true, "192.0.2.1", 25, "[192.0.2.1]:25"},
        {"192.0.2.1:2526", true, "192.0.2.1", 2526, "[192.0.2.1]:2526"},
        {"[192.0.2.1]:65535", true, "192.0.2.1", 65535, "[192.0.2.1]:65535"},
        {"[2001:db8::1]:2525", true, "2001:db8::1", 2525, "[2001:db8::1]:2525"},
        {"[2001:DB8::1]", true, "2001:db8::1", 25, "[2001:db8::1]:25"},
        {"[IPv6:2001:db8::1]:26", true, "2001:db8::1", 26, "[2001:db8::1]:26"},
        {"2001:db8::1", true, "2001:db8::1", 25, "[2001:db8::1]:25"},
        {"", false, "", 0, ""},
        {"mx.example.com:", false, "", 0, ""},
        {"mx.example.com:0", false, "", 0, ""},
        {"mx.example.com:65536", false, "", 0, ""},
        {"mx.example.com:25x", false, "", 0, ""},
        {"mx.example.com:+25", false, "", 0, ""},
        {"mx.example.com:-1", false, "", 0, ""},
        {"mx.example.com:25:26", false, "", 0, ""},
        {":25", false, "", 0, ""},
        {"[]", false, "", 0, ""},
        {"[]:25", false, "", 0, ""},
        {"[192.0.2.1", false, "", 0, ""},
        {"[192.0.2.1]25", false, "", 0, ""},
        {"[192.0.2.1]:", false, "", 0, ""},
        {"[[192.0.2.1]]", false, "", 0, ""},
        {"mx example.com", false, "", 0, ""},
        {"mx.example.com\n", false, "", 0, ""},
        {"-mx.example.com", false, "", 0, ""},
        {"mx..example.com", false, "", 0, ""},
        {"mx_1.example.com", false, "", 0, ""},
        {"999.1.1.1", false, "", 0, ""},
        {"[IPv6:192.0.2.1]", false, "", 0, ""},
        {"2001:db8::1:2525x", false, "", 0, ""},
        {std::string(64, 'a') + ".example", false, "", 0, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE("input: \"" + c.text + "\"");
        const auto target = RouteTarget::parse(c.text);
        ASSERT_EQ(target.has_value(), c.ok);
        if (!c.ok) {
            continue;
        }
        EXPECT_EQ(target->host, c.host);
        EXPECT_EQ(target->port, c.port);
        EXPECT_EQ(target->toString(), c.printed);
        // What toString prints parses back to the same target.
        const auto again = RouteTarget::parse(target->toString());
        ASSERT_TRUE(again.has_value());
        EXPECT_EQ(again->host, target->host);
        EXPECT_EQ(again->port, target->port);
    }
}

// ---- Router --------------------------------------------------------------------------------

Router testRouter(bool withDefault) {
    std::map<std::string, RouteTarget> routes{
        {"literal.example", *RouteTarget::parse("[127.0.0.1]:2526")},
        {".sub.example", *RouteTarget::parse("[::1]:2527")},
        {"exact.sub.example", *RouteTarget::parse("[127.0.0.3]")},
        {"named.example", *RouteTarget::parse("localhost:2528")},
    };
    std::optional<RouteTarget> defaultRoute;
    if (withDefault) {
        defaultRoute = RouteTarget::parse("[192.0.2.25]:587");
    }
    return Router(std::move(routes), std::move(defaultRoute));
}

TEST(RoutingRouter, ExactRouteToAddressLiteral) {
    const auto resolution = testRouter(true).resolve("literal.example");
    ASSERT_EQ(resolution.candidates.size(), 1u);
    EXPECT_EQ(resolution.candidates[0].address, "127.0.0.1");
    EXPECT_EQ(resolution.candidates[0].host, "127.0.0.1");
    EXPECT_EQ(resolution.candidates[0].port, 2526);
    EXPECT_TRUE(resolution.error.empty());
    EXPECT_FALSE(resolution.permanent);
}

TEST(RoutingRouter, ParentDomainRouteCoversSubdomainsOnly) {
    const Router router = testRouter(false);
    for (const std::string domain : {"a.sub.example", "x.y.sub.example", "A.Sub.Example."}) {
        SCOPED_TRACE(domain);
        const auto resolution = router.resolve(domain);
        ASSERT_EQ(resolution.candidates.size(), 1u);
        EXPECT_EQ(resolution.candidates[0].address, "::1");
        EXPECT_EQ(resolution.candidates[0].port, 2527);
        EXPECT_EQ(router.destinationOf(domain), "[::1]:2527");
    }
    // An exact key wins over the parent key.
    const auto exact = router.resolve("exact.sub.example");
    ASSERT_EQ(exact.candidates.size(), 1u);
    EXPECT_EQ(exact.candidates[0].address, "127.0.0.3");
    EXPECT_EQ(exact.candidates[0].port, 25);
    // ".sub.example" does not cover "sub.example" itself nor "xsub.example".
    EXPECT_EQ(router.destinationOf("sub.example"), "sub.example");
    EXPECT_EQ(router.destinationOf("xsub.example"), "xsub.example");
}

TEST(RoutingRouter, DefaultRouteTakesEverythingElse) {
    const Router router = testRouter(true);
    const auto resolution = router.resolve("elsewhere.test");
    ASSERT_EQ(resolution.candidates.size(), 1u);
    EXPECT_EQ(resolution.candidates[0].address, "192.0.2.25");
    EXPECT_EQ(resolution.candidates[0].port, 587);
    EXPECT_EQ(router.destinationOf("elsewhere.test"), "[192.0.2.25]:587");
    EXPECT_EQ(router.destinationOf("literal.example"), "[127.0.0.1]:2526");
    EXPECT_EQ(router.destinationOf("named.example"), "localhost:2528");
}

TEST(RoutingRouter, RouteToHostNameUsesAddressLookupNotMx) {
    const auto resolution = testRouter(false).resolve("named.example");
    ASSERT_FALSE(resolution.candidates.empty()) << resolution.error;
    for (const auto& candidate : resolution.candidates) {
        EXPECT_EQ(candidate.host, "localhost");
        EXPECT_EQ(candidate.port, 2528);
        EXPECT_TRUE(candidate.address == "127.0.0.1" || candidate.address == "::1")
            << candidate.address;
    }
}

TEST(RoutingRouter, AddressLiteralDomainsGoToThatAddress) {
    const Router router({}, std::nullopt);
    const auto v4 = router.resolve("[192.0.2.1]");
    ASSERT_EQ(v4.candidates.size(), 1u);
    EXPECT_EQ(v4.candidates[0].address, "192.0.2.1");
    EXPECT_EQ(v4.candidates[0].port, 25);
    EXPECT_EQ(router.destinationOf("[192.0.2.1]"), "[192.0.2.1]");

    const auto v6 = router.resolve("[IPv6:2001:db8::1]");
    ASSERT_EQ(v6.candidates.size(), 1u);
    EXPECT_EQ(v6.candidates[0].address, "2001:db8::1");
}

TEST(RoutingRouter, InvalidDomainIsPermanent) {
    const Router router({}, std::nullopt);
    const auto resolution = router.resolve("bad domain");
    EXPECT_TRUE(resolution.candidates.empty());
    EXPECT_TRUE(resolution.permanent);
    EXPECT_EQ(resolution.error.rfind("5.1.2 ", 0), 0u) << resolution.error;
}

TEST(RoutingRouter, DestinationOfUnroutedDomainIsTheDomain) {
    const Router router = testRouter(false);
    EXPECT_EQ(router.destinationOf("Example.COM"), "example.com");
}

// ---- lookupAddresses -----------------------------------------------------------------------

TEST(RoutingLookup, LocalhostResolvesToLoopback) {
    std::string error;
    const auto addresses = lookupAddresses("localhost", &error);
    ASSERT_FALSE(addresses.empty()) << error;
    std::set<std::string> unique(addresses.begin(), addresses.end());
    EXPECT_EQ(unique.size(), addresses.size()) << "duplicates returned";
    for (const auto& address : addresses) {
        EXPECT_TRUE(address == "127.0.0.1" || address == "::1") << address;
    }
}

TEST(RoutingLookup, NumericHostIsReturnedAsIs) {
    EXPECT_EQ(lookupAddresses("192.0.2.7"), std::vector<std::string>{"192.0.2.7"});
    EXPECT_EQ(lookupAddresses("2001:db8::7"), std::vector<std::string>{"2001:db8::7"});
}

TEST(RoutingLookup, UnresolvableNameReportsError) {
    std::string error;
    // An empty name fails without a query (the tests have no DNS server to ask).
    const auto addresses = lookupAddresses("", &error);
    EXPECT_TRUE(addresses.empty());
    EXPECT_FALSE(error.empty());
}

// ---- MX answer parsing ---------------------------------------------------------------------

/// Builds DNS responses by hand: header, one question, answer records.
class DnsMessage {
  public:
    explicit DnsMessage(const std::string& qname, int rcode = 0) {
        put16(0x1234);                                      // id
        put16(static_cast<std::uint16_t>(0x8180 | rcode));  // QR, RD, RA, rcode
        put16(1);                                           // qdcount
        put16(0);                                           // ancount, patched by add*
        put16(0);                                           // nscount
        put16(0);                                           // arcount
        putName(qname);
        put16(15);  // MX
        put16(1);   // IN
    }
    /// An MX record owned by the question name (compression pointer 0xC00C).
    DnsMessage& addMx(int preference, const std::string& exchange, bool compressTail = false) {
        startRecord(15);
        const std::size_t lengthAt = bytes_.size();
        put16(0);
        put16(static_cast<std::uint16_t>(preference));
        if (compressTail) {
            // "<first label>" + pointer to the question name: mx1 + .example.com
            const auto dot = exchange.find('.');
            const std::string label = exchange.substr(0, dot);
            bytes_.push_back(static_cast<std::uint8_t>(label.size()));
            bytes_.insert(bytes_.end(), label.begin(), label.end());
            put16(0xC00C);
        } else {
            putName(exchange);
        }
        patchLength(lengthAt);
        return *this;
    }
    /// A CNAME record (type 5) to be skipped.
    DnsMessage& addCname(const std::string& target) {
        startRecord(5);
        const std::size_t lengthAt = bytes_.size();
        put16(0);
        putName(target);
        patchLength(lengthAt);
        return *this;
    }
    std::vector<unsigned char>& bytes() { return bytes_; }

  private:
    void put16(std::uint16_t value) {
        bytes_.push_back(static_cast<std::uint8_t>(value >> 8));
        bytes_.push_back(static_cast<std::uint8_t>(value & 0xff));
    }
    void putName(const std::string& name) {
        std::size_t start = 0;
        while (start < name.size()) {
            auto end = name.find('.', start);
            if (end == std::string::npos) {
                end = name.size();
            }
            bytes_.push_back(static_cast<std::uint8_t>(end - start));
            bytes_.insert(bytes_.end(), name.begin() + static_cast<long>(start),
                          name.begin() + static_cast<long>(end));
            start = end + 1;
        }
        bytes_.push_back(0);
    }
    void startRecord(std::uint16_t type) {
        ++answers_;
        bytes_[6] = static_cast<std::uint8_t>(answers_ >> 8);
        bytes_[7] = static_cast<std::uint8_t>(answers_ & 0xff);
        put16(0xC00C);  // owner: the question name
        put16(type);
        put16(1);  // IN
        put16(0);  // TTL
        put16(300);
    }
    void patchLength(std::size_t at) {
        const std::size_t length = bytes_.size() - at - 2;
        bytes_[at] = static_cast<std::uint8_t>(length >> 8);
        bytes_[at + 1] = static_cast<std::uint8_t>(length & 0xff);
    }

    std::vector<unsigned char> bytes_;
    std::uint16_t answers_ = 0;
};

MxLookup parse(DnsMessage& message) {
    return detail::parseMxAnswer(message.bytes().data(), message.bytes().size());
}

TEST(RoutingMxParse, SortsByPreference) {
    DnsMessage message("example.com");
    message.addMx(20, "mx2.example.com")
        .addMx(5, "MX0.Example.NET")
        .addMx(10, "mx1.example.com", true);
    const auto mx = parse(message);
    EXPECT_TRUE(mx.error.empty()) << mx.error;
    EXPECT_FALSE(mx.nxdomain);
    EXPECT_FALSE(mx.nullMx);
    const std::vector<std::pair<int, std::string>> expected{
        {5, "mx0.example.net"}, {10, "mx1.example.com"}, {20, "mx2.example.com"}};
    EXPECT_EQ(mx.hosts, expected);
}

TEST(RoutingMxParse, EqualPreferencesAreShuffledButKeptTogether) {
    std::set<std::string> firsts;
    for (int round = 0; round < 200 && firsts.size() < 2; ++round) {
        DnsMessage message("example.com");
        message.addMx(10, "a.example.com")
            .addMx(10, "b.example.com")
            .addMx(10, "c.example.com")
            .addMx(0, "primary.example.com")
            .addMx(50, "backup.example.com");
        const auto mx = parse(message);
        ASSERT_EQ(mx.hosts.size(), 5u);
        EXPECT_EQ(mx.hosts.front().second, "primary.example.com");
        EXPECT_EQ(mx.hosts.back().second, "backup.example.com");
        for (std::size_t i = 1; i <= 3; ++i) {
            EXPECT_EQ(mx.hosts[i].first, 10);
        }
        firsts.insert(mx.hosts[1].second);
    }
    EXPECT_GE(firsts.size(), 2u) << "equal-preference hosts were never reordered";
}

TEST(RoutingMxParse, NullMx) {
    DnsMessage message("nomail.example");
    message.addMx(0, "");
    const auto mx = parse(message);
    EXPECT_TRUE(mx.nullMx);
    EXPECT_TRUE(mx.hosts.empty());
    EXPECT_TRUE(mx.error.empty()) << mx.error;
}

TEST(RoutingMxParse, NullTargetBesideRealHostsIsIgnored) {
    DnsMessage message("odd.example");
    message.addMx(0, "").addMx(10, "mx.odd.example");
    const auto mx = parse(message);
    EXPECT_FALSE(mx.nullMx);
    ASSERT_EQ(mx.hosts.size(), 1u);
    EXPECT_EQ(mx.hosts[0].second, "mx.odd.example");
}

TEST(RoutingMxParse, SkipsOtherRecordTypes) {
    DnsMessage message("alias.example");
    message.addCname("real.example").addMx(10, "mx.real.example");
    const auto mx = parse(message);
    ASSERT_EQ(mx.hosts.size(), 1u);
    EXPECT_EQ(mx.hosts[0], (std::pair<int, std::string>{10, "mx.real.example"}));
}

TEST(RoutingMxParse, RcodesAndMalformedAnswers) {
    DnsMessage nx("missing.example", 3);
    EXPECT_TRUE(parse(nx).nxdomain);

    DnsMessage servfail("broken.example", 2);
    const auto failed = parse(servfail);
    EXPECT_FALSE(failed.nxdomain);
    EXPECT_NE(failed.error.find("SERVFAIL"), std::string::npos) << failed.error;

    DnsMessage empty("nomx.example");
    const auto none = parse(empty);
    EXPECT_TRUE(none.hosts.empty());
    EXPECT_TRUE(none.error.empty()) << none.error;

    DnsMessage truncated("example.com");
    truncated.addMx(10, "mx.example.com");
    truncated.bytes().resize(truncated.bytes().size() - 4);
    const auto cut = parse(truncated);
    EXPECT_FALSE(cut.error.empty());
    EXPECT_TRUE(cut.hosts.empty());

    const unsigned char garbage[] = {0x01, 0x02, 0x03};
    EXPECT_FALSE(detail::parseMxAnswer(garbage, sizeof garbage).error.empty());
}

// ---- MX lookup -> candidates ---------------------------------------------------------------

detail::AddressLookup fakeDns(std::map<std::string, std::vector<std::string>> table) {
    return [table = std::move(table)](const std::string& host, std::string* error) {
        const auto found = table.find(host);
        if (found == table.end()) {
            if (error != nullptr) {
                *error = "Name or service not known";
            }
            return std::vector<std::string>{};
        }
        return found->second;
    };
}

TEST(RoutingMxCandidates, MxHostsInPreferenceOrderWithAllAddresses) {
    MxLookup mx;
    mx.hosts = {{10, "mx1.example.com"}, {20, "mx2.example.com"}, {30, "gone.example.com"}};
    const auto lookup = fakeDns({{"mx1.example.com", {"2001:db8::10", "192.0.2.10"}},
                                 {"mx2.example.com", {"192.0.2.20", "192.0.2.10"}}});
    const auto resolution = detail::candidatesFromMx("example.com", mx, lookup);
    EXPECT_TRUE(resolution.error.empty());
    ASSERT_EQ(resolution.candidates.size(), 3u);  // 192.0.2.10 only once
    EXPECT_EQ(resolution.candidates[0].host, "mx1.example.com");
    EXPECT_EQ(resolution.candidates[0].address, "2001:db8::10");
    EXPECT_EQ(resolution.candidates[0].preference, 10);
    EXPECT_EQ(resolution.candidates[1].address, "192.0.2.10");
    EXPECT_EQ(resolution.candidates[2].host, "mx2.example.com");
    EXPECT_EQ(resolution.candidates[2].address, "192.0.2.20");
    EXPECT_EQ(resolution.candidates[2].preference, 20);
    EXPECT_EQ(resolution.candidates[2].port, 25);
}

TEST(RoutingMxCandidates, NoMxFallsBackToTheDomainsAddresses) {
    const auto resolution = detail::candidatesFromMx("plain.example", MxLookup{},
                                                     fakeDns({{"plain.example", {"192.0.2.5"}}}));
    ASSERT_EQ(resolution.candidates.size(), 1u);
    EXPECT_EQ(resolution.candidates[0].host, "plain.example");
    EXPECT_EQ(resolution.candidates[0].address, "192.0.2.5");
    EXPECT_EQ(resolution.candidates[0].preference, 0);
}

TEST(RoutingMxCandidates, Failures) {
    const auto noDns = fakeDns({});

    MxLookup nullMx;
    nullMx.nullMx = true;
    auto r = detail::candidatesFromMx("nomail.example", nullMx, noDns);
    EXPECT_TRUE(r.permanent);
    EXPECT_EQ(r.error, "5.1.10 domain nomail.example does not accept mail (null MX)");

    MxLookup nx;
    nx.nxdomain = true;
    r = detail::candidatesFromMx("missing.example", nx, noDns);
    EXPECT_TRUE(r.permanent);
    EXPECT_EQ(r.error, "5.1.2 domain missing.example not found");

    MxLookup servfail;
    servfail.error = "temporary resolver failure (SERVFAIL or timeout)";
    r = detail::candidatesFromMx("broken.example", servfail, noDns);
    EXPECT_FALSE(r.permanent);
    EXPECT_EQ(r.error,
              "4.4.3 DNS lookup of broken.example failed: temporary resolver failure (SERVFAIL "
              "or timeout)");

    r = detail::candidatesFromMx("nothing.example", MxLookup{}, noDns);
    EXPECT_FALSE(r.permanent);
    EXPECT_TRUE(r.candidates.empty());
    EXPECT_EQ(r.error.rfind("4.4.3 ", 0), 0u) << r.error;

    MxLookup unresolvable;
    unresolvable.hosts = {{10, "mx.nowhere.example"}};
    r = detail::candidatesFromMx("nowhere.example", unresolvable, noDns);
    EXPECT_FALSE(r.permanent);
    EXPECT_TRUE(r.candidates.empty());
    EXPECT_NE(r.error.find("mx.nowhere.example"), std::string::npos) << r.error;
}

TEST(RoutingMxCandidates, AddressLiteralParsing) {
    EXPECT_EQ(detail::addressLiteral("[192.0.2.1]"), "192.0.2.1");
    EXPECT_EQ(detail::addressLiteral("[IPv6:2001:DB8::1]"), "2001:db8::1");
    EXPECT_EQ(detail::addressLiteral("[2001:db8::1]"), "2001:db8::1");
    EXPECT_EQ(detail::addressLiteral("192.0.2.1"), "");
    EXPECT_EQ(detail::addressLiteral("[example.com]"), "");
    EXPECT_EQ(detail::addressLiteral("[IPv6:192.0.2.1]"), "");
}

}  // namespace
}  // namespace tlsgate::gateway
