#include "server/peer_identity.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>

#include <grpcpp/security/auth_context.h>

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

absl::StatusOr<std::string> PrincipalFromPem(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), pem.size()),
                                                BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return absl::UnauthenticatedError("client certificate cannot be parsed");
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  std::string principal;
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans) && principal.empty(); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      if (name->type == GEN_URI) {
        const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
        principal.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                         ASN1_STRING_length(uri));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  if (principal.empty()) {
    X509_NAME* subject = X509_get_subject_name(cert.get());
    int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (idx >= 0) {
      ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
      principal.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                       ASN1_STRING_length(cn));
    }
  }
  if (principal.empty()) {
    return absl::UnauthenticatedError("client certificate has neither a URI SAN nor a CN");
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
