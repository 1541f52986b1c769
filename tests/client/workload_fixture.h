// Test support for the workload side: a fresh dev attester key, the server
// configuration that trusts it, and workload clients built with a test
// failure (not a crash) when they cannot be made.
//
//   ASSERT_OK_AND_ASSIGN(std::string dev_key_pem, TrustNewDevKey(config_dir));
//   // ... a server started with kDevAttestationYaml in its configuration
//   auto wl = NewWorkloadClient(conn, NewDevAttester(dev_key_pem, measurement));
//
// Functions only; nothing here is shared between tests.
#ifndef STRONGROOM_TESTS_CLIENT_WORKLOAD_FIXTURE_H_
#define STRONGROOM_TESTS_CLIENT_WORKLOAD_FIXTURE_H_

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/status_macros.h"
#include "client/dev_attester.h"
#include "client/workload.h"
#include "kms/hpke/keys.h"

namespace strongroom::client::testing {

// A new EC P-256 private key as unencrypted PEM (PKCS#8); empty, and a
// failure of the running test, when it cannot be made.
inline std::string NewP256PrivateKeyPem() {
  absl::StatusOr<std::string> pem = GenerateDevAttesterKeyPem();
  EXPECT_TRUE(pem.ok()) << pem.status();
  return pem.ok() ? *pem : std::string();
}

// The attestation section of a server configuration with the TPM verifier
// on and the dev attester trusting dev.pub.pem (see TrustNewDevKey). More
// lines of the section (a "  tpm: {...}\n") may follow it.
inline constexpr char kDevAttestationYaml[] =
    "attestation:\n"
    "  verifiers: [tpm]\n"
    "  dev_attester: {enabled: true, trusted_keys: [dev.pub.pem]}\n";

// Makes a dev attester key, writes its public key to `dir`/dev.pub.pem and
// returns the private key PEM. Internal when the file cannot be written.
inline absl::StatusOr<std::string> TrustNewDevKey(const std::string& dir) {
  std::string pem = NewP256PrivateKeyPem();
  ASSIGN_OR_RETURN(std::unique_ptr<DevAttester> dev,
                   DevAttester::Create(DevAttesterOptions{pem, Bytes(48, 0)}));
  const std::string path = dir + "/dev.pub.pem";
  std::ofstream out(path, std::ios::binary);
  out << dev->public_key_pem();
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return pem;
}

// A dev attester signing `measurement` with `key_pem`; nullptr, and a
// failure of the running test, when it cannot be made.
inline std::unique_ptr<DevAttester> NewDevAttester(const std::string& key_pem,
                                                   const Bytes& measurement) {
  absl::StatusOr<std::unique_ptr<DevAttester>> a =
      DevAttester::Create(DevAttesterOptions{key_pem, measurement});
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *std::move(a) : nullptr;
}

// A workload client on `conn` attesting with `attester`; nullptr, and a
// failure of the running test, when it cannot be made.
inline std::unique_ptr<WorkloadClient> NewWorkloadClient(
    Connection* conn, std::unique_ptr<Attester> attester,
    kms::hpke::Kem kem = kms::hpke::Kem::kDhkemP256HkdfSha256) {
  WorkloadOptions o;
  o.kem = kem;
  absl::StatusOr<std::unique_ptr<WorkloadClient>> c =
      WorkloadClient::Create(conn, std::move(attester), o);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

}  // namespace strongroom::client::testing

#endif  // STRONGROOM_TESTS_CLIENT_WORKLOAD_FIXTURE_H_
