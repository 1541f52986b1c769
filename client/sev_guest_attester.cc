#include "client/sev_guest_attester.h"

#include <fcntl.h>
#include <linux/sev-guest.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "attest/snp/snp_report.h"
#include "base/bytes.h"
#include "base/status_macros.h"
#include "client/report_data.h"

namespace strongroom::client {
namespace {

constexpr size_t kTableEntrySize = 24;  // GUID(16) | offset u32 | length u32
constexpr size_t kMaxTableEntries = 64;
// MSG_REPORT_RSP (SEV-SNP firmware ABI): status u32, report_size u32,
// 24 reserved bytes, then the report.
constexpr size_t kReportRspHeader = 0x20;
constexpr size_t kPage = 4096;
// The kernel refuses certificate buffers above SEV_FW_BLOB_MAX_SIZE (16 KiB
// in 6.1, the first try's size), so a larger retry fails there with an error
// naming the size; a host asking for more than this is not believed.
constexpr size_t kMaxCertsLen = 64 * kPage;

uint32_t LoadLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

class FdDevice final : public SevGuestDevice {
 public:
  explicit FdDevice(int fd) : fd_(fd) {}
  ~FdDevice() override { close(fd_); }
  int Ioctl(unsigned long request, void* arg) override {
    return ioctl(fd_, request, arg) == 0 ? 0 : -errno;
  }

 private:
  int fd_;
};

// A page-aligned buffer, as the driver requires for certificates.
struct AlignedBuffer {
  explicit AlignedBuffer(size_t n)
      : size(n), data(static_cast<uint8_t*>(std::aligned_alloc(kPage, n))) {
    if (data != nullptr) std::memset(data, 0, n);
  }
  ~AlignedBuffer() { std::free(data); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  size_t size;
  uint8_t* data;
};

absl::Status IoctlError(absl::string_view call, int rc, const snp_guest_request_ioctl& req) {
  return absl::UnavailableError(absl::StrCat(
      "/dev/sev-guest: ", call, ": ", std::strerror(-rc), " (firmware error 0x",
      absl::Hex(req.fw_error), ", VMM error 0x", absl::Hex(req.vmm_error), ")"));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseSnpCertTable(std::span<const uint8_t> table) {
  std::vector<std::string> certs;
  if (table.empty()) return certs;
  for (size_t i = 0;; ++i) {
    const size_t at = i * kTableEntrySize;
    if (i == kMaxTableEntries || at + kTableEntrySize > table.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "snp certificate table: no terminating entry within ",
          std::min(i, kMaxTableEntries), " entries (", table.size(), " bytes)"));
    }
    const uint8_t* e = table.data() + at;
    const uint32_t offset = LoadLe32(e + 16);
    const uint32_t length = LoadLe32(e + 20);
    bool zero_guid = true;
    for (size_t j = 0; j < 16; ++j) zero_guid = zero_guid && e[j] == 0;
    if (zero_guid && offset == 0 && length == 0) break;
    if (length == 0) continue;
    if (offset > table.size() || length > table.size() - offset) {
      return absl::InvalidArgumentError(absl::StrCat(
          "snp certificate table: entry ", i, ": offset ", offset, " length ", length,
          " lies outside the table (", table.size(), " bytes)"));
    }
    certs.emplace_back(reinterpret_cast<const char*>(table.data()) + offset, length);
  }
  return certs;
}

absl::StatusOr<std::unique_ptr<SevGuestDevice>> SevGuestDevice::Open(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(
        path, ": cannot open (", std::strerror(errno),
        "); is this an SEV-SNP guest with the sev-guest driver loaded?"));
  }
  return std::unique_ptr<SevGuestDevice>(new FdDevice(fd));
}

absl::StatusOr<std::unique_ptr<SevGuestAttester>> SevGuestAttester::Create(
    SevGuestAttesterOptions options) {
  if (options.vmpl > 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("sev-guest attester: vmpl: ", options.vmpl, " is not 0..3"));
  }
  std::unique_ptr<SevGuestDevice> device = std::move(options.device);
  if (device == nullptr) {
    ASSIGN_OR_RETURN(device, SevGuestDevice::Open(options.device_path));
  }
  return std::unique_ptr<SevGuestAttester>(
      new SevGuestAttester(std::move(device), std::move(options)));
}

absl::StatusOr<std::vector<strongroom::v1::EvidenceItem>> SevGuestAttester::Attest(
    std::span<const uint8_t> binding) {
  ASSIGN_OR_RETURN(internal::ReportData report_data,
                   internal::PadReportData("sev-guest attester", binding));
  snp_report_req report_req{};
  std::memcpy(report_req.user_data, report_data.data(), report_data.size());
  report_req.vmpl = options_.vmpl;
  snp_report_resp resp{};
  std::string certificate_table;
  bool have_report = false;

  if (options_.fetch_certificates) {
    size_t certs_len = 4 * kPage;
    for (int attempt = 0; attempt < 2 && !have_report; ++attempt) {
      AlignedBuffer certs(certs_len);
      if (certs.data == nullptr) return absl::ResourceExhaustedError("sev-guest: certificate buffer");
      snp_ext_report_req ext{};
      ext.data = report_req;
      ext.certs_address = reinterpret_cast<uintptr_t>(certs.data);
      ext.certs_len = static_cast<uint32_t>(certs.size);
      snp_guest_request_ioctl req{};
      req.msg_version = 1;
      req.req_data = reinterpret_cast<uintptr_t>(&ext);
      req.resp_data = reinterpret_cast<uintptr_t>(&resp);
      int rc = device_->Ioctl(SNP_GET_EXT_REPORT, &req);
      if (rc == 0) {
        have_report = true;
        certificate_table.assign(reinterpret_cast<const char*>(certs.data), certs.size);
      } else if (req.vmm_error == SNP_GUEST_VMM_ERR_INVALID_LEN) {
        // The host's table is larger; the driver said how large.
        if (attempt > 0 || ext.certs_len <= certs_len || ext.certs_len > kMaxCertsLen) {
          return IoctlError(absl::StrCat("SNP_GET_EXT_REPORT (certificates need ", ext.certs_len,
                                         " bytes)"),
                            rc, req);
        }
        certs_len = (ext.certs_len + kPage - 1) / kPage * kPage;
      } else if (attempt == 0 && (rc == -ENOTTY || rc == -EINVAL || rc == -EIO)) {
        break;  // no extended reports here: a plain report, no certificates
      } else if (attempt > 0) {
        // The larger buffer the host asked for was refused (kernels cap it at
        // SEV_FW_BLOB_MAX_SIZE): an error, not a report without certificates.
        return IoctlError(absl::StrCat("SNP_GET_EXT_REPORT with the ", certs_len,
                                       "-byte certificate buffer the host asked for"),
                          rc, req);
      } else {
        return IoctlError("SNP_GET_EXT_REPORT", rc, req);
      }
    }
  }
  if (!have_report) {
    resp = {};
    snp_guest_request_ioctl req{};
    req.msg_version = 1;
    req.req_data = reinterpret_cast<uintptr_t>(&report_req);
    req.resp_data = reinterpret_cast<uintptr_t>(&resp);
    if (int rc = device_->Ioctl(SNP_GET_REPORT, &req); rc != 0) {
      return IoctlError("SNP_GET_REPORT", rc, req);
    }
  }

  const uint32_t status = LoadLe32(resp.data);
  const uint32_t report_size = LoadLe32(resp.data + 4);
  if (status != 0) {
    return absl::UnavailableError(absl::StrCat(
        "/dev/sev-guest: MSG_REPORT_RSP status 0x", absl::Hex(status),
        (status == 0x16 ? " (invalid parameters, e.g. a VMPL below the guest's)" : "")));
  }
  if (report_size < attest::kSnpReportSize ||
      report_size > sizeof(resp.data) - kReportRspHeader) {
    return absl::InternalError(absl::StrCat("/dev/sev-guest: MSG_REPORT_RSP report_size ",
                                            report_size, " is not a report"));
  }
  std::string report(reinterpret_cast<const char*>(resp.data) + kReportRspHeader,
                     attest::kSnpReportSize);
  RETURN_IF_ERROR(internal::CheckSnpReportData(AsBytes(report), report_data, "/dev/sev-guest"));
  ASSIGN_OR_RETURN(std::vector<std::string> certs,
                   ParseSnpCertTable(AsBytes(certificate_table)));
  strongroom::v1::EvidenceItem item;
  item.set_type("snp");
  item.set_payload(std::move(report));
  for (std::string& c : certs) item.add_certificates(std::move(c));
  return std::vector<strongroom::v1::EvidenceItem>{std::move(item)};
}

}  // namespace strongroom::client
