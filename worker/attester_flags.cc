#include "worker/attester_flags.h"

#include <openssl/crypto.h>

#include <utility>

#include "base/bytes.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "client/dev_attester.h"
#include "client/sev_guest_attester.h"
#include "client/tpm_attester.h"
#include "client/tsm_attester.h"

namespace strongroom::worker {
namespace {

template <typename T>
absl::StatusOr<std::unique_ptr<client::Attester>> Upcast(absl::StatusOr<std::unique_ptr<T>> a) {
  if (!a.ok()) return a.status();
  return std::unique_ptr<client::Attester>(*std::move(a));
}

absl::StatusOr<std::unique_ptr<client::Attester>> MakeDev(const AttesterFlags& f) {
  client::DevAttesterOptions d;
  ASSIGN_OR_RETURN(d.private_key_pem, ReadFileToString(f.dev_key_file, "--dev-key"));
  d.measurement = f.measurement;  // decoded and checked by ParseRunFlags
  d.debug = f.dev_debug;
  d.svn = f.svn;
  d.claims = f.dev_claims;
  auto a = client::DevAttester::Create(d);
  // The signer keeps its own copy; this one is not needed any more.
  OPENSSL_cleanse(d.private_key_pem.data(), d.private_key_pem.size());
  return Upcast(std::move(a));
}

}  // namespace

absl::string_view AttesterKindName(AttesterKind kind) {
  switch (kind) {
    case AttesterKind::kTpm:
      return "tpm";
    case AttesterKind::kSnp:
      return "snp";
    case AttesterKind::kTdx:
      return "tdx";
    case AttesterKind::kDev:
      return "dev";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<client::Attester>> MakeAttester(const AttesterFlags& f) {
  switch (f.kind) {
    case AttesterKind::kTpm:
      return Upcast(client::TpmAttester::Create(f.tpm));
    case AttesterKind::kSnp:
      if (f.snp_sev_guest) {
        client::SevGuestAttesterOptions s;
        s.vmpl = f.privlevel.value_or(0);
        if (!f.sev_guest_device.empty()) s.device_path = f.sev_guest_device;
        return Upcast(client::SevGuestAttester::Create(std::move(s)));
      }
      [[fallthrough]];
    case AttesterKind::kTdx: {
      client::TsmAttesterOptions t;
      if (!f.tsm_dir.empty()) t.report_dir = f.tsm_dir;
      t.privlevel = f.privlevel;
      return Upcast(client::TsmAttester::Create(f.kind == AttesterKind::kSnp
                                                    ? client::TsmProvider::kSevGuest
                                                    : client::TsmProvider::kTdxGuest,
                                                t));
    }
    case AttesterKind::kDev:
      return MakeDev(f);
  }
  return absl::InvalidArgumentError("--attester: unknown kind");
}

}  // namespace strongroom::worker
