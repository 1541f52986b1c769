// TsmAttester: SEV-SNP or TDX evidence through the kernel's configfs-tsm
// report interface (Linux 6.7+, Documentation/ABI/testing/configfs-tsm):
//
//   mkdir  <report_dir>/<entry>             the kernel populates attributes
//   read   provider                          "sev_guest" / "tdx_guest"
//   read   generation                        g0
//   write  privlevel (SNP only, optional)    the VMPL to report at
//   write  inblob                            64 bytes: binding zero-padded
//   read   outblob                           SNP report / TDX quote
//   read   auxblob (may be absent)           SNP certificate table
//   read   generation                        must be g0 + writes, else
//                                            another writer raced us: retry
//   rmdir  <entry>                           always, also on failure
//
// Attest() returns one EvidenceItem ("snp": payload = report, certificates =
// the auxblob's DER certificates; "tdx": payload = quote, whose PCK chain is
// inside it) after checking that the report carries the binding.
//
// Hardware paths are unverified here (no SNP/TDX machine): tests run the
// protocol against an emulated tree through TsmFilesystem.
//
// Errors: Unavailable when report_dir is missing or a file operation fails
// (naming the path and errno); FailedPrecondition when the provider is not
// the one asked for, or the report carries other data; Aborted when the
// generation kept changing for every attempt; Internal for an empty or
// malformed outblob. Not thread-safe; distinct attesters (and processes) use
// distinct entries.
#ifndef STRONGROOM_CLIENT_TSM_ATTESTER_H_
#define STRONGROOM_CLIENT_TSM_ATTESTER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/attester.h"

namespace strongroom::client {

// The file operations the protocol needs. Real() acts on the filesystem;
// tests wrap it to emulate the kernel's side.
class TsmFilesystem {
 public:
  virtual ~TsmFilesystem() = default;
  virtual bool IsDirectory(const std::string& path) = 0;
  virtual absl::Status MakeDirectory(const std::string& path) = 0;
  virtual absl::Status RemoveDirectory(const std::string& path) = 0;
  // The whole file; NotFound when it does not exist.
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;
  // One open/write/close; configfs commits binary attributes on close, so
  // the close is checked too.
  virtual absl::Status WriteFile(const std::string& path, absl::string_view data) = 0;

  static TsmFilesystem& Real();  // thread-safe, never destroyed
};

enum class TsmProvider { kSevGuest, kTdxGuest };

struct TsmAttesterOptions {
  std::string report_dir = "/sys/kernel/config/tsm/report";
  std::optional<uint32_t> privlevel;  // SEV-SNP VMPL 0..3 (not for TDX)
  int max_attempts = 3;               // on generation races
  TsmFilesystem* filesystem = nullptr;  // not owned; null = Real()
};

class TsmAttester final : public Attester {
 public:
  // InvalidArgument for a privlevel over 3 or with TDX; Unavailable when
  // report_dir is not a directory.
  static absl::StatusOr<std::unique_ptr<TsmAttester>> Create(TsmProvider provider,
                                                             TsmAttesterOptions options);

  std::string type() const override;  // "snp" or "tdx"
  absl::StatusOr<std::vector<strongroom::v1::EvidenceItem>> Attest(
      std::span<const uint8_t> binding) override;

 private:
  TsmAttester(TsmProvider provider, TsmAttesterOptions options, TsmFilesystem* fs)
      : provider_(provider), options_(std::move(options)), fs_(fs) {}

  struct Blobs {
    std::string outblob;
    std::string auxblob;
  };
  // One pass of the protocol on an existing entry; Aborted on a race.
  absl::StatusOr<Blobs> RunOnce(const std::string& entry, std::span<const uint8_t> inblob);

  TsmProvider provider_;
  TsmAttesterOptions options_;
  TsmFilesystem* fs_;  // not owned
  uint64_t entries_made_ = 0;
};

// "sev_guest" / "tdx_guest".
absl::string_view TsmProviderName(TsmProvider provider);

}  // namespace strongroom::client

#endif  // STRONGROOM_CLIENT_TSM_ATTESTER_H_
