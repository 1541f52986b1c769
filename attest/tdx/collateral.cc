// Collateral directories: recognizing files by their content.
#include "attest/tdx/collateral.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status_macros.h"

namespace strongroom::attest {
namespace {

absl::Status Malformed(absl::string_view name, const absl::Status& s) {
  return absl::InvalidArgumentError(
      absl::StrCat("tdx collateral file '", name, "': ", s.message()));
}

bool LooksLikeJson(absl::string_view content) {
  size_t i = content.find_first_not_of(" \t\r\n");
  return i != absl::string_view::npos && content[i] == '{';
}

}  // namespace

absl::Status AddCollateralFile(absl::string_view name,
                               absl::string_view content, TdxCollateral& out) {
  if (LooksLikeJson(content)) {
    // Only a top-level member counts; a nested "tcbInfo" string elsewhere
    // does not make a file TCB info. A JSON file that does not parse as one
    // object (truncated, trailing text, a repeated key) is refused rather
    // than passed over: it may be the TCB info or QE identity meant to
    // replace an older one still in the folder.
    absl::StatusOr<absl::string_view> tcb = RawJsonMember(content, "tcbInfo");
    if (!tcb.ok() && !absl::IsNotFound(tcb.status())) return Malformed(name, tcb.status());
    if (tcb.ok()) {
      auto info = ParseTdxTcbInfo(content);
      if (!info.ok()) return Malformed(name, info.status());
      out.tcb_infos.push_back(*std::move(info));
      return absl::OkStatus();
    }
    absl::StatusOr<absl::string_view> qe_body = RawJsonMember(content, "enclaveIdentity");
    if (!qe_body.ok() && !absl::IsNotFound(qe_body.status())) {
      return Malformed(name, qe_body.status());
    }
    if (qe_body.ok()) {
      auto qe = ParseQeIdentity(content);
      if (!qe.ok()) return Malformed(name, qe.status());
      out.qe_identities.push_back(*std::move(qe));
      return absl::OkStatus();
    }
    out.ignored_files.emplace_back(name);
    return absl::OkStatus();
  }
  // PEM is text: a binary file that merely embeds PEM blocks (a quote
  // carries its PCK chain) is not a certificate file.
  const bool text = content.find('\0') == absl::string_view::npos;
  bool pem_cert =
      text && absl::StrContains(content, "-----BEGIN CERTIFICATE-----");
  bool pem_crl = text && absl::StrContains(content, "-----BEGIN X509 CRL-----");
  if (pem_cert) {
    auto certs = ParseCertificates(content, name);
    if (!certs.ok()) return Malformed(name, certs.status());
    out.certificates.insert(out.certificates.end(), certs->begin(),
                            certs->end());
  }
  if (pem_crl) {
    auto crls = Crl::ParseAllPem(content, name);
    if (!crls.ok()) return Malformed(name, crls.status());
    out.crls.insert(out.crls.end(), crls->begin(), crls->end());
  }
  if (pem_cert || pem_crl) return absl::OkStatus();
  // DER: a SEQUENCE that is a CRL or a certificate; anything else (quotes,
  // reports, notes) is not collateral.
  if (!content.empty() && static_cast<uint8_t>(content[0]) == 0x30) {
    if (auto crl = Crl::Parse(content, name); crl.ok()) {
      out.crls.push_back(*std::move(crl));
      return absl::OkStatus();
    }
    if (auto certs = ParseCertificates(content, name); certs.ok()) {
      out.certificates.insert(out.certificates.end(), certs->begin(),
                              certs->end());
      return absl::OkStatus();
    }
  }
  out.ignored_files.emplace_back(name);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CollateralFile>> ReadCollateralFiles(
    const std::string& dir) {
  std::vector<CollateralFile> out;
  if (dir.empty()) return out;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  std::filesystem::directory_iterator it(dir, ec), end;
  if (ec) {
    return absl::NotFoundError(absl::StrCat(
        "tdx collateral dir '", dir, "' cannot be listed: ", ec.message()));
  }
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    std::error_code fec;
    if (!it->is_regular_file(fec) || fec) continue;
    uintmax_t size = it->file_size(fec);
    if (fec || size > kMaxCollateralFileSize) continue;
    files.push_back(it->path());
  }
  if (ec) {
    return absl::NotFoundError(absl::StrCat(
        "tdx collateral dir '", dir, "' cannot be listed: ", ec.message()));
  }
  std::sort(files.begin(), files.end());
  out.reserve(files.size());
  for (const auto& path : files) {
    ASSIGN_OR_RETURN(std::string content,
                     ReadFileToString(path.string(), "tdx collateral"));
    out.push_back({path.filename().string(), std::move(content)});
  }
  return out;
}

absl::StatusOr<TdxCollateral> ParseCollateralFiles(
    const std::vector<CollateralFile>& files) {
  TdxCollateral out;
  for (const CollateralFile& f : files) {
    RETURN_IF_ERROR(AddCollateralFile(f.name, f.content, out));
  }
  return out;
}

absl::StatusOr<TdxCollateral> LoadTdxCollateral(const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<CollateralFile> files, ReadCollateralFiles(dir));
  return ParseCollateralFiles(files);
}

}  // namespace strongroom::attest
