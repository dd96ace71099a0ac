// libFuzzer target: the configuration loader (gateway/include/tlsgate/gateway/config.h). The input
// is written to a file in a per-process scratch directory and given to loadConfig(). Invariants:
// a refusal is a ConfigError and nothing else; an accepted file yields limits the session can use
// (line limits above their CRLF, a message size, an absolute state directory).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

#include "fuzz_support.h"
#include "tlsgate/gateway/config.h"

namespace gw = tlsgate::gateway;
using tlsgate::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const tlsgate::fuzz::ScratchDirectory scratch;
    const std::string file =
        scratch.write("tlsgate.conf", std::string_view(reinterpret_cast<const char*>(data), size));
    try {
        const gw::GatewayConfig config = gw::loadConfig(file);
        check(config.receive.commandLineLimit >= 512, "command_line_limit below 512 accepted");
        check(config.receive.textLineLimit >= 1000, "text_line_limit below 1000 accepted");
        check(config.receive.maxMessageSize > 0, "max_message_size 0 accepted");
        check(config.gateway.stateDirectory.is_absolute(), "relative state_directory accepted",
              config.gateway.stateDirectory.string());
        check(!config.gateway.hostname.empty(), "empty hostname accepted");
        (void)gw::storeOptions(config);
    } catch (const gw::ConfigError& e) {
        check(std::string_view(e.what()).size() > 0, "ConfigError without a message");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "loadConfig threw %s: %s\n", typeid(e).name(), e.what());
        check(false, "loadConfig threw something other than ConfigError");
    }
    return 0;
}
