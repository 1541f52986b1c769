// Attester: the workload side of remote attestation. Given the 32-byte
// binding of the broker's challenge to the workload's ephemeral public key
// (attest/binding.h), an attester asks its TEE (or TPM, or development key)
// for evidence carrying exactly those bytes as report data / nonce, and
// returns it as the EvidenceItem protos that KeyBroker.Attest takes.
//
// Implementations:
//   dev   client/dev_attester.h        software-signed development evidence
//   tpm   client/tpm_attester.h        TPM 2.0 quote (TSS2 ESYS)
//   snp   client/tsm_attester.h        configfs-tsm, provider sev_guest
//         client/sev_guest_attester.h  /dev/sev-guest SNP_GET_EXT_REPORT
//   tdx   client/tsm_attester.h        configfs-tsm, provider tdx_guest
//
// Contract: Attest() puts `binding` in the evidence unchanged (zero-padded to
// 64 bytes where the format's field is 64 bytes). It returns Unavailable when
// the device is missing or busy, FailedPrecondition when it is of the wrong
// kind, InvalidArgument for a binding the format cannot carry, and Internal
// for a device that answers nonsense; each message names the device path or
// call. Attesters are not thread-safe unless they say so; one attester serves
// one WorkloadClient.
#ifndef STRONGROOM_CLIENT_ATTESTER_H_
#define STRONGROOM_CLIENT_ATTESTER_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "strongroom/v1/attestation.pb.h"

namespace strongroom::client {

class Attester {
 public:
  virtual ~Attester() = default;
  // The evidence type it produces: "dev", "tpm", "snp" or "tdx".
  virtual std::string type() const = 0;
  virtual absl::StatusOr<std::vector<strongroom::v1::EvidenceItem>> Attest(
      std::span<const uint8_t> binding) = 0;
};

}  // namespace strongroom::client

#endif  // STRONGROOM_CLIENT_ATTESTER_H_
