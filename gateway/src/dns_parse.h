// Internal to routing.cc (and its unit tests): parsing a DNS MX answer and turning an MX lookup
// into delivery candidates, as pure functions of their inputs. Any thread; failures are in the
// result.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "tlsgate/gateway/routing.h"

namespace tlsgate::gateway::detail {

/// Parses a whole DNS response (header included) to an MX query. Records other than IN MX in the
/// answer section (CNAMEs) are skipped. Sorted by preference, ties shuffled. A response with a
/// single "0 ." record sets nullMx (RFC 7505); a "." among real MX hosts is dropped. Rcode NXDOMAIN
/// sets nxdomain; other error rcodes and malformed messages set error.
MxLookup parseMxAnswer(const unsigned char* message, std::size_t length);

/// Sorts by preference, shuffling hosts of equal preference (RFC 5321 5.1 load spreading).
void orderMxHosts(std::vector<std::pair<int, std::string>>& hosts);

/// Resolves host names to numeric addresses; `error` (may be null) receives the reason when empty.
using AddressLookup = std::function<std::vector<std::string>(const std::string&, std::string*)>;

/// The candidates for `domain` given its MX lookup: MX hosts in order, or the domain's own
/// addresses when it has no MX (RFC 5321 5.1); null MX (5.1.10) and NXDOMAIN (5.1.2) are
/// permanent, failed lookups and "no address at all" are temporary (4.4.3).
Resolution candidatesFromMx(const std::string& domain, const MxLookup& mx,
                            const AddressLookup& lookup);

/// The numeric address inside an RFC 5321 address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]"),
/// or empty when `domain` is not one.
std::string addressLiteral(const std::string& domain);

/// True when `text` is a numeric IPv4 or IPv6 address (no brackets).
bool isIpAddress(const std::string& text);

}  // namespace tlsgate::gateway::detail
