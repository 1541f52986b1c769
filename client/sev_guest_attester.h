// SevGuestAttester: SEV-SNP evidence from the guest driver's character device
// (/dev/sev-guest, Linux 5.19+) with the SNP_GET_EXT_REPORT ioctl, falling
// back to SNP_GET_REPORT when the host offers no certificates. For kernels
// with configfs-tsm (6.7+) client/tsm_attester.h is the preferred path.
//
// Attest(binding) asks the PSP for an attestation report at the configured
// VMPL with REPORT_DATA = binding zero-padded to 64 bytes, checks that the
// report that comes back carries exactly that, and returns one "snp"
// EvidenceItem: payload = the 1184-byte report, certificates = the DER
// blobs of the host's certificate table (VCEK or VLEK, ASK, ARK), if any.
//
// Unverified on hardware: the struct layouts come from <linux/sev-guest.h>
// and the SEV-SNP firmware ABI (MSG_REPORT_RSP); tests drive them through a
// fake device. Errors: Unavailable when the device cannot be opened or the
// ioctl fails (naming the call and errno, and the firmware / VMM error
// codes), Internal for a malformed response, FailedPrecondition when the
// report carries other report data. Not thread-safe.
#ifndef STRONGROOM_CLIENT_SEV_GUEST_ATTESTER_H_
#define STRONGROOM_CLIENT_SEV_GUEST_ATTESTER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/attester.h"

namespace strongroom::client {

// The SEV-SNP certificate table (GHCB specification, MSG_REPORT_REQ /
// SNP_GET_EXT_REPORT; also configfs-tsm's auxblob for sev_guest): entries of
// GUID (16 bytes), offset (u32 LE, from the table start), length (u32 LE),
// ended by an all-zero entry. Returns each certificate's bytes in table order
// (entries of length 0 skipped); an empty input gives none. InvalidArgument
// "snp certificate table: ..." for an entry outside the table or no
// terminator.
absl::StatusOr<std::vector<std::string>> ParseSnpCertTable(std::span<const uint8_t> table);

// The ioctl surface, so tests can stand in for the driver. Ioctl() returns 0
// or -errno like the kernel and may update the struct `arg` points to.
class SevGuestDevice {
 public:
  virtual ~SevGuestDevice() = default;
  virtual int Ioctl(unsigned long request, void* arg) = 0;
  // The real device; Unavailable naming `path` and errno.
  static absl::StatusOr<std::unique_ptr<SevGuestDevice>> Open(const std::string& path);
};

struct SevGuestAttesterOptions {
  std::string device_path = "/dev/sev-guest";
  uint32_t vmpl = 0;                 // 0..3
  bool fetch_certificates = true;    // SNP_GET_EXT_REPORT first
  std::unique_ptr<SevGuestDevice> device;  // for tests; null = open device_path
};

class SevGuestAttester final : public Attester {
 public:
  // InvalidArgument for a VMPL over 3; Unavailable when the device is absent.
  static absl::StatusOr<std::unique_ptr<SevGuestAttester>> Create(
      SevGuestAttesterOptions options);

  std::string type() const override { return "snp"; }
  absl::StatusOr<std::vector<strongroom::v1::EvidenceItem>> Attest(
      std::span<const uint8_t> binding) override;

 private:
  SevGuestAttester(std::unique_ptr<SevGuestDevice> device, SevGuestAttesterOptions options)
      : device_(std::move(device)), options_(std::move(options)) {}

  std::unique_ptr<SevGuestDevice> device_;
  SevGuestAttesterOptions options_;
};

}  // namespace strongroom::client

#endif  // STRONGROOM_CLIENT_SEV_GUEST_ATTESTER_H_
