// Where mail for a domain goes: route table, default route, then DNS (MX via libresolv with a
// per-call res_state, addresses via getaddrinfo). Any delivery worker thread; blocks on DNS.
// Failures are never thrown: they come back in Resolution/MxLookup (4.4.3 temporary, 5.1.x final).
#include "tlsgate/gateway/routing.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <utility>

#include "dns_parse.h"

namespace tlsgate::gateway {
namespace {

std::string lowered(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

/// Lower case, one trailing dot removed ("Example.COM." -> "example.com").
std::string normalizedDomain(const std::string& domain) {
    std::string out = lowered(domain);
    if (out.size() > 1 && out.back() == '.') {
        out.pop_back();
    }
    return out;
}

bool isIpv4(const std::string& text) {
    in_addr address{};
    return inet_pton(AF_INET, text.c_str(), &address) == 1;
}

bool isIpv6(const std::string& text) {
    in6_addr address{};
    return inet_pton(AF_INET6, text.c_str(), &address) == 1;
}

/// A host name: LDH labels of 1..63 characters, at most 253 in all, the last label not numeric
/// (so "999.1.1.1" is neither an address nor a name).
bool isHostName(const std::string& text) {
    if (text.empty() || text.size() > 253) {
        return false;
    }
    std::size_t start = 0;
    bool lastLabelNumeric = false;
    while (start <= text.size()) {
        std::size_t end = text.find('.', start);
        if (end == std::string::npos) {
            end = text.size();
        }
        const std::string_view label(text.data() + start, end - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
            return false;
        }
        lastLabelNumeric = true;
        for (const char c : label) {
            const auto u = static_cast<unsigned char>(c);
            if (!std::isalnum(u) && c != '-') {
                return false;
            }
            if (!std::isdigit(u)) {
                lastLabelNumeric = false;
            }
        }
        start = end + 1;
    }
    return !lastLabelNumeric;
}

/// "2525" -> 2525; nullopt unless 1..65535 written in decimal digits only.
std::optional<std::uint16_t> parsePort(std::string_view text) {
    if (text.empty() || text.size() > 5 || !std::all_of(text.begin(), text.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c)) != 0;
        })) {
        return std::nullopt;
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

/// A route host as stored: a numeric address, or a lower-case name without its trailing dot.
std::optional<std::string> validHost(std::string host, bool bracketed) {
    if (bracketed && host.size() > 5 && lowered(host.substr(0, 5)) == "ipv6:") {
        host.erase(0, 5);
        return isIpv6(host) ? std::optional<std::string>(lowered(host)) : std::nullopt;
    }
    if (isIpv4(host) || isIpv6(host)) {
        return lowered(host);
    }
    host = normalizedDomain(host);
    if (!isHostName(host)) {
        return std::nullopt;
    }
    return host;
}

std::string describeLookupError(const std::string& error) {
    return error.empty() ? std::string("no addresses") : error;
}

/// Candidates for a configured route target: its address, or the addresses of its name.
Resolution resolveTarget(const RouteTarget& target) {
    Resolution result;
    if (detail::isIpAddress(target.host)) {
        result.candidates.push_back(Candidate{target.host, target.host, target.port, 0});
        return result;
    }
    std::string error;
    for (const auto& address : lookupAddresses(target.host, &error)) {
        result.candidates.push_back(Candidate{target.host, address, target.port, 0});
    }
    if (result.candidates.empty()) {
        result.error =
            "4.4.3 DNS lookup of " + target.host + " failed: " + describeLookupError(error);
    }
    return result;
}

std::string rcodeName(int rcode) {
    switch (rcode) {
        case ns_r_formerr:
            return "FORMERR";
        case ns_r_servfail:
            return "SERVFAIL";
        case ns_r_notimpl:
            return "NOTIMP";
        case ns_r_refused:
            return "REFUSED";
        default:
            return "rcode " + std::to_string(rcode);
    }
}

/// Shuffles MX hosts of equal preference. A small engine: a thread_local lives in every thread's
/// static TLS block, session threads included (std::mt19937 would be 5 KB each).
std::minstd_rand& randomEngine() {
    thread_local std::minstd_rand engine{std::random_device{}()};
    return engine;
}

}  // namespace

namespace detail {

bool isIpAddress(const std::string& text) {
    return isIpv4(text) || isIpv6(text);
}

std::string addressLiteral(const std::string& domain) {
    if (domain.size() < 3 || domain.front() != '[' || domain.back() != ']') {
        return {};
    }
    std::string inside = domain.substr(1, domain.size() - 2);
    if (inside.size() > 5 && lowered(inside.substr(0, 5)) == "ipv6:") {
        inside.erase(0, 5);
        return isIpv6(inside) ? lowered(inside) : std::string();
    }
    // RFC 5321 requires the "IPv6:" tag; a bare IPv6 address is accepted as well.
    return isIpAddress(inside) ? lowered(inside) : std::string();
}

void orderMxHosts(std::vector<std::pair<int, std::string>>& hosts) {
    std::shuffle(hosts.begin(), hosts.end(), randomEngine());
    std::stable_sort(hosts.begin(), hosts.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
}

MxLookup parseMxAnswer(const unsigned char* message, std::size_t length) {
    MxLookup result;
    ns_msg handle{};
    if (length > 65535 || ns_initparse(message, static_cast<int>(length), &handle) < 0) {
        result.error = "malformed DNS answer";
        return result;
    }
    const int rcode = ns_msg_getflag(handle, ns_f_rcode);
    if (rcode == ns_r_nxdomain) {
        result.nxdomain = true;
        return result;
    }
    if (rcode != ns_r_noerror) {
        result.error = "DNS server answered " + rcodeName(rcode);
        return result;
    }
    bool sawNullTarget = false;
    const int count = ns_msg_count(handle, ns_s_an);
    for (int i = 0; i < count; ++i) {
        ns_rr rr{};
        if (ns_parserr(&handle, ns_s_an, i, &rr) < 0) {
            result.error = "malformed DNS answer (record " + std::to_string(i) + ")";
            result.hosts.clear();
            return result;
        }
        // rr.type/rr.rr_class directly: the ns_rr_type()/ns_rr_class() macros are C casts.
        if (rr.type != static_cast<int>(ns_t_mx) || rr.rr_class != static_cast<int>(ns_c_in)) {
            continue;
        }
        if (rr.rdlength < 3) {
            result.error = "malformed MX record (short data)";
            result.hosts.clear();
            return result;
        }
        const int preference = static_cast<int>(ns_get16(rr.rdata));
        char name[NS_MAXDNAME];
        if (ns_name_uncompress(message, message + length, rr.rdata + 2, name, sizeof name) < 0) {
            result.error = "malformed MX record (exchange name)";
            result.hosts.clear();
            return result;
        }
        std::string host = name;
        if (host.empty() || host == ".") {
            sawNullTarget = true;
            continue;
        }
        result.hosts.emplace_back(preference, normalizedDomain(host));
    }
    // RFC 7505: "0 ." alone means no mail; a stray "." beside real hosts is ignored.
    if (sawNullTarget && result.hosts.empty()) {
        result.nullMx = true;
        return result;
    }
    orderMxHosts(result.hosts);
    return result;
}

Resolution candidatesFromMx(const std::string& domain, const MxLookup& mx,
                            const AddressLookup& lookup) {
    Resolution result;
    if (mx.nxdomain) {
        result.permanent = true;
        result.error = "5.1.2 domain " + domain + " not found";
        return result;
    }
    if (mx.nullMx) {
        result.permanent = true;
        result.error = "5.1.10 domain " + domain + " does not accept mail (null MX)";
        return result;
    }
    if (!mx.error.empty()) {
        result.error = "4.4.3 DNS lookup of " + domain + " failed: " + mx.error;
        return result;
    }
    if (mx.hosts.empty()) {
        // RFC 5321 5.1: no MX records, the domain itself is the implicit MX at preference 0.
        std::string error;
        for (const auto& address : lookup(domain, &error)) {
            result.candidates.push_back(Candidate{domain, address, 25, 0});
        }
        if (result.candidates.empty()) {
            result.error = "4.4.3 DNS lookup of " + domain +
                           " failed: no MX and no address records (" + describeLookupError(error) +
                           ")";
        }
        return result;
    }
    std::set<std::string> seen;
    std::string lastError;
    for (const auto& [preference, host] : mx.hosts) {
        std::string error;
        const auto addresses = lookup(host, &error);
        if (addresses.empty()) {
            lastError = host + ": " + describeLookupError(error);
        }
        for (const auto& address : addresses) {
            if (seen.insert(address).second) {
                result.candidates.push_back(Candidate{host, address, 25, preference});
            }
        }
    }
    if (result.candidates.empty()) {
        result.error = "4.4.3 DNS lookup of " + domain + " failed: no address for any MX host (" +
                       lastError + ")";
    }
    return result;
}

}  // namespace detail

std::optional<RouteTarget> RouteTarget::parse(const std::string& text) {
    if (text.empty() || std::any_of(text.begin(), text.end(), [](char c) {
            const auto u = static_cast<unsigned char>(c);
            return std::isspace(u) || std::iscntrl(u);
        })) {
        return std::nullopt;
    }
    RouteTarget target;
    std::string host;
    bool bracketed = false;
    std::string_view rest;
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos || close == 1) {
            return std::nullopt;
        }
        host = text.substr(1, close - 1);
        bracketed = true;
        rest = std::string_view(text).substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return std::nullopt;
            }
            const auto port = parsePort(rest.substr(1));
            if (!port) {
                return std::nullopt;
            }
            target.port = *port;
        }
    } else {
        const auto colons = std::count(text.begin(), text.end(), ':');
        if (colons == 0) {
            host = text;
        } else if (colons == 1) {
            const auto colon = text.find(':');
            host = text.substr(0, colon);
            const auto port = parsePort(std::string_view(text).substr(colon + 1));
            if (!port) {
                return std::nullopt;
            }
            target.port = *port;
        } else if (isIpv6(text)) {
            host = text;  // an unbracketed IPv6 address cannot carry a port
        } else {
            return std::nullopt;
        }
    }
    if (host.find_first_of("[]") != std::string::npos) {
        return std::nullopt;
    }
    auto valid = validHost(host, bracketed);
    if (!valid) {
        return std::nullopt;
    }
    target.host = std::move(*valid);
    return target;
}

std::string RouteTarget::toString() const {
    // IP literals in brackets (as Postfix writes them, and so that "[2001:db8::1]:25" parses back),
    // names plain: "mx.example.com:25", "[192.0.2.1]:2525", "[2001:db8::1]:25".
    if (detail::isIpAddress(host)) {
        return "[" + host + "]:" + std::to_string(port);
    }
    return host + ":" + std::to_string(port);
}

namespace {

/// The route for `domain`: an exact key, else the most specific ".parent" key, else the default.
const RouteTarget* routeFor(const std::map<std::string, RouteTarget>& routes,
                            const std::optional<RouteTarget>& defaultRoute,
                            const std::string& domain) {
    if (const auto exact = routes.find(domain); exact != routes.end()) {
        return &exact->second;
    }
    for (auto dot = domain.find('.'); dot != std::string::npos; dot = domain.find('.', dot + 1)) {
        if (const auto parent = routes.find(domain.substr(dot)); parent != routes.end()) {
            return &parent->second;
        }
    }
    return defaultRoute ? &*defaultRoute : nullptr;
}

}  // namespace

Resolution Router::resolve(const std::string& domainIn) const {
    const std::string domain = normalizedDomain(domainIn);
    if (const RouteTarget* target = routeFor(routes_, defaultRoute_, domain)) {
        return resolveTarget(*target);
    }
    if (const auto literal = detail::addressLiteral(domain); !literal.empty()) {
        Resolution result;
        result.candidates.push_back(Candidate{literal, literal, 25, 0});
        return result;
    }
    if (!isHostName(domain)) {
        Resolution result;
        result.permanent = true;
        result.error = "5.1.2 domain " + domain + " is not a valid domain name";
        return result;
    }
    return detail::candidatesFromMx(
        domain, lookupMx(domain),
        [](const std::string& host, std::string* error) { return lookupAddresses(host, error); });
}

std::string Router::destinationOf(const std::string& domainIn) const {
    const std::string domain = normalizedDomain(domainIn);
    if (const RouteTarget* target = routeFor(routes_, defaultRoute_, domain)) {
        return target->toString();
    }
    return domain;
}

MxLookup lookupMx(const std::string& domain) {
    MxLookup result;
    struct __res_state state;
    std::memset(&state, 0, sizeof state);
    if (res_ninit(&state) != 0) {
        result.error = "resolver initialisation failed";
        return result;
    }
    std::vector<unsigned char> answer(65535);
    const int length = res_nquery(&state, domain.c_str(), ns_c_in, ns_t_mx, answer.data(),
                                  static_cast<int>(answer.size()));
    const int herrno = state.res_h_errno;
    res_nclose(&state);
    if (length < 0) {
        switch (herrno) {
            case HOST_NOT_FOUND:
                result.nxdomain = true;
                break;
            case NO_DATA:
                break;  // NOERROR without MX records: the caller falls back to A/AAAA
            case TRY_AGAIN:
                result.error = "temporary resolver failure (SERVFAIL or timeout)";
                break;
            case NO_RECOVERY:
                result.error = "non-recoverable resolver error (FORMERR, REFUSED or NOTIMP)";
                break;
            default:
                result.error = "resolver error (h_errno " + std::to_string(herrno) + ")";
                break;
        }
        return result;
    }
    return detail::parseMxAnswer(answer.data(),
                                 std::min(static_cast<std::size_t>(length), answer.size()));
}

std::vector<std::string> lookupAddresses(const std::string& host, std::string* error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &list);
    if (rc != 0) {
        if (error != nullptr) {
            *error = rc == EAI_SYSTEM ? std::string(std::strerror(errno)) : gai_strerror(rc);
        }
        return {};
    }
    const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(list, &freeaddrinfo);
    std::vector<std::string> addresses;
    for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        char text[NI_MAXHOST];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof text, nullptr, 0,
                        NI_NUMERICHOST) != 0) {
            continue;
        }
        if (std::find(addresses.begin(), addresses.end(), text) == addresses.end()) {
            addresses.emplace_back(text);
        }
    }
    if (addresses.empty() && error != nullptr) {
        *error = "no usable addresses";
    }
    return addresses;
}

}  // namespace tlsgate::gateway
