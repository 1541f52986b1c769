// strongroomd's server object on 127.0.0.1 port 0 with real mutual TLS, a real
// SoftHSM token and RocksDB in a temp dir, driven through the client SDK: status,
// HSM check, roles, TLS and config errors (the audit chain through the server:
// server_audit_test.cc).
#include "server/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/file.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "client/connection.h"
#include "hsm-sim/testing/softhsm_token.h"
#include "server/config.h"

namespace strongroom::server {
namespace {

namespace v1 = ::strongroom::v1;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Pki(const std::string& dir, const std::string& clients) {
  std::string cmd = absl::StrCat(STRONGROOM_SOURCE_DIR, "/deploy/local-ca.sh --dir ", dir,
                                 " ", clients, " >/dev/null 2>&1");
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return dir;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(token_, hsm_sim::SoftHsmToken::Create("server-test"));
    pki_ = Pki(token_->dir() + "/pki",
               "--client admin --client stranger --client auditor --client owner --client worker");
    foreign_ = Pki(token_->dir() + "/foreign", "--client admin");
    std::string yaml = absl::StrCat(R"(
server:
  listen: 127.0.0.1:0
  tls: {cert: pki/server.crt, key: pki/server.key, client_ca: pki/ca.crt}
hsm:
  module: )",
                                    hsm_sim::SoftHsmToken::SoftHsmModulePath(), R"(
  token_label: server-test
  pin_file: )",
                                    token_->pin_file(), R"(
storage: {path: db}
principals:
  - {name: "spiffe://strongroom/admin", role: admin}
  - {name: "spiffe://strongroom/auditor", role: auditor}
  - {name: "spiffe://strongroom/owner", role: owner}
  - {name: "spiffe://strongroom/worker", role: workload}
)");
    ASSERT_OK_AND_ASSIGN(ServerConfig config, ParseServerConfig(yaml, "test.yaml", token_->dir()));
    ASSERT_OK_AND_ASSIGN(server_, StrongroomServer::Start(config));
    ASSERT_GT(server_->port(), 0);
  }

  client::ConnectionOptions As(const std::string& pki, const std::string& client) {
    return {absl::StrCat("127.0.0.1:", server_->port()), pki_ + "/ca.crt",
            absl::StrCat(pki, "/clients/", client, ".crt"),
            absl::StrCat(pki, "/clients/", client, ".key"), "", absl::Seconds(5)};
  }

  std::unique_ptr<hsm_sim::SoftHsmToken> token_;
  std::string pki_, foreign_;
  std::unique_ptr<StrongroomServer> server_;
};

TEST_F(ServerTest, StatusNamesTheCallerAndTheToken) {
  ASSERT_OK_AND_ASSIGN(auto conn, client::Connection::Open(As(pki_, "admin")));
  ASSERT_OK_AND_ASSIGN(auto status, conn->GetStatus());
  EXPECT_EQ(status.principal(), "spiffe://strongroom/admin");
  EXPECT_EQ(status.role(), "admin");
  EXPECT_EQ(status.hsm().token_label(), "server-test");
  EXPECT_EQ(status.hsm().manufacturer(), "SoftHSM project");
  EXPECT_THAT(status.storage().path(), HasSubstr("/db"));
  EXPECT_TRUE(std::filesystem::exists(token_->dir() + "/db/CURRENT"));
}

TEST_F(ServerTest, UnlistedPrincipalHasNoRole) {
  ASSERT_OK_AND_ASSIGN(auto conn, client::Connection::Open(As(pki_, "stranger")));
  ASSERT_OK_AND_ASSIGN(auto status, conn->GetStatus());
  EXPECT_EQ(status.principal(), "spiffe://strongroom/stranger");
  EXPECT_EQ(status.role(), "none");
  // Who it is, but not the HSM token or the database; no HSM operations.
  EXPECT_FALSE(status.has_hsm());
  EXPECT_FALSE(status.has_storage());
  EXPECT_THAT(conn->CheckHsm(0), StatusIs(absl::StatusCode::kPermissionDenied,
                                          HasSubstr("(role none) is not an admin or auditor")));
}

// The token and the database for admins, auditors and owners; the HSM check
// for admins and auditors.
TEST_F(ServerTest, StatusDetailsAndTheHsmCheckFollowTheRole) {
  for (const auto& [client, details, check] :
       {std::tuple<std::string, bool, bool>{"auditor", true, true},
        std::tuple<std::string, bool, bool>{"owner", true, false},
        std::tuple<std::string, bool, bool>{"worker", false, false}}) {
    SCOPED_TRACE(client);
    ASSERT_OK_AND_ASSIGN(auto conn, client::Connection::Open(As(pki_, client)));
    ASSERT_OK_AND_ASSIGN(auto status, conn->GetStatus());
    EXPECT_EQ(status.principal(), "spiffe://strongroom/" + client);
    EXPECT_EQ(status.has_hsm(), details);
    EXPECT_EQ(status.hsm().token_label(), details ? "server-test" : "");
    EXPECT_EQ(status.has_storage(), details);
    if (check) {
      ASSERT_OK_AND_ASSIGN(auto report, conn->CheckHsm(0));
      EXPECT_TRUE(report.ok());
    } else {
      EXPECT_THAT(conn->CheckHsm(0), StatusIs(absl::StatusCode::kPermissionDenied,
                                              HasSubstr("is not an admin or auditor")));
    }
  }
}

TEST_F(ServerTest, HsmCheckRunsEveryStep) {
  ASSERT_OK_AND_ASSIGN(auto conn, client::Connection::Open(As(pki_, "admin")));
  ASSERT_OK_AND_ASSIGN(auto report, conn->CheckHsm(1000));
  EXPECT_TRUE(report.ok());
  ASSERT_EQ(report.steps_size(), 6);
  for (const auto& step : report.steps()) EXPECT_TRUE(step.ok()) << step.name() << ": " << step.detail();
  EXPECT_THAT(report.steps(1).detail(), HasSubstr("1000 bytes"));
  // No session objects are left behind by the check.
  ASSERT_OK_AND_ASSIGN(auto again, conn->CheckHsm(0));
  EXPECT_TRUE(again.ok());
}

TEST_F(ServerTest, BadPayloadSizeNamesTheField) {
  ASSERT_OK_AND_ASSIGN(auto conn, client::Connection::Open(As(pki_, "admin")));
  EXPECT_THAT(conn->CheckHsm(70000),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("payload_bytes")));
}

TEST_F(ServerTest, CertificateFromAnotherCaIsRefused) {
  ASSERT_OK_AND_ASSIGN(auto conn, client::Connection::Open(As(foreign_, "admin")));
  EXPECT_THAT(conn->GetStatus(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(ServerTest, MissingClientKeyFileIsNamed) {
  client::ConnectionOptions o = As(pki_, "admin");
  o.key_file = "/nonexistent/admin.key";
  EXPECT_THAT(client::Connection::Open(o),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("--key")));
}

// TLS files are checked before any connection: an empty CA bundle would
// make gRPC trust the public roots; a key that is not the certificate's
// would fail the handshake without saying why.
TEST_F(ServerTest, BadTlsFilesAreRefusedNamingTheFlag) {
  const std::string dir = ::testing::TempDir() + "/tls-files";
  std::filesystem::create_directories(dir);
  const auto write = [&](const std::string& name, const std::string& text) {
    const std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    chmod(path.c_str(), 0600);
    return path;
  };
  client::ConnectionOptions o = As(pki_, "admin");
  o.ca_file = write("empty.pem", "");
  EXPECT_THAT(client::Connection::Open(o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--ca: ")));
  o.ca_file = write("text.pem", "not a certificate\n");
  EXPECT_THAT(client::Connection::Open(o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("holds no PEM certificate")));
  o = As(pki_, "admin");
  o.cert_file = As(pki_, "stranger").cert_file;  // admin's key, stranger's certificate
  EXPECT_THAT(client::Connection::Open(o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("is not the private key of the certificate in --cert")));
  o = As(pki_, "admin");
  o.key_file = write("nokey.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  EXPECT_THAT(client::Connection::Open(o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("holds no PEM private key")));
  EXPECT_OK(client::Connection::Open(As(pki_, "admin")).status());
}

TEST(ServerConfigTest, ErrorsNameTheField) {
  const std::string base = R"(
server: {listen: "127.0.0.1:0", tls: {cert: a, key: b, client_ca: c}}
hsm: {module: m, token_label: t, pin_file: p}
storage: {path: db}
)";
  EXPECT_OK(ParseServerConfig(base, "x.yaml", "/tmp"));
  // The files strongroomd writes at start are none of those it reads, nor
  // each other.
  EXPECT_THAT(ParseServerConfig(base + "audit: {key_file: ./b}\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'audit.key_file': is the same file as server.tls.key")));
  EXPECT_THAT(ParseServerConfig(base + "broker: {jwks_file: /tmp/p}\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'broker.jwks_file': is the same file as hsm.pin_file")));
  EXPECT_THAT(ParseServerConfig(base + "audit: {key_file: k.pem}\nbroker: {jwks_file: k.pem}\n",
                                "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'broker.jwks_file': is the same file as audit.key_file")));
  EXPECT_OK(ParseServerConfig(base + "audit: {key_file: k.pem}\nbroker: {jwks_file: j.json}\n",
                              "x.yaml", "/tmp"));
  // Nor the config file itself, when it is read from a file.
  ASSERT_OK_AND_ASSIGN(auto dir, strongroom::testing::TempDir::Create("config-self"));
  const std::string path = dir.path() + "/strongroomd.yaml";
  ASSERT_OK(WriteFileAtomically(path, base + "broker: {jwks_file: strongroomd.yaml}\n", 0600, "t"));
  EXPECT_THAT(LoadServerConfig(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'broker.jwks_file': is the same file as the config file")));
  ASSERT_OK(WriteFileAtomically(path, base + "broker: {jwks_file: jwks.json}\n", 0600, "t"));
  EXPECT_OK(LoadServerConfig(path).status());
  EXPECT_THAT(ParseServerConfig(base + "extra: 1\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'extra': unknown field")));
  EXPECT_THAT(ParseServerConfig(R"(
server: {listen: "127.0.0.1:0", tls: {cert: a, key: b}}
hsm: {module: m, token_label: t, pin_file: p}
storage: {path: db}
)", "x.yaml", "/tmp"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'server.tls.client_ca'")));
  EXPECT_THAT(ParseServerConfig(R"(
server: {listen: "127.0.0.1:0", tls: {cert: a, key: b, client_ca: c}}
hsm: {module: m, token_label: t, pin_file: p, pin_env: X}
storage: {path: db}
)", "x.yaml", "/tmp"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exactly one")));
  for (const char* name : {"true", "yes", "1PIN", "PIN=1234", "hsm_pin", "MY PIN"}) {
    absl::StatusOr<ServerConfig> got = ParseServerConfig(absl::StrCat(R"(
server: {listen: "127.0.0.1:0", tls: {cert: a, key: b, client_ca: c}}
hsm: {module: m, token_label: t, pin_env: ")",
                                                                      name, R"("}
storage: {path: db}
)"),
                                                         "x.yaml", "/tmp");
    EXPECT_THAT(got, StatusIs(absl::StatusCode::kInvalidArgument,
                              HasSubstr("'hsm.pin_env': not an environment variable name")))
        << name;
    if (!got.ok()) {
      EXPECT_THAT(std::string(got.status().message()), Not(HasSubstr(name)));
    }
  }
  EXPECT_OK(ParseServerConfig(R"(
server: {listen: "127.0.0.1:0", tls: {cert: a, key: b, client_ca: c}}
hsm: {module: m, token_label: t, pin_env: STRONGROOM_HSM_PIN_2}
storage: {path: db}
)",
                              "x.yaml", "/tmp"));
  EXPECT_THAT(ParseServerConfig(base + "principals: [{name: a, role: root}]\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'principals[0].role': unknown role 'root'")));
  EXPECT_THAT(ParseServerConfig(base + "audit: {checkpoint_every: 0}\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'audit.checkpoint_every'")));
  EXPECT_THAT(
      ParseServerConfig(base + "audit: {checkpoint_interval: 8d}\n", "x.yaml", "/tmp"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'audit.checkpoint_interval'")));
  EXPECT_THAT(ParseServerConfig(base + "audit: {key: a.pem}\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'audit.key'")));
  EXPECT_THAT(
      ParseServerConfig(base + "store: {rekey_idle_timeout: 10s}\n", "x.yaml", "/tmp"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'store.rekey_idle_timeout'")));
  EXPECT_THAT(ParseServerConfig(base + "hsm2: {}\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hsm2")));
  ASSERT_OK_AND_ASSIGN(ServerConfig c, ParseServerConfig(base, "x.yaml", "/etc/sr"));
  EXPECT_EQ(c.tls.cert, "/etc/sr/a");
  EXPECT_EQ(c.storage_path, "/etc/sr/db");
  EXPECT_EQ(c.audit.checkpoint_every, 1000u);
  EXPECT_EQ(c.audit.checkpoint_interval, absl::Minutes(5));
  EXPECT_EQ(c.audit.key_file, "");
  EXPECT_EQ(c.store.rekey_idle_timeout, absl::Hours(24 * 7));
  ASSERT_OK_AND_ASSIGN(ServerConfig r, ParseServerConfig(base + "store: {rekey_idle_timeout: 2d}\n",
                                                         "x.yaml", "/tmp"));
  EXPECT_EQ(r.store.rekey_idle_timeout, absl::Hours(48));
  EXPECT_EQ(c.store.finished_job_retention, absl::Hours(24 * 7));
  ASSERT_OK_AND_ASSIGN(
      ServerConfig f,
      ParseServerConfig(base + "store: {finished_job_retention: 30d}\n", "x.yaml", "/tmp"));
  EXPECT_EQ(f.store.finished_job_retention, absl::Hours(24 * 30));
  EXPECT_THAT(ParseServerConfig(base + "store: {finished_job_retention: 5s}\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'store.finished_job_retention': must be at least 1m")));
  EXPECT_EQ(c.store.max_pending_uploads, 64u);
  ASSERT_OK_AND_ASSIGN(ServerConfig m, ParseServerConfig(base + "store: {max_pending_uploads: 3}\n",
                                                         "x.yaml", "/tmp"));
  EXPECT_EQ(m.store.max_pending_uploads, 3u);
  EXPECT_EQ(c.store.staged_upload_timeout, absl::Hours(1));
  ASSERT_OK_AND_ASSIGN(
      ServerConfig st,
      ParseServerConfig(base + "store: {staged_upload_timeout: 6h}\n", "x.yaml", "/tmp"));
  EXPECT_EQ(st.store.staged_upload_timeout, absl::Hours(6));
  EXPECT_THAT(ParseServerConfig(base + "store: {staged_upload_timeout: 10ms}\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'store.staged_upload_timeout': must be at least 1s")));
  EXPECT_THAT(ParseServerConfig(base + "store: {upload_idle_timeout: 2h}\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'store.staged_upload_timeout': must be at least "
                                 "store.upload_idle_timeout (2h)")));
  EXPECT_OK(
      ParseServerConfig(base + "store: {upload_idle_timeout: 2h, staged_upload_timeout: 2h}\n",
                        "x.yaml", "/tmp")
          .status());
  EXPECT_THAT(
      ParseServerConfig(base + "store: {max_pending_uploads: 0}\n", "x.yaml", "/tmp"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'store.max_pending_uploads'")));
  // Values that used to pass the parse and fail later, or never.
  for (const char* listen : {"host:", ":8443", "h:99999", "h:-1", "h:http"}) {
    std::string bad = base;
    bad.replace(bad.find("127.0.0.1:0"), 11, listen);
    EXPECT_THAT(ParseServerConfig(bad, "x.yaml", "/tmp"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'server.listen'")))
        << listen;
  }
  EXPECT_THAT(ParseServerConfig(base + "kms: {approval_window: 0s}\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'kms.approval_window'")));
  EXPECT_THAT(ParseServerConfig(base + "kms: {destroy_wait: inf}\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("longer than 100 years")));
  EXPECT_THAT(ParseServerConfig(base + "kms: {destroy_wait:}\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no value")));
  // A key holds its wait in whole seconds and 0 destroys at once: "500ms"
  // would have become 0.
  EXPECT_THAT(ParseServerConfig(base + "kms: {destroy_wait: 500ms}\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'kms.destroy_wait': 500ms is not a whole number of seconds")));
  EXPECT_THAT(ParseServerConfig(base + "kms: {destroy_wait: 36501d}\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'kms.destroy_wait'")));
  ASSERT_OK_AND_ASSIGN(ServerConfig zero,
                       ParseServerConfig(base + "kms: {destroy_wait: 0s}\n", "x.yaml", "/tmp"));
  EXPECT_EQ(zero.kms.default_destroy_wait, absl::ZeroDuration());
  EXPECT_THAT(ParseServerConfig(base + "store: {maintenance_interval: 1ms}\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'store.maintenance_interval': must be at least 10ms")));
  EXPECT_THAT(ParseServerConfig(base + "store: {upload_idle_timeout: 10ms}\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'store.upload_idle_timeout': must be at least 1s")));
  EXPECT_THAT(ParseServerConfig(base + "principals: [{name: a, role: root}]\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("x.yaml: config field")));
  // A trailing separator is dropped, so "<storage.path>-objects" sits beside
  // the database, not inside it.
  std::string slash = base;
  slash.replace(slash.find("{path: db}"), 10, "{path: /var/sr/db/}");
  ASSERT_OK_AND_ASSIGN(ServerConfig sc, ParseServerConfig(slash, "x.yaml", "/tmp"));
  EXPECT_EQ(sc.storage_path, "/var/sr/db");
  slash.replace(slash.find("{path: /var/sr/db/}"), 19, "{path: data//db/./}");
  ASSERT_OK_AND_ASSIGN(sc, ParseServerConfig(slash, "x.yaml", "/etc/sr"));
  EXPECT_EQ(sc.storage_path, "/etc/sr/data/db");
  // "verifiers:" with nothing is not "all of them".
  EXPECT_THAT(ParseServerConfig(base + "attestation: {verifiers: }\n", "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'attestation.verifiers': has no value")));
  EXPECT_THAT(
      ParseServerConfig(base + "attestation: {tpm: {trusted_ak_keys: }}\n", "x.yaml", "/tmp"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no value")));
  std::string empty_path = base;
  empty_path.replace(empty_path.find("{path: db}"), 10, "{path: \"\"}");
  EXPECT_THAT(ParseServerConfig(empty_path, "x.yaml", "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'storage.path': is empty")));
  std::string module = base;
  module.replace(module.find("module: m"), 9, "module: lib/p11.so");
  ASSERT_OK_AND_ASSIGN(ServerConfig mc, ParseServerConfig(module, "x.yaml", "/etc/sr"));
  EXPECT_EQ(mc.hsm.module_path, "/etc/sr/lib/p11.so");
  EXPECT_EQ(c.hsm.module_path, "m");  // a bare name is the loader's to find
}

TEST(ServerStartTest, UnreadableTlsFileIsNamed) {
  ASSERT_OK_AND_ASSIGN(auto token, hsm_sim::SoftHsmToken::Create("start-test"));
  std::string yaml = absl::StrCat(
      "server: {listen: \"127.0.0.1:0\", tls: {cert: nope.crt, key: nope.key, client_ca: ca.crt}}\n"
      "hsm: {module: ", hsm_sim::SoftHsmToken::SoftHsmModulePath(),
      ", token_label: start-test, pin_file: ", token->pin_file(), "}\nstorage: {path: db}\n");
  ASSERT_OK_AND_ASSIGN(ServerConfig config, ParseServerConfig(yaml, "t.yaml", token->dir()));
  EXPECT_THAT(StrongroomServer::Start(config),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("server.tls.cert")));
  // The failed start left no database behind.
  EXPECT_FALSE(std::filesystem::exists(token->dir() + "/db"));
  // Nor does one whose collateral folder is missing; it fails at start.
  ASSERT_OK_AND_ASSIGN(
      ServerConfig no_collateral,
      ParseServerConfig(yaml + "attestation: {collateral_dir: nowhere}\n", "t.yaml", token->dir()));
  EXPECT_THAT(StrongroomServer::Start(no_collateral),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("collateral_dir")));
}

}  // namespace
}  // namespace strongroom::server
