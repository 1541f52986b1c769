#include "attest/tpm/testing/swtpm_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status_macros.h"

extern char** environ;

namespace strongroom::attest::testing {
namespace {

absl::Status TssError(absl::string_view call, TSS2_RC rc) {
  return absl::InternalError(
      absl::StrCat(call, ": ", Tss2_RC_Decode(rc), " (0x", absl::Hex(rc), ")"));
}

bool OnPath(const char* tool) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string p(path);
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string candidate = p.substr(start, end - start) + "/" + tool;
    if (access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

// Starts `argv` with stdout/stderr appended to `log`; returns the pid.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("spawn ", argv[0], ": ", std::strerror(rc)));
  }
  return pid;
}

std::string LogTail(const std::string& log) {
  auto text = ReadFileToString(log, "log");
  if (!text.ok()) return "";
  return text->size() > 800 ? text->substr(text->size() - 800) : *text;
}

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// Whether a TCP socket on 127.0.0.1:`port` can bind (`connect` false) or
// connect (`connect` true).
bool LoopbackSocketSucceeds(int port, bool connect_to) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return false;
  sockaddr_in addr = Loopback(port);
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  bool ok = (connect_to ? connect(s, sa, sizeof(addr)) : bind(s, sa, sizeof(addr))) == 0;
  close(s);
  return ok;
}

bool CanBind(int port) { return LoopbackSocketSucceeds(port, /*connect_to=*/false); }

// A port P from the kernel (bind to 0) such that P+1 is free too.
int PickPortPair() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = Loopback(0);
    socklen_t len = sizeof(addr);
    int port = 0;
    if (bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    close(s);
    if (port > 0 && port < 65535 && CanBind(port + 1)) return port;
  }
  return 0;
}

bool Connects(int port) { return LoopbackSocketSucceeds(port, /*connect_to=*/true); }

absl::Status WriteFile(const std::string& path, absl::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

TPML_PCR_SELECTION Sha256Selection(const std::vector<uint32_t>& pcrs) {
  TPML_PCR_SELECTION sel{};
  sel.count = 1;
  sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
  sel.pcrSelections[0].sizeofSelect = 3;
  for (uint32_t p : pcrs) {
    sel.pcrSelections[0].pcrSelect[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
  }
  return sel;
}

// The EK template's authPolicy: PolicySecret(TPM_RH_ENDORSEMENT), computed
// as Part 1 describes policy updates instead of copied from the profile.
TPM2B_DIGEST EkPolicy() {
  uint8_t buf[32 + 4 + 4] = {0};
  const uint8_t cc[4] = {0x00, 0x00, 0x01, 0x51};    // TPM_CC_PolicySecret
  const uint8_t name[4] = {0x40, 0x00, 0x00, 0x0b};  // TPM_RH_ENDORSEMENT
  std::memcpy(buf + 32, cc, 4);
  std::memcpy(buf + 36, name, 4);
  uint8_t step[32];
  SHA256(buf, sizeof(buf), step);
  TPM2B_DIGEST out{};
  out.size = 32;
  SHA256(step, sizeof(step), out.buffer);  // || policyRef (empty)
  return out;
}

template <typename T>
struct EsysDeleter {
  void operator()(T* p) const { Esys_Free(p); }
};
template <typename T>
using EsysPtr = std::unique_ptr<T, EsysDeleter<T>>;

}  // namespace

bool Swtpm::Installed() {
  return OnPath("swtpm") && OnPath("swtpm_setup") && OnPath("swtpm_localca");
}

absl::StatusOr<std::unique_ptr<Swtpm>> Swtpm::Start() {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/strongroom-swtpm-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", templ));
  }
  std::unique_ptr<Swtpm> tpm(new Swtpm(templ));
  const std::string& d = tpm->dir_;
  std::filesystem::create_directories(d + "/state");
  std::filesystem::create_directories(d + "/ca");
  if (absl::Status s =
          WriteFile(d + "/localca.conf",
                    absl::StrCat("statedir = ", d, "/ca\n", "signingkey = ", d, "/ca/signkey.pem\n",
                                 "issuercert = ", d, "/ca/issuercert.pem\n", "certserial = ", d,
                                 "/ca/certserial\n"));
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          WriteFile(d + "/setup.conf",
                    absl::StrCat("create_certs_tool = swtpm_localca\n",
                                 "create_certs_tool_config = ", d, "/localca.conf\n",
                                 "create_certs_tool_options = /etc/swtpm-localca.options\n",
                                 "active_pcr_banks = sha256\n"));
      !s.ok()) {
    return s;
  }
  std::string log = d + "/setup.log";
  auto pid = Spawn({"swtpm_setup", "--tpm2", "--tpmstate", d + "/state", "--create-ek-cert",
                    "--pcr-banks", "sha256", "--config", d + "/setup.conf"},
                   log);
  if (!pid.ok()) return pid.status();
  int status = 0;
  waitpid(*pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("swtpm_setup failed: ", LogTail(log)));
  }
  if (absl::Status s = tpm->Launch(); !s.ok()) return s;
  return tpm;
}

absl::Status Swtpm::Launch() {
  std::string log = dir_ + "/swtpm.log";
  for (int attempt = 0; attempt < 10; ++attempt) {
    int port = PickPortPair();
    if (port == 0) return absl::UnavailableError("no free loopback port pair");
    auto pid = Spawn({"swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + dir_ + "/state",
                      absl::StrCat("--server=type=tcp,port=", port, ",bindaddr=127.0.0.1"),
                      absl::StrCat("--ctrl=type=tcp,port=", port + 1, ",bindaddr=127.0.0.1"),
                      "--flags", "not-need-init,startup-clear"},
                     log);
    if (!pid.ok()) return pid.status();
    for (int i = 0; i < 200; ++i) {
      int status = 0;
      if (waitpid(*pid, &status, WNOHANG) == *pid) break;  // lost the port
      if (Connects(port)) {
        pid_ = *pid;
        port_ = port;
        return absl::OkStatus();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, nullptr, 0);
  }
  return absl::UnavailableError(absl::StrCat("swtpm did not start: ", LogTail(log)));
}

Swtpm::~Swtpm() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string Swtpm::tcti() const { return absl::StrCat("swtpm:host=127.0.0.1,port=", port_); }

absl::StatusOr<std::string> Swtpm::EkCaRootPem() const {
  return ReadFileToString(dir_ + "/ca/swtpm-localca-rootca-cert.pem", "EK CA root");
}

absl::StatusOr<std::string> Swtpm::EkCaIssuerPem() const {
  return ReadFileToString(dir_ + "/ca/issuercert.pem", "EK CA issuer");
}

absl::StatusOr<std::unique_ptr<TpmSession>> TpmSession::Connect(const std::string& tcti_conf) {
  // Tests provoke TPM errors on purpose; the returned Status carries them.
  setenv("TSS2_LOG", "all+none", /*overwrite=*/0);
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti_conf.c_str(), &tcti);
  if (rc != TSS2_RC_SUCCESS) return TssError("Tss2_TctiLdr_Initialize", rc);
  ESYS_CONTEXT* esys = nullptr;
  rc = Esys_Initialize(&esys, tcti, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    Tss2_TctiLdr_Finalize(&tcti);
    return TssError("Esys_Initialize", rc);
  }
  return std::unique_ptr<TpmSession>(new TpmSession(tcti, esys));
}

TpmSession::~TpmSession() {
  Esys_Finalize(&esys_);
  Tss2_TctiLdr_Finalize(&tcti_);
}

absl::StatusOr<TpmKey> TpmSession::CreatePrimary(const TPM2B_PUBLIC& in) {
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION creation_pcrs{};
  ESYS_TR handle = ESYS_TR_NONE;
  TPM2B_PUBLIC* out_public = nullptr;
  TPM2B_CREATION_DATA* creation_data = nullptr;
  TPM2B_DIGEST* creation_hash = nullptr;
  TPMT_TK_CREATION* ticket = nullptr;
  TSS2_RC rc = Esys_CreatePrimary(esys_, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  ESYS_TR_NONE, &sensitive, &in, &outside, &creation_pcrs, &handle,
                                  &out_public, &creation_data, &creation_hash, &ticket);
  EsysPtr<TPM2B_PUBLIC> pub(out_public);
  Esys_Free(creation_data);
  Esys_Free(creation_hash);
  Esys_Free(ticket);
  if (rc != TSS2_RC_SUCCESS) return TssError("Esys_CreatePrimary", rc);
  return Describe(handle, *pub);
}

absl::StatusOr<TpmKey> TpmSession::Describe(ESYS_TR handle, const TPM2B_PUBLIC& pub) {
  TpmKey key;
  key.handle = handle;
  uint8_t buf[sizeof(TPMT_PUBLIC)];
  size_t offset = 0;
  TSS2_RC rc = Tss2_MU_TPMT_PUBLIC_Marshal(&pub.publicArea, buf, sizeof(buf), &offset);
  if (rc != TSS2_RC_SUCCESS) return TssError("Tss2_MU_TPMT_PUBLIC_Marshal", rc);
  key.public_area.assign(buf, buf + offset);
  TPM2B_NAME* name = nullptr;
  rc = Esys_TR_GetName(esys_, handle, &name);
  if (rc != TSS2_RC_SUCCESS) return TssError("Esys_TR_GetName", rc);
  key.name.assign(name->name, name->name + name->size);
  Esys_Free(name);
  return key;
}

absl::StatusOr<ESYS_TR> TpmSession::FromTpmHandle(uint32_t tpm_handle) {
  ESYS_TR handle = ESYS_TR_NONE;
  TSS2_RC rc =
      Esys_TR_FromTPMPublic(esys_, tpm_handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &handle);
  if (rc != TSS2_RC_SUCCESS) return TssError("Esys_TR_FromTPMPublic", rc);
  return handle;
}

absl::StatusOr<TpmKey> TpmSession::Persistent(uint32_t tpm_handle) {
  ASSIGN_OR_RETURN(ESYS_TR handle, FromTpmHandle(tpm_handle));
  TPM2B_PUBLIC* pub = nullptr;
  TPM2B_NAME* name = nullptr;
  TPM2B_NAME* qualified = nullptr;
  TSS2_RC rc = Esys_ReadPublic(esys_, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name,
                               &qualified);
  EsysPtr<TPM2B_PUBLIC> owned(pub);
  Esys_Free(name);
  Esys_Free(qualified);
  if (rc != TSS2_RC_SUCCESS) return TssError("Esys_ReadPublic", rc);
  return Describe(handle, *pub);
}

absl::StatusOr<TpmKey> TpmSession::CreateEk(TpmKeyKind kind) {
  TPM2B_PUBLIC in{};
  TPMT_PUBLIC& p = in.publicArea;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                       TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  p.authPolicy = EkPolicy();
  if (kind == TpmKeyKind::kRsa) {
    p.type = TPM2_ALG_RSA;
    p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
    p.parameters.rsaDetail.symmetric.keyBits.aes = 128;
    p.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    p.parameters.rsaDetail.keyBits = 2048;
    p.parameters.rsaDetail.exponent = 0;
    p.unique.rsa.size = 256;  // zeros, as the template says
  } else {
    p.type = TPM2_ALG_ECC;
    p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
    p.parameters.eccDetail.symmetric.keyBits.aes = 128;
    p.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    p.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    p.unique.ecc.x.size = 32;
    p.unique.ecc.y.size = 32;
  }
  return CreatePrimary(in);
}

absl::StatusOr<TpmKey> TpmSession::CreateAk(TpmKeyKind kind, absl::string_view unique) {
  TPM2B_PUBLIC in{};
  TPMT_PUBLIC& p = in.publicArea;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                       TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
  size_t n = std::min<size_t>(unique.size(), 32);
  if (kind == TpmKeyKind::kRsa) {
    p.type = TPM2_ALG_RSA;
    p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
    p.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
    p.parameters.rsaDetail.keyBits = 2048;
    p.unique.rsa.size = static_cast<UINT16>(n);
    std::memcpy(p.unique.rsa.buffer, unique.data(), n);
  } else {
    p.type = TPM2_ALG_ECC;
    p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    p.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    p.unique.ecc.x.size = static_cast<UINT16>(n);
    std::memcpy(p.unique.ecc.x.buffer, unique.data(), n);
  }
  return CreatePrimary(in);
}

absl::Status TpmSession::Flush(ESYS_TR handle) {
  TSS2_RC rc = Esys_FlushContext(esys_, handle);
  if (rc != TSS2_RC_SUCCESS) return TssError("Esys_FlushContext", rc);
  return absl::OkStatus();
}

absl::StatusOr<Bytes> TpmSession::ReadNv(uint32_t nv_index) {
  ASSIGN_OR_RETURN(ESYS_TR nv, FromTpmHandle(nv_index));
  TPM2B_NV_PUBLIC* nv_public = nullptr;
  TPM2B_NAME* nv_name = nullptr;
  TSS2_RC rc =
      Esys_NV_ReadPublic(esys_, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv_public, &nv_name);
  if (rc != TSS2_RC_SUCCESS) {
    Esys_TR_Close(esys_, &nv);
    return TssError("Esys_NV_ReadPublic", rc);
  }
  uint16_t size = nv_public->nvPublic.dataSize;
  Esys_Free(nv_public);
  Esys_Free(nv_name);
  Bytes out;
  while (out.size() < size) {
    uint16_t chunk = static_cast<uint16_t>(std::min<size_t>(512, size - out.size()));
    TPM2B_MAX_NV_BUFFER* data = nullptr;
    rc = Esys_NV_Read(esys_, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, chunk,
                      static_cast<uint16_t>(out.size()), &data);
    if (rc != TSS2_RC_SUCCESS) {
      Esys_TR_Close(esys_, &nv);
      return TssError("Esys_NV_Read", rc);
    }
    out.insert(out.end(), data->buffer, data->buffer + data->size);
    Esys_Free(data);
  }
  Esys_TR_Close(esys_, &nv);
  return out;
}

absl::Status TpmSession::ExtendPcrSha256(uint32_t pcr, const Bytes& digest) {
  if (digest.size() != 32) return absl::InvalidArgumentError("digest size");
  TPML_DIGEST_VALUES values{};
  values.count = 1;
  values.digests[0].hashAlg = TPM2_ALG_SHA256;
  std::memcpy(values.digests[0].digest.sha256, digest.data(), 32);
  TSS2_RC rc = Esys_PCR_Extend(esys_, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE, &values);
  if (rc != TSS2_RC_SUCCESS) return TssError("Esys_PCR_Extend", rc);
  return absl::OkStatus();
}

absl::StatusOr<std::map<uint32_t, Bytes>> TpmSession::ReadPcrsSha256(
    const std::vector<uint32_t>& pcrs) {
  std::map<uint32_t, Bytes> out;
  for (uint32_t p : pcrs) {
    TPML_PCR_SELECTION sel = Sha256Selection({p});
    UINT32 counter = 0;
    TPML_PCR_SELECTION* sel_out = nullptr;
    TPML_DIGEST* values = nullptr;
    TSS2_RC rc = Esys_PCR_Read(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &counter,
                               &sel_out, &values);
    if (rc != TSS2_RC_SUCCESS) return TssError("Esys_PCR_Read", rc);
    if (values->count != 1) {
      Esys_Free(sel_out);
      Esys_Free(values);
      return absl::InternalError(absl::StrCat("PCR ", p, " not returned"));
    }
    out[p].assign(values->digests[0].buffer, values->digests[0].buffer + values->digests[0].size);
    Esys_Free(sel_out);
    Esys_Free(values);
  }
  return out;
}

absl::StatusOr<TpmQuoteOutput> TpmSession::QuoteSha256(ESYS_TR ak, const Bytes& nonce,
                                                       const std::vector<uint32_t>& pcrs) {
  TPM2B_DATA qualifying{};
  if (nonce.size() > sizeof(qualifying.buffer)) {
    return absl::InvalidArgumentError("nonce too long");
  }
  qualifying.size = static_cast<UINT16>(nonce.size());
  std::memcpy(qualifying.buffer, nonce.data(), nonce.size());
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;
  TPML_PCR_SELECTION sel = Sha256Selection(pcrs);
  TPM2B_ATTEST* quoted = nullptr;
  TPMT_SIGNATURE* signature = nullptr;
  TSS2_RC rc = Esys_Quote(esys_, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qualifying,
                          &scheme, &sel, &quoted, &signature);
  if (rc != TSS2_RC_SUCCESS) return TssError("Esys_Quote", rc);
  EsysPtr<TPM2B_ATTEST> q(quoted);
  EsysPtr<TPMT_SIGNATURE> s(signature);
  TpmQuoteOutput out;
  out.attest.assign(q->attestationData, q->attestationData + q->size);
  uint8_t buf[sizeof(TPMT_SIGNATURE)];
  size_t offset = 0;
  rc = Tss2_MU_TPMT_SIGNATURE_Marshal(s.get(), buf, sizeof(buf), &offset);
  if (rc != TSS2_RC_SUCCESS) {
    return TssError("Tss2_MU_TPMT_SIGNATURE_Marshal", rc);
  }
  out.signature.assign(buf, buf + offset);
  return out;
}

absl::StatusOr<SecretBytes> TpmSession::ActivateCredential(ESYS_TR ak, const TpmKey& ek,
                                                           const Bytes& credential_blob,
                                                           const Bytes& encrypted_secret) {
  TPM2B_ID_OBJECT blob{};
  TPM2B_ENCRYPTED_SECRET secret{};
  size_t offset = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(credential_blob.data(), credential_blob.size(),
                                                 &offset, &blob);
  if (rc != TSS2_RC_SUCCESS || offset != credential_blob.size()) {
    return absl::InvalidArgumentError("credential blob is not a TPM2B_ID_OBJECT");
  }
  offset = 0;
  rc = Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(encrypted_secret.data(), encrypted_secret.size(),
                                                &offset, &secret);
  if (rc != TSS2_RC_SUCCESS || offset != encrypted_secret.size()) {
    return absl::InvalidArgumentError("encrypted secret is not a TPM2B_ENCRYPTED_SECRET");
  }
  TPMT_PUBLIC ek_public{};
  offset = 0;
  rc = Tss2_MU_TPMT_PUBLIC_Unmarshal(ek.public_area.data(), ek.public_area.size(), &offset,
                                     &ek_public);
  if (rc != TSS2_RC_SUCCESS) return TssError("Tss2_MU_TPMT_PUBLIC_Unmarshal", rc);
  ESYS_TR ek_auth = ESYS_TR_PASSWORD;
  if (!(ek_public.objectAttributes & TPMA_OBJECT_USERWITHAUTH)) {
    // The EK's policy: PolicySecret(TPM_RH_ENDORSEMENT) in a policy session.
    TPMT_SYM_DEF no_sym{};
    no_sym.algorithm = TPM2_ALG_NULL;
    rc = Esys_StartAuthSession(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               ESYS_TR_NONE, nullptr, TPM2_SE_POLICY, &no_sym, TPM2_ALG_SHA256,
                               &ek_auth);
    if (rc != TSS2_RC_SUCCESS) return TssError("Esys_StartAuthSession", rc);
    rc = Esys_PolicySecret(esys_, ESYS_TR_RH_ENDORSEMENT, ek_auth, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                           ESYS_TR_NONE, nullptr, nullptr, nullptr, 0, nullptr, nullptr);
    if (rc != TSS2_RC_SUCCESS) {
      Esys_FlushContext(esys_, ek_auth);
      return TssError("Esys_PolicySecret", rc);
    }
  }
  TPM2B_DIGEST* cert_info = nullptr;
  rc = Esys_ActivateCredential(esys_, ak, ek.handle, ESYS_TR_PASSWORD, ek_auth, ESYS_TR_NONE, &blob,
                               &secret, &cert_info);
  if (ek_auth != ESYS_TR_PASSWORD) Esys_FlushContext(esys_, ek_auth);
  if (rc != TSS2_RC_SUCCESS) return TssError("Esys_ActivateCredential", rc);
  SecretBytes out = SecretBytes::CopyFrom({cert_info->buffer, cert_info->size});
  OPENSSL_cleanse(cert_info->buffer, cert_info->size);
  Esys_Free(cert_info);
  return out;
}

}  // namespace strongroom::attest::testing
