#include "kms/hpke/openssl_util.h"

#include <openssl/err.h>

#include "absl/strings/str_cat.h"

namespace strongroom::kms::hpke::internal {

absl::Status OpenSslInternalError(absl::string_view call) {
  unsigned long e = ERR_get_error();
  char buf[256] = "no OpenSSL error queued";
  if (e != 0) ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return absl::InternalError(absl::StrCat("hpke: ", call, " failed: ", buf));
}

void ClearOpenSslErrors() { ERR_clear_error(); }

}  // namespace strongroom::kms::hpke::internal
