// Fuzzes the HPKE parsers and the recipient path with untrusted bytes:
// raw public / private key encodings, SPKI and PKCS#8 (DER and PEM), and
// SetupBaseR / SetupPskR / SetupAuthR + Open (the decap of an attacker's
// enc, then AEAD open of the rest) for both KEMs. Errors are expected;
// crashes, leaks and UB are not.
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "kms/hpke/hpke.h"

namespace {

using namespace strongroom;             // NOLINT
using namespace strongroom::kms::hpke;  // NOLINT

struct Recipient {
  Suite suite;
  KeyPair key;
};

// Fixed keys, derived once from constant ikm so runs are reproducible.
const Recipient& ForKem(Kem kem) {
  auto make = [](Kem k, Aead a) {
    auto suite = Suite::Create(k, Kdf::kHkdfSha256, a);
    auto key = DeriveKeyPair(k, SecretBytes(32));
    if (!suite.ok() || !key.ok()) __builtin_trap();
    return new Recipient{*suite, *std::move(key)};
  };
  static const Recipient* p256 = make(Kem::kDhkemP256HkdfSha256, Aead::kAes128Gcm);
  static const Recipient* x25519 = make(Kem::kDhkemX25519HkdfSha256, Aead::kChaCha20Poly1305);
  return kem == Kem::kDhkemP256HkdfSha256 ? *p256 : *x25519;
}

void Keys(std::span<const uint8_t> in) {
  const SecretBytes secret = SecretBytes::CopyFrom(in);
  for (Kem kem : {Kem::kDhkemP256HkdfSha256, Kem::kDhkemX25519HkdfSha256}) {
    (void)PublicKey::Create(kem, in);
    (void)PrivateKey::Create(kem, secret);
  }
  if (auto pk = PublicKey::FromSpkiDer(in); pk.ok()) (void)pk->ToPem();
  (void)PublicKey::FromPem(AsStringView(in));
  if (auto sk = PrivateKey::FromPkcs8Der(secret); sk.ok()) (void)sk->ToPkcs8Pem();
  (void)PrivateKey::FromPkcs8Pem(secret);
}

void Open(std::span<const uint8_t> in) {
  for (Kem kem : {Kem::kDhkemP256HkdfSha256, Kem::kDhkemX25519HkdfSha256}) {
    const Recipient& r = ForKem(kem);
    const size_t nenc = r.suite.enc_size();
    if (in.size() < nenc) {
      (void)SetupBaseR(r.suite, in, r.key.private_key, {});
      continue;
    }
    const std::span<const uint8_t> enc = in.first(nenc);
    const std::span<const uint8_t> rest = in.subspan(nenc);
    // Single shot: everything after enc is the ciphertext.
    (void)kms::hpke::Open(r.suite, r.key.private_key, enc, {}, {}, rest);
    // A context over two messages, and the PSK and auth variants.
    if (auto ctx = SetupBaseR(r.suite, enc, r.key.private_key, rest.first(rest.size() / 2));
        ctx.ok()) {
      (void)ctx->Open({}, rest.first(rest.size() / 2));
      (void)ctx->Open(rest.first(rest.size() / 3), rest.subspan(rest.size() / 2));
      (void)ctx->Export(rest.first(rest.size() / 4), rest.size() % 9000);
    }
    static const SecretBytes* psk = new SecretBytes(32);
    if (auto ctx = SetupPskR(r.suite, enc, r.key.private_key, {}, *psk, AsBytes("id")); ctx.ok()) {
      (void)ctx->Open({}, rest);
    }
    if (auto ctx = SetupAuthR(r.suite, enc, r.key.private_key, {}, r.key.public_key); ctx.ok()) {
      (void)ctx->Open({}, rest);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  Keys(in);
  Open(in);
  return 0;
}
