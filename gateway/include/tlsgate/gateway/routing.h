// Where mail for a domain goes: per-domain routes, a default route (smarthost), or DNS MX lookup
// (preference order, then A/AAAA fallback, IPv6 included). Resolution blocks on DNS: call it from
// delivery workers only. Errors are returned as temporary (4.4.3) or permanent (5.1.2) failures.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tlsgate::gateway {

/// A configured route target: "mx.example.com" (MX lookup of that name is NOT done: it is a host),
/// "[192.0.2.1]" or "[mx.example.com]" (no MX lookup; brackets as in Postfix), optional ":port".
struct RouteTarget {
    std::string host;
    std::uint16_t port = 25;
    /// Parses "host", "host:port", "[host]", "[host]:port", "[2001:db8::1]:2525".
    static std::optional<RouteTarget> parse(const std::string& text);
    std::string toString() const;
};

/// One address to try, in order.
struct Candidate {
    std::string host;     ///< name used for TLS verification and messages
    std::string address;  ///< numeric IPv4/IPv6
    std::uint16_t port = 25;
    int preference = 0;
};

struct Resolution {
    std::vector<Candidate> candidates;
    bool permanent = false;  ///< the domain does not exist / has a null MX (RFC 7505)
    std::string error;       ///< when no candidate: "4.4.3 Host or domain name not found ..."
};

/// The routes table and the resolver.
class Router {
  public:
    Router(std::map<std::string, RouteTarget> routes, std::optional<RouteTarget> defaultRoute)
        : routes_(std::move(routes)), defaultRoute_(std::move(defaultRoute)) {}
    /// Candidates for `domain` (lower case): its route, else the default route, else MX lookup.
    Resolution resolve(const std::string& domain) const;
    /// The label a destination is queued and limited under ("example.com" or "[192.0.2.1]:2525").
    std::string destinationOf(const std::string& domain) const;

  private:
    std::map<std::string, RouteTarget> routes_;
    std::optional<RouteTarget> defaultRoute_;
};

/// MX records of `domain` sorted by preference (ties in random order), from the system resolver.
/// Empty with `error` set on failure; `nullMx` for RFC 7505 "0 .".
struct MxLookup {
    std::vector<std::pair<int, std::string>> hosts;
    bool nxdomain = false;
    bool nullMx = false;
    std::string error;
};
MxLookup lookupMx(const std::string& domain);
/// A and AAAA addresses of `host` (IPv6 first when the system prefers it).
std::vector<std::string> lookupAddresses(const std::string& host, std::string* error = nullptr);

}  // namespace tlsgate::gateway
