#include "server/peer_identity.h"

#include <grpcpp/security/auth_context.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace strongroom::server {
namespace {

// Parsing a certificate is dear: OpenSSL 3.0 sets up a public-key decoder for
// each one, which took over half the CPU time of a whole Decrypt RPC when it
// ran on every call (strongroom-bench kms). Every call on a connection
// presents the same verified certificate and the principal depends on nothing
// else, so principals are remembered by the certificate's exact PEM bytes.
// Thread-safe; holds at most kMaxEntries certificates (then starts afresh).
class PrincipalCache {
 public:
  absl::StatusOr<std::string> Lookup(std::string_view pem) {
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      auto it = principals_.find(pem);
      if (it != principals_.end()) return it->second;
    }
    ASSIGN_OR_RETURN(std::string principal, PrincipalFromPem(std::string(pem)));
    std::unique_lock<std::shared_mutex> lock(mu_);
    if (principals_.size() >= kMaxEntries) principals_.clear();
    principals_.emplace(pem, principal);
    return principal;
  }

 private:
  static constexpr size_t kMaxEntries = 1024;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::shared_mutex mu_;
  std::unordered_map<std::string, std::string, Hash, std::equal_to<>> principals_;
};

PrincipalCache& Principals() {
  static PrincipalCache* cache = new PrincipalCache();  // never destroyed: used by server threads
  return *cache;
}

}  // namespace

namespace {

// A principal name as a certificate carries it: no NUL or other control byte
// (which would let two different names print alike, or end early in C).
absl::Status CheckNameBytes(absl::string_view name, absl::string_view what) {
  if (name.empty())
    return absl::UnauthenticatedError(absl::StrCat("client certificate's ", what, " is empty"));
  for (char ch : name) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7f) {
      return absl::UnauthenticatedError(
          absl::StrCat("client certificate's ", what, " holds a control character"));
    }
  }
  return absl::OkStatus();
}

std::string_view View(const ASN1_STRING* s) {
  return std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                          static_cast<size_t>(ASN1_STRING_length(s)));
}

}  // namespace

absl::StatusOr<std::string> PrincipalFromPem(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), pem.size()),
                                                BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return absl::UnauthenticatedError("client certificate cannot be parsed");
  // With a subjectAltName extension the principal is its one URI and the CN
  // is never consulted: CAs that vet SANs often let the requester pick the CN,
  // so a CN must not be able to stand in for a URI principal.
  int critical = -1;
  std::unique_ptr<GENERAL_NAMES, decltype(&GENERAL_NAMES_free)> sans(
      static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(cert.get(), NID_subject_alt_name, &critical, nullptr)),
      GENERAL_NAMES_free);
  if (critical == -2) {
    return absl::UnauthenticatedError("client certificate has more than one subjectAltName");
  }
  if (sans == nullptr && X509_get_ext_by_NID(cert.get(), NID_subject_alt_name, -1) >= 0) {
    return absl::UnauthenticatedError("client certificate's subjectAltName does not decode");
  }
  if (sans != nullptr) {
    std::string principal;
    int uris = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
      if (name->type != GEN_URI) continue;
      if (++uris > 1) {
        return absl::UnauthenticatedError(
            "client certificate has more than one URI subjectAltName; its principal would be "
            "ambiguous");
      }
      principal = std::string(View(name->d.uniformResourceIdentifier));
    }
    if (uris == 0) {
      return absl::UnauthenticatedError(
          "client certificate has a subjectAltName without a URI: its principal is its URI SAN "
          "(the CN counts only in certificates without subjectAltName)");
    }
    RETURN_IF_ERROR(CheckNameBytes(principal, "URI subjectAltName"));
    return principal;
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  const int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (idx < 0) {
    return absl::UnauthenticatedError("client certificate has neither a URI SAN nor a CN");
  }
  if (X509_NAME_get_index_by_NID(subject, NID_commonName, idx) >= 0) {
    return absl::UnauthenticatedError("client certificate has more than one CN");
  }
  const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
  const int type = ASN1_STRING_type(cn);
  if (type != V_ASN1_UTF8STRING && type != V_ASN1_PRINTABLESTRING && type != V_ASN1_IA5STRING) {
    return absl::UnauthenticatedError(
        "client certificate's CN is not a UTF8String, PrintableString or IA5String");
  }
  std::string principal(View(cn));
  RETURN_IF_ERROR(CheckNameBytes(principal, "CN"));
  if (principal.find_first_of(":/") != std::string::npos) {
    return absl::UnauthenticatedError(
        "client certificate's CN holds ':' or '/': URI principals come only from a URI "
        "subjectAltName");
  }
  return principal;
}

absl::StatusOr<PeerIdentity> IdentifyPeer(const grpc::ServerContext& context,
                                          const std::map<std::string, Role>& principals) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("no verified client certificate on this connection");
  }
  std::vector<grpc::string_ref> pem = auth->FindPropertyValues("x509_pem_cert");
  if (pem.empty()) return absl::UnauthenticatedError("client certificate missing");
  PeerIdentity id;
  ASSIGN_OR_RETURN(id.principal,
                   Principals().Lookup(std::string_view(pem[0].data(), pem[0].size())));
  auto it = principals.find(id.principal);
  id.role = it == principals.end() ? Role::kNone : it->second;
  return id;
}

}  // namespace strongroom::server
