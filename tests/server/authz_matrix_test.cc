// Calls every KeyManagement RPC as every kind of caller over real mutual TLS
// and checks each allow / deny. Allowed calls must succeed outright; denied
// ones must come back PERMISSION_DENIED (wrong role or not the key's owner) or
// UNAVAILABLE (no certificate, or one from a foreign CA: refused in the TLS
// handshake).
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "base/testing/status_matchers.h"
#include "hsm-sim/testing/softhsm_token.h"
#include "server/config.h"
#include "server/server.h"
#include "strongroom/v1/key_management.grpc.pb.h"

namespace strongroom::server {
namespace {

namespace v1 = ::strongroom::v1;
using Stub = v1::KeyManagement::Stub;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::vector<std::string> kIdentities = {"admin",    "admin2",   "owner1",  "owner2",
                                              "auditor",  "workload", "stranger", "foreign",
                                              "nocert",   "expired"};

// A client certificate for spiffe://strongroom/admin, signed by the real CA,
// whose validity ended an hour ago.
void WriteExpiredAdminCert(const std::string& pki) {
  FILE* f = fopen((pki + "/ca.key").c_str(), "r");
  ASSERT_NE(f, nullptr);
  EVP_PKEY* ca_key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  fclose(f);
  f = fopen((pki + "/ca.crt").c_str(), "r");
  X509* ca = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
  ASSERT_NE(ca_key, nullptr);
  ASSERT_NE(ca, nullptr);
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 4242);
  X509_gmtime_adj(X509_getm_notBefore(cert), -7200);
  X509_gmtime_adj(X509_getm_notAfter(cert), -3600);
  X509_set_pubkey(cert, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("admin"), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(ca));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca, cert, nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name,
                                            "URI:spiffe://strongroom/admin");
  X509_add_ext(cert, san, -1);
  X509_EXTENSION_free(san);
  ASSERT_GT(X509_sign(cert, ca_key, EVP_sha256()), 0);
  f = fopen((pki + "/clients/expired.crt").c_str(), "w");
  PEM_write_X509(f, cert);
  fclose(f);
  f = fopen((pki + "/clients/expired.key").c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  fclose(f);
  X509_free(cert);
  X509_free(ca);
  EVP_PKEY_free(key);
  EVP_PKEY_free(ca_key);
}

class AuthzMatrixTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto token = hsm_sim::SoftHsmToken::Create("authz");
    ASSERT_OK(token.status());
    token_ = token->release();
    const std::string dir = token_->dir();
    std::string ca = absl::StrCat(STRONGROOM_SOURCE_DIR, "/deploy/local-ca.sh");
    ASSERT_EQ(std::system(absl::StrCat(ca, " --dir ", dir, "/pki --client admin --client admin2"
                                       " --client owner1 --client owner2 --client auditor"
                                       " --client workload --client stranger >/dev/null 2>&1").c_str()), 0);
    ASSERT_EQ(std::system(absl::StrCat(ca, " --dir ", dir, "/foreign --client admin >/dev/null 2>&1").c_str()), 0);
    WriteExpiredAdminCert(dir + "/pki");
    std::string yaml = absl::StrCat(
        "server: {listen: \"127.0.0.1:0\", tls: {cert: pki/server.crt, key: pki/server.key, client_ca: pki/ca.crt}}\n"
        "hsm: {module: ", hsm_sim::SoftHsmToken::SoftHsmModulePath(), ", token_label: authz, pin_file: ",
        token_->pin_file(), "}\nstorage: {path: db}\nkms: {maintenance_interval: 20ms}\nprincipals:\n");
    for (const char* p : {"admin", "admin2"}) absl::StrAppend(&yaml, "  - {name: \"spiffe://strongroom/", p, "\", role: admin}\n");
    for (const char* p : {"owner1", "owner2"}) absl::StrAppend(&yaml, "  - {name: \"spiffe://strongroom/", p, "\", role: owner}\n");
    absl::StrAppend(&yaml, "  - {name: \"spiffe://strongroom/auditor\", role: auditor}\n"
                           "  - {name: \"spiffe://strongroom/workload\", role: workload}\n");
    auto config = ParseServerConfig(yaml, "authz.yaml", dir);
    ASSERT_OK(config.status());
    auto server = StrongroomServer::Start(*config);
    ASSERT_OK(server.status());
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete token_;
  }

  static std::unique_ptr<Stub> StubFor(const std::string& who) {
    const std::string dir = token_->dir();
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = Slurp(dir + "/pki/ca.crt");
    if (who != "nocert") {
      std::string pki = who == "foreign" ? dir + "/foreign" : dir + "/pki";
      std::string name = who == "foreign" ? "admin" : who;
      tls.pem_cert_chain = Slurp(absl::StrCat(pki, "/clients/", name, ".crt"));
      tls.pem_private_key = Slurp(absl::StrCat(pki, "/clients/", name, ".key"));
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                             grpc::SslCredentials(tls), args);
    return v1::KeyManagement::NewStub(channel);
  }

  static hsm_sim::SoftHsmToken* token_;
  static StrongroomServer* server_;
};

hsm_sim::SoftHsmToken* AuthzMatrixTest::token_ = nullptr;
StrongroomServer* AuthzMatrixTest::server_ = nullptr;

struct Rpc {
  std::string name;
  std::set<std::string> allowed;
  // Runs the call as `stub` after any setup done as `admin`.
  std::function<grpc::Status(Stub& caller, Stub& admin, const std::string& who)> call;
};

grpc::ClientContext* Ctx(grpc::ClientContext& c) {
  c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return &c;
}

// The admin rotates keys/k1 and returns the previous primary's name.
std::string RotateOut(Stub& admin) {
  grpc::ClientContext c;
  v1::RotateKeyRequest r;
  r.set_name("keys/k1");
  v1::KeyVersion v;
  EXPECT_TRUE(admin.RotateKey(Ctx(c), r, &v).ok());
  return absl::StrCat("keys/k1/versions/", v.version() - 1);
}

TEST_F(AuthzMatrixTest, EveryRpcAsEveryCaller) {
  auto admin = StubFor("admin");
  auto owner = StubFor("owner1");
  {
    grpc::ClientContext c;
    v1::CreateKeyRequest r;
    r.set_key_id("k1");
    r.set_owner("spiffe://strongroom/owner1");
    r.set_destroy_wait_seconds(86400);
    v1::Key k;
    ASSERT_TRUE(admin->CreateKey(Ctx(c), r, &k).ok());
    grpc::ClientContext c2;
    r.set_key_id("dc");
    r.set_dual_control(true);
    ASSERT_TRUE(admin->CreateKey(Ctx(c2), r, &k).ok());
  }
  std::string ciphertext;
  {
    grpc::ClientContext c;
    v1::EncryptRequest r;
    r.set_name("keys/k1");
    r.set_plaintext("hello");
    v1::EncryptResponse resp;
    ASSERT_TRUE(owner->Encrypt(Ctx(c), r, &resp).ok());
    ciphertext = resp.ciphertext();
  }
  const std::set<std::string> kAdmins = {"admin", "admin2"};
  const std::set<std::string> kReaders = {"admin", "admin2", "owner1", "auditor"};
  const std::set<std::string> kOwnerOnly = {"owner1"};
  int counter = 0;

  std::vector<Rpc> rpcs = {
      {"Ping", {"admin", "admin2", "owner1", "owner2", "auditor", "workload", "stranger"},
       [](Stub& s, Stub&, const std::string&) {
         grpc::ClientContext c; v1::PingResponse out;
         return s.Ping(Ctx(c), v1::PingRequest(), &out); }},
      {"CreateKey", {"admin", "admin2", "owner1", "owner2"},
       [&](Stub& s, Stub&, const std::string&) {
         grpc::ClientContext c; v1::CreateKeyRequest r; v1::Key out;
         r.set_key_id(absl::StrCat("new-", ++counter));
         return s.CreateKey(Ctx(c), r, &out); }},
      {"GetKey", kReaders, [](Stub& s, Stub&, const std::string&) {
         grpc::ClientContext c; v1::GetKeyRequest r; v1::Key out;
         r.set_name("keys/k1");
         return s.GetKey(Ctx(c), r, &out); }},
      {"ListKeys", {"admin", "admin2", "owner1", "owner2", "auditor"},
       [](Stub& s, Stub&, const std::string&) {
         grpc::ClientContext c; v1::ListKeysRequest r; v1::ListKeysResponse out;
         return s.ListKeys(Ctx(c), r, &out); }},
      {"UpdateKey", kAdmins, [](Stub& s, Stub&, const std::string& who) {
         grpc::ClientContext c; v1::UpdateKeyRequest r; v1::ChangeResult out;
         r.set_name("keys/k1"); r.add_update_mask("description"); r.set_description(who);
         return s.UpdateKey(Ctx(c), r, &out); }},
      {"RotateKey", kAdmins, [](Stub& s, Stub&, const std::string&) {
         grpc::ClientContext c; v1::RotateKeyRequest r; v1::KeyVersion out;
         r.set_name("keys/k1");
         return s.RotateKey(Ctx(c), r, &out); }},
      {"GetKeyVersion", kReaders, [](Stub& s, Stub&, const std::string&) {
         grpc::ClientContext c; v1::GetKeyVersionRequest r; v1::KeyVersion out;
         r.set_name("keys/k1/versions/1");
         return s.GetKeyVersion(Ctx(c), r, &out); }},
      {"ListKeyVersions", kReaders, [](Stub& s, Stub&, const std::string&) {
         grpc::ClientContext c; v1::ListKeyVersionsRequest r; v1::ListKeyVersionsResponse out;
         r.set_parent("keys/k1");
         return s.ListKeyVersions(Ctx(c), r, &out); }},
      {"SetKeyVersionState", kAdmins, [](Stub& s, Stub& admin, const std::string&) {
         std::string target = RotateOut(admin);
         grpc::ClientContext c;
         v1::SetKeyVersionStateRequest r;
         v1::ChangeResult out;
         r.set_name(target); r.set_state(v1::DISABLED);
         return s.SetKeyVersionState(Ctx(c), r, &out); }},
      {"DestroyKeyVersion", kAdmins, [](Stub& s, Stub& admin, const std::string&) {
         std::string target = RotateOut(admin);
         grpc::ClientContext c; v1::DestroyKeyVersionRequest r; v1::ChangeResult out;
         r.set_name(target);
         return s.DestroyKeyVersion(Ctx(c), r, &out); }},
      {"RestoreKeyVersion", kAdmins, [](Stub& s, Stub& admin, const std::string&) {
         std::string target = RotateOut(admin);
         grpc::ClientContext setup; v1::DestroyKeyVersionRequest d; v1::ChangeResult scheduled;
         d.set_name(target);
         EXPECT_TRUE(admin.DestroyKeyVersion(Ctx(setup), d, &scheduled).ok());
         grpc::ClientContext c;
         v1::RestoreKeyVersionRequest r;
         v1::ChangeResult out;
         r.set_name(target);
         return s.RestoreKeyVersion(Ctx(c), r, &out); }},
      {"ApproveChange", {"admin2"}, [](Stub& s, Stub& admin, const std::string&) {
         grpc::ClientContext setup; v1::UpdateKeyRequest u; v1::ChangeResult proposed;
         u.set_name("keys/dc"); u.add_update_mask("description"); u.set_description("x");
         EXPECT_TRUE(admin.UpdateKey(Ctx(setup), u, &proposed).ok());
         EXPECT_TRUE(proposed.has_pending());
         grpc::ClientContext c; v1::ApproveChangeRequest r; v1::ChangeResult out;
         r.set_id(proposed.pending().id());
         return s.ApproveChange(Ctx(c), r, &out); }},
      {"ListChanges", {"admin", "admin2", "auditor"}, [](Stub& s, Stub&, const std::string&) {
         grpc::ClientContext c; v1::ListChangesRequest r; v1::ListChangesResponse out;
         return s.ListChanges(Ctx(c), r, &out); }},
      {"Encrypt", kOwnerOnly, [](Stub& s, Stub&, const std::string&) {
         grpc::ClientContext c; v1::EncryptRequest r; v1::EncryptResponse out;
         r.set_name("keys/k1"); r.set_plaintext("p");
         return s.Encrypt(Ctx(c), r, &out); }},
      {"Decrypt", kOwnerOnly, [&](Stub& s, Stub&, const std::string&) {
         grpc::ClientContext c; v1::DecryptRequest r; v1::DecryptResponse out;
         r.set_ciphertext(ciphertext);
         grpc::Status st = s.Decrypt(Ctx(c), r, &out);
         if (st.ok()) {
           EXPECT_EQ(out.plaintext(), "hello");
         }
         return st; }},
      {"GenerateDataKey", kOwnerOnly, [](Stub& s, Stub&, const std::string&) {
         grpc::ClientContext c; v1::GenerateDataKeyRequest r; v1::GenerateDataKeyResponse out;
         r.set_name("keys/k1");
         return s.GenerateDataKey(Ctx(c), r, &out); }},
      {"ReEncrypt", kOwnerOnly, [&](Stub& s, Stub&, const std::string&) {
         grpc::ClientContext c; v1::ReEncryptRequest r; v1::ReEncryptResponse out;
         r.set_ciphertext(ciphertext);
         return s.ReEncrypt(Ctx(c), r, &out); }},
      {"GetRootKeyStatus", {"admin", "admin2", "auditor"}, [](Stub& s, Stub&, const std::string&) {
         grpc::ClientContext c; v1::GetRootKeyStatusRequest r; v1::RootKeyStatus out;
         return s.GetRootKeyStatus(Ctx(c), r, &out); }},
      {"RotateRootKey", kAdmins, [](Stub& s, Stub& admin, const std::string&) {
         // Wait for an earlier rotation's rewrap (maintenance runs every 20 ms).
         for (int i = 0; i < 500; ++i) {
           grpc::ClientContext w; v1::RootKeyStatus st;
           EXPECT_TRUE(admin.GetRootKeyStatus(Ctx(w), v1::GetRootKeyStatusRequest(), &st).ok());
           if (!st.rewrap_running()) break;
           std::this_thread::sleep_for(std::chrono::milliseconds(20));
         }
         grpc::ClientContext c; v1::RotateRootKeyRequest r; v1::RootKeyStatus out;
         return s.RotateRootKey(Ctx(c), r, &out); }},
  };

  int checked = 0;
  for (const Rpc& rpc : rpcs) {
    for (const std::string& who : kIdentities) {
      auto stub = StubFor(who);
      grpc::Status st = rpc.call(*stub, *admin, who);
      ++checked;
      if (who == "foreign" || who == "nocert" || who == "expired") {
        EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << rpc.name << " as " << who;
      } else if (rpc.allowed.count(who)) {
        EXPECT_TRUE(st.ok()) << rpc.name << " as " << who << ": " << st.error_message();
      } else {
        EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED)
            << rpc.name << " as " << who << ": " << st.error_message();
        EXPECT_THAT(st.error_message(), ::testing::HasSubstr(rpc.name == "ApproveChange" && who == "admin"
                                                                 ? "different admin" : "denied"));
      }
    }
  }
  EXPECT_EQ(checked, 19 * 10);
}

}  // namespace
}  // namespace strongroom::server
