#include "client/tsm_attester.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/status_macros.h"
#include "client/report_data.h"
#include "client/sev_guest_attester.h"

namespace strongroom::client {
namespace {

// The largest attribute read back (outblob, auxblob): SEV_FW_BLOB_MAX_SIZE
// and TDX quotes are well under this.
constexpr size_t kMaxAttributeBytes = 1 << 20;

absl::Status Errno(absl::string_view op, const std::string& path, int err) {
  return absl::UnavailableError(
      absl::StrCat("configfs-tsm: ", op, " ", path, ": ", std::strerror(err)));
}

class RealFilesystem final : public TsmFilesystem {
 public:
  bool IsDirectory(const std::string& path) override {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
  absl::Status MakeDirectory(const std::string& path) override {
    if (mkdir(path.c_str(), 0700) != 0) return Errno("mkdir", path, errno);
    return absl::OkStatus();
  }
  absl::Status RemoveDirectory(const std::string& path) override {
    if (rmdir(path.c_str()) != 0) return Errno("rmdir", path, errno);
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) {
        return absl::NotFoundError(absl::StrCat("configfs-tsm: ", path, ": no such file"));
      }
      return Errno("open", path, errno);
    }
    std::string out;
    char buf[8192];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        close(fd);
        return Errno("read", path, err);
      }
      if (n == 0) break;
      // Reports and certificate blobs are a few KiB (the kernel bounds
      // them); a file that keeps going is not one.
      if (out.size() + static_cast<size_t>(n) > kMaxAttributeBytes) {
        close(fd);
        return absl::OutOfRangeError(
            absl::StrCat("configfs-tsm: ", path, ": more than ", kMaxAttributeBytes, " bytes"));
      }
      out.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return out;
  }
  absl::Status WriteFile(const std::string& path, absl::string_view data) override {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open", path, errno);
    ssize_t n;
    do {
      n = write(fd, data.data(), data.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0 || static_cast<size_t>(n) != data.size()) {
      int err = n < 0 ? errno : EIO;
      close(fd);
      return Errno("write", path, err);
    }
    if (close(fd) != 0) return Errno("close", path, errno);
    return absl::OkStatus();
  }
};

absl::StatusOr<uint64_t> ReadNumber(TsmFilesystem& fs, const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, fs.ReadFile(path));
  uint64_t value = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &value)) {
    return absl::InternalError(
        absl::StrCat("configfs-tsm: ", path, ": '", absl::CHexEscape(text.substr(0, 32)),
                     "' is not a number"));
  }
  return value;
}

}  // namespace

TsmFilesystem& TsmFilesystem::Real() {
  static RealFilesystem* fs = new RealFilesystem();
  return *fs;
}

absl::string_view TsmProviderName(TsmProvider provider) {
  return provider == TsmProvider::kSevGuest ? "sev_guest" : "tdx_guest";
}

absl::StatusOr<std::unique_ptr<TsmAttester>> TsmAttester::Create(TsmProvider provider,
                                                                 TsmAttesterOptions options) {
  if (options.privlevel.has_value()) {
    if (provider != TsmProvider::kSevGuest) {
      return absl::InvalidArgumentError("tsm attester: privlevel: only SEV-SNP has one");
    }
    if (*options.privlevel > 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("tsm attester: privlevel: ", *options.privlevel, " is not 0..3"));
    }
  }
  if (options.max_attempts < 1) options.max_attempts = 1;
  TsmFilesystem* fs = options.filesystem != nullptr ? options.filesystem : &TsmFilesystem::Real();
  if (!fs->IsDirectory(options.report_dir)) {
    return absl::UnavailableError(absl::StrCat(
        "configfs-tsm: ", options.report_dir,
        " is not a directory (needs Linux 6.7+ with configfs mounted and the ",
        TsmProviderName(provider), " driver)"));
  }
  return std::unique_ptr<TsmAttester>(new TsmAttester(provider, std::move(options), fs));
}

std::string TsmAttester::type() const {
  return provider_ == TsmProvider::kSevGuest ? "snp" : "tdx";
}

absl::StatusOr<TsmAttester::Blobs> TsmAttester::RunOnce(const std::string& entry,
                                                        std::span<const uint8_t> inblob) {
  ASSIGN_OR_RETURN(const uint64_t before, ReadNumber(*fs_, entry + "/generation"));
  uint64_t writes = 0;
  if (options_.privlevel.has_value()) {
    RETURN_IF_ERROR(fs_->WriteFile(entry + "/privlevel", absl::StrCat(*options_.privlevel)));
    ++writes;
  }
  RETURN_IF_ERROR(fs_->WriteFile(entry + "/inblob", AsStringView(inblob)));
  ++writes;
  Blobs out;
  ASSIGN_OR_RETURN(out.outblob, fs_->ReadFile(entry + "/outblob"));
  absl::StatusOr<std::string> aux = fs_->ReadFile(entry + "/auxblob");
  if (aux.ok()) {
    out.auxblob = *std::move(aux);
  } else if (!absl::IsNotFound(aux.status())) {
    return aux.status();
  }
  ASSIGN_OR_RETURN(const uint64_t after, ReadNumber(*fs_, entry + "/generation"));
  if (after != before + writes) {
    return absl::AbortedError(absl::StrCat(
        "configfs-tsm: ", entry, ": generation went from ", before, " to ", after, " across ",
        writes, " writes of ours: another writer used the entry"));
  }
  return out;
}

absl::StatusOr<std::vector<strongroom::v1::EvidenceItem>> TsmAttester::Attest(
    std::span<const uint8_t> binding) {
  ASSIGN_OR_RETURN(internal::ReportData inblob, internal::PadReportData("tsm attester", binding));
  uint8_t rnd[8];
  if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
    return absl::InternalError("configfs-tsm: no randomness for the report entry's name");
  }
  const std::string entry = absl::StrCat(options_.report_dir, "/strongroom-", getpid(), "-",
                                         entries_made_++, "-", HexEncode(rnd));
  RETURN_IF_ERROR(fs_->MakeDirectory(entry));
  // The entry goes whatever happens below; a failed rmdir only leaks a
  // kernel object, so it does not hide the result.
  struct Remove {
    TsmFilesystem* fs;
    const std::string& entry;
    ~Remove() { fs->RemoveDirectory(entry).IgnoreError(); }
  } remove{fs_, entry};

  absl::StatusOr<std::string> provider = fs_->ReadFile(entry + "/provider");
  if (!provider.ok()) return provider.status();
  const absl::string_view got = absl::StripAsciiWhitespace(*provider);
  if (got != TsmProviderName(provider_)) {
    return absl::FailedPreconditionError(
        absl::StrCat("configfs-tsm: ", entry, ": provider is '", got, "', expected '",
                     TsmProviderName(provider_), "'"));
  }
  absl::StatusOr<Blobs> blobs;
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    blobs = RunOnce(entry, inblob);
    if (!absl::IsAborted(blobs.status())) break;
  }
  if (!blobs.ok()) return blobs.status();
  if (blobs->outblob.empty()) {
    return absl::InternalError(absl::StrCat("configfs-tsm: ", entry, "/outblob is empty"));
  }
  strongroom::v1::EvidenceItem item;
  item.set_type(type());
  if (provider_ == TsmProvider::kSevGuest) {
    RETURN_IF_ERROR(internal::CheckSnpReportData(AsBytes(blobs->outblob), inblob,
                                                 absl::StrCat(entry, "/outblob")));
    absl::StatusOr<std::vector<std::string>> certs = ParseSnpCertTable(AsBytes(blobs->auxblob));
    if (!certs.ok()) {
      return absl::InternalError(absl::StrCat("configfs-tsm: ", entry, "/auxblob: ",
                                              certs.status().message()));
    }
    for (std::string& c : *certs) item.add_certificates(std::move(c));
  } else {
    RETURN_IF_ERROR(internal::CheckTdxReportData(AsBytes(blobs->outblob), inblob,
                                                 absl::StrCat(entry, "/outblob")));
  }
  item.set_payload(std::move(blobs->outblob));
  return std::vector<strongroom::v1::EvidenceItem>{std::move(item)};
}

}  // namespace strongroom::client
