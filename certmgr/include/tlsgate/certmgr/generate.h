// Making keys and self-signed certificates (the gateway's default certificate, `certmgr generate`,
// renewal with a kept key). Pure; failures throw OpensslError.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tlsgate/certmgr/ossl.h"
#include "tlsgate/common/clock.h"

namespace tlsgate::certmgr {

enum class KeyAlgorithm { EcdsaP256, EcdsaP384, Rsa2048, Rsa3072, Rsa4096 };
std::string_view toString(KeyAlgorithm algorithm);
/// "ecdsa" (P-256), "ecdsa-p256", "ecdsa-p384", "rsa" (2048), "rsa2048", "rsa3072", "rsa4096";
/// throws std::invalid_argument naming the accepted values otherwise.
KeyAlgorithm parseKeyAlgorithm(std::string_view text);

EvpPkeyPtr generateKey(KeyAlgorithm algorithm);

struct SelfSignedSpec {
    std::vector<std::string> dnsNames;  ///< the first is also the CN; at least one
    TimePoint notBefore;
    int days = 825;
};

/// A self-signed end-entity certificate for `key`: random positive 128-bit serial,
/// basicConstraints CA:FALSE, keyUsage digitalSignature (+keyEncipherment for RSA),
/// extendedKeyUsage serverAuth and clientAuth, subjectAltName DNS = the names, SHA-256 signature.
X509Ptr makeSelfSigned(EVP_PKEY& key, const SelfSignedSpec& spec);

}  // namespace tlsgate::certmgr
