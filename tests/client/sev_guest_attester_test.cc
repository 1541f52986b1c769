// SevGuestAttester against a stand-in for the sev-guest driver that answers
// SNP_GET_EXT_REPORT / SNP_GET_REPORT the way Linux documents them
// (Documentation/virt/coco/sev-guest.rst): MSG_REPORT_RSP in resp_data, the
// host's certificate table in certs_address, and certs_len updated with
// VMM error INVALID_LEN when the buffer is too small. The report is a real
// vector; the certificate table parser is checked on its own too.
#include <linux/sev-guest.h>
#include <sys/ioctl.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "attest/snp/snp_report.h"
#include "base/testing/status_matchers.h"
#include "client/sev_guest_attester.h"
#include "tests/client/snp_test_util.h"

namespace strongroom::client {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using testing::CertTable;
using testing::MilanChain;
using testing::TrimZeros;
using testing::VerifySnpItem;
using testing::Vector;

class FakeSevGuest final : public SevGuestDevice {
 public:
  FakeSevGuest(std::string report, std::string table)
      : report_(std::move(report)), table_(std::move(table)) {}

  bool ext_supported = true;
  // As Linux 6.1 does: a certificate buffer above SEV_FW_BLOB_MAX_SIZE is
  // EINVAL (0: no cap).
  uint32_t kernel_max_certs_len = 0;
  uint32_t firmware_status = 0;
  std::vector<uint32_t> cert_lengths_offered;
  std::vector<uint32_t> vmpls;

  int Ioctl(unsigned long request, void* arg) override {
    auto* req = static_cast<snp_guest_request_ioctl*>(arg);
    if (req->msg_version != 1) return -EINVAL;
    snp_report_req* report_req = nullptr;
    if (request == SNP_GET_EXT_REPORT) {
      if (!ext_supported) return -ENOTTY;
      auto* ext = reinterpret_cast<snp_ext_report_req*>(req->req_data);
      cert_lengths_offered.push_back(ext->certs_len);
      if (ext->certs_len % 4096 != 0 || ext->certs_address % 4096 != 0) return -EINVAL;
      if (kernel_max_certs_len != 0 && ext->certs_len > kernel_max_certs_len) return -EINVAL;
      if (ext->certs_len < table_.size()) {
        ext->certs_len = static_cast<uint32_t>((table_.size() + 4095) / 4096 * 4096);
        req->vmm_error = SNP_GUEST_VMM_ERR_INVALID_LEN;
        return -EIO;
      }
      std::memcpy(reinterpret_cast<void*>(ext->certs_address), table_.data(), table_.size());
      report_req = &ext->data;
    } else if (request == SNP_GET_REPORT) {
      report_req = reinterpret_cast<snp_report_req*>(req->req_data);
    } else {
      return -ENOTTY;
    }
    vmpls.push_back(report_req->vmpl);
    auto* resp = reinterpret_cast<snp_report_resp*>(req->resp_data);
    std::memset(resp->data, 0, sizeof(resp->data));
    const uint32_t size = static_cast<uint32_t>(report_.size());
    std::memcpy(resp->data, &firmware_status, 4);  // little-endian host
    std::memcpy(resp->data + 4, &size, 4);
    std::string report = report_;
    report.replace(0x50, 64, reinterpret_cast<const char*>(report_req->user_data), 64);
    std::memcpy(resp->data + 0x20, report.data(), report.size());
    return 0;
  }

 private:
  std::string report_, table_;
};

Bytes VectorBinding() {
  auto r = attest::ParseSnpReport(AsBytes(Vector("sev-snp/milan/gosev_report.bin")));
  EXPECT_TRUE(r.ok());
  return TrimZeros(r->report_data);
}

TEST(SnpCertTableTest, ParsesEntriesInOrder) {
  const std::vector<std::string> chain = MilanChain();
  ASSERT_OK_AND_ASSIGN(auto certs, ParseSnpCertTable(AsBytes(CertTable(chain))));
  EXPECT_THAT(certs, ElementsAreArray(chain));
  // Zero padding after the terminator (a page-sized buffer) is fine.
  std::string padded = CertTable(chain) + std::string(4096, '\0');
  ASSERT_OK_AND_ASSIGN(certs, ParseSnpCertTable(AsBytes(padded)));
  EXPECT_EQ(certs.size(), chain.size());
  ASSERT_OK_AND_ASSIGN(certs, ParseSnpCertTable({}));
  EXPECT_TRUE(certs.empty());
  ASSERT_OK_AND_ASSIGN(certs, ParseSnpCertTable(Bytes(4096, 0)));
  EXPECT_TRUE(certs.empty());
}

TEST(SnpCertTableTest, MalformedTablesAreRefused) {
  std::string table = CertTable(MilanChain());
  std::string cut = CertTable({""}).substr(0, 24 + 10);  // ends inside the terminator
  EXPECT_THAT(ParseSnpCertTable(AsBytes(cut)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("terminating")));
  std::string outside = table;
  outside[20] = '\xff';  // first entry's length far beyond the table
  outside[21] = '\xff';
  outside[22] = '\xff';
  EXPECT_THAT(ParseSnpCertTable(AsBytes(outside)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside")));
  std::string endless(24 * 70, '\x01');
  EXPECT_THAT(ParseSnpCertTable(AsBytes(endless)), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SevGuestAttesterTest, ExtendedReportVerifiesWithTheHostsCertificates) {
  auto device = std::make_unique<FakeSevGuest>(Vector("sev-snp/milan/gosev_report.bin"),
                                                CertTable(MilanChain()));
  FakeSevGuest* fake = device.get();
  SevGuestAttesterOptions o;
  o.device = std::move(device);
  ASSERT_OK_AND_ASSIGN(auto attester, SevGuestAttester::Create(std::move(o)));
  EXPECT_EQ(attester->type(), "snp");
  const Bytes binding = VectorBinding();
  ASSERT_OK_AND_ASSIGN(auto items, attester->Attest(binding));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].payload(), Vector("sev-snp/milan/gosev_report.bin"));
  EXPECT_THAT(items[0].certificates(), ElementsAreArray(MilanChain()));
  EXPECT_THAT(fake->vmpls, ElementsAreArray({0u}));

  EXPECT_OK(VerifySnpItem(items[0], binding));
}

TEST(SevGuestAttesterTest, LargerTableIsFetchedWithTheLengthTheHostAsksFor) {
  std::vector<std::string> blobs = MilanChain();
  blobs.push_back(std::string(20000, 'x'));  // pushes the table past 4 pages
  auto device = std::make_unique<FakeSevGuest>(Vector("sev-snp/milan/gosev_report.bin"),
                                                CertTable(blobs));
  FakeSevGuest* fake = device.get();
  SevGuestAttesterOptions o;
  o.device = std::move(device);
  o.vmpl = 2;
  ASSERT_OK_AND_ASSIGN(auto attester, SevGuestAttester::Create(std::move(o)));
  ASSERT_OK_AND_ASSIGN(auto items, attester->Attest(Bytes(32, 7)));
  EXPECT_EQ(items[0].certificates_size(), 4);
  ASSERT_EQ(fake->cert_lengths_offered.size(), 2u);
  EXPECT_EQ(fake->cert_lengths_offered[0], 4u * 4096);
  EXPECT_GE(fake->cert_lengths_offered[1], CertTable(blobs).size());
  EXPECT_THAT(fake->vmpls, ElementsAreArray({2u}));
  ASSERT_OK_AND_ASSIGN(attest::SnpReport r, attest::ParseSnpReport(AsBytes(items[0].payload())));
  EXPECT_EQ(r.report_data[0], 7);
  EXPECT_EQ(r.report_data[32], 0);
}

// A host table larger than the kernel lets a guest fetch: the retry with
// the size the host asked for is refused, and that is an error naming the
// size, not a report quietly sent without its certificates.
TEST(SevGuestAttesterTest, ATableTheKernelWillNotFetchIsAnError) {
  std::vector<std::string> blobs = MilanChain();
  blobs.push_back(std::string(20000, 'x'));
  auto device =
      std::make_unique<FakeSevGuest>(Vector("sev-snp/milan/gosev_report.bin"), CertTable(blobs));
  device->kernel_max_certs_len = 4 * 4096;
  SevGuestAttesterOptions o;
  o.device = std::move(device);
  ASSERT_OK_AND_ASSIGN(auto attester, SevGuestAttester::Create(std::move(o)));
  EXPECT_THAT(attester->Attest(Bytes(32, 7)),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("-byte certificate buffer the host asked for")));
}

TEST(SevGuestAttesterTest, FallsBackToAPlainReportWithoutExtendedSupport) {
  auto device = std::make_unique<FakeSevGuest>(Vector("sev-snp/milan/gosev_report.bin"),
                                                CertTable(MilanChain()));
  device->ext_supported = false;
  SevGuestAttesterOptions o;
  o.device = std::move(device);
  ASSERT_OK_AND_ASSIGN(auto attester, SevGuestAttester::Create(std::move(o)));
  ASSERT_OK_AND_ASSIGN(auto items, attester->Attest(Bytes(32, 9)));
  EXPECT_EQ(items[0].certificates_size(), 0);
}

TEST(SevGuestAttesterTest, FirmwareErrorsAndBadOptionsAreReported) {
  auto device = std::make_unique<FakeSevGuest>(Vector("sev-snp/milan/gosev_report.bin"), "");
  device->firmware_status = 0x16;
  SevGuestAttesterOptions o;
  o.device = std::move(device);
  ASSERT_OK_AND_ASSIGN(auto attester, SevGuestAttester::Create(std::move(o)));
  EXPECT_THAT(attester->Attest(Bytes(32, 1)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("status 0x16")));
  EXPECT_THAT(attester->Attest(Bytes(65, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("binding")));

  SevGuestAttesterOptions bad;
  bad.vmpl = 4;
  bad.device = std::make_unique<FakeSevGuest>("", "");
  EXPECT_THAT(SevGuestAttester::Create(std::move(bad)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vmpl")));
  SevGuestAttesterOptions missing;
  missing.device_path = "/nonexistent/sev-guest";
  EXPECT_THAT(SevGuestAttester::Create(std::move(missing)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("/nonexistent/sev-guest")));
}

}  // namespace
}  // namespace strongroom::client
