#include "attest/tdx/quote.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace strongroom::attest {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("tdx quote: ", field, ": ", why));
}

// A bounds-checked little-endian cursor over one region of the quote.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> data, size_t base)
      : data_(data), base_(base) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t offset() const { return base_ + pos_; }  // in the whole quote

  absl::StatusOr<std::span<const uint8_t>> Take(size_t n,
                                                absl::string_view field) {
    if (n > remaining()) {
      return Invalid(field, absl::StrCat("truncated: needs ", n,
                                         " bytes at offset ", offset(),
                                         ", only ", remaining(), " left"));
    }
    auto out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  template <size_t N>
  absl::Status Copy(std::array<uint8_t, N>& out, absl::string_view field) {
    ASSIGN_OR_RETURN(auto bytes, Take(N, field));
    std::memcpy(out.data(), bytes.data(), N);
    return absl::OkStatus();
  }
  absl::StatusOr<uint16_t> U16(absl::string_view field) {
    ASSIGN_OR_RETURN(auto b, Take(2, field));
    return static_cast<uint16_t>(b[0] | (b[1] << 8));
  }
  absl::StatusOr<uint32_t> U32(absl::string_view field) {
    ASSIGN_OR_RETURN(auto b, Take(4, field));
    return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) |
           (static_cast<uint32_t>(b[2]) << 16) |
           (static_cast<uint32_t>(b[3]) << 24);
  }

 private:
  std::span<const uint8_t> data_;
  size_t base_;
  size_t pos_ = 0;
};

// A length field must fit in what is left of its enclosing region.
absl::Status CheckLength(uint64_t declared, size_t available,
                         absl::string_view field) {
  if (declared > available) {
    return Invalid(field, absl::StrCat("declares ", declared,
                                       " bytes but only ", available,
                                       " remain"));
  }
  return absl::OkStatus();
}

absl::Status ParseHeader(Cursor& c, TdxQuoteHeader& h) {
  if (c.remaining() < kTdxHeaderSize) {
    return Invalid("header", absl::StrCat("truncated: ", c.remaining(),
                                          " bytes, a header is ",
                                          kTdxHeaderSize));
  }
  ASSIGN_OR_RETURN(h.version, c.U16("version"));
  if (h.version != 4 && h.version != 5) {
    return Invalid("version",
                   absl::StrCat(h.version, " is not supported (want 4 or 5)"));
  }
  ASSIGN_OR_RETURN(h.att_key_type, c.U16("att_key_type"));
  if (h.att_key_type != kTdxAttKeyTypeEcdsaP256) {
    return Invalid("att_key_type",
                   absl::StrCat(h.att_key_type,
                                " is not supported (want 2, ECDSA-256 with "
                                "P-256)"));
  }
  ASSIGN_OR_RETURN(h.tee_type, c.U32("tee_type"));
  if (h.tee_type != kTdxTeeType) {
    return Invalid("tee_type", absl::StrFormat("0x%08x is not TDX (0x81)",
                                               h.tee_type));
  }
  ASSIGN_OR_RETURN(h.qe_svn, c.U16("qe_svn"));
  ASSIGN_OR_RETURN(h.pce_svn, c.U16("pce_svn"));
  RETURN_IF_ERROR(c.Copy(h.qe_vendor_id, "qe_vendor_id"));
  RETURN_IF_ERROR(c.Copy(h.user_data, "user_data"));
  return absl::OkStatus();
}

absl::Status ParseBody(Cursor& c, bool tdx15, TdReportBody& b) {
  RETURN_IF_ERROR(c.Copy(b.tee_tcb_svn, "tee_tcb_svn"));
  RETURN_IF_ERROR(c.Copy(b.mrseam, "mrseam"));
  RETURN_IF_ERROR(c.Copy(b.mrsignerseam, "mrsignerseam"));
  RETURN_IF_ERROR(c.Copy(b.seam_attributes, "seam_attributes"));
  RETURN_IF_ERROR(c.Copy(b.td_attributes, "td_attributes"));
  RETURN_IF_ERROR(c.Copy(b.xfam, "xfam"));
  RETURN_IF_ERROR(c.Copy(b.mrtd, "mrtd"));
  RETURN_IF_ERROR(c.Copy(b.mrconfigid, "mrconfigid"));
  RETURN_IF_ERROR(c.Copy(b.mrowner, "mrowner"));
  RETURN_IF_ERROR(c.Copy(b.mrownerconfig, "mrownerconfig"));
  for (size_t i = 0; i < b.rtmr.size(); ++i) {
    RETURN_IF_ERROR(c.Copy(b.rtmr[i], absl::StrCat("rtmr[", i, "]")));
  }
  RETURN_IF_ERROR(c.Copy(b.report_data, "report_data"));
  if (tdx15) {
    b.tee_tcb_svn2.emplace();
    b.mrservicetd.emplace();
    RETURN_IF_ERROR(c.Copy(*b.tee_tcb_svn2, "tee_tcb_svn2"));
    RETURN_IF_ERROR(c.Copy(*b.mrservicetd, "mrservicetd"));
  }
  return absl::OkStatus();
}

QeReport DecodeQeReport(std::span<const uint8_t, kSgxReportBodySize> r) {
  QeReport q;
  std::memcpy(q.cpusvn.data(), r.data(), 16);
  q.miscselect = static_cast<uint32_t>(r[16]) |
                 (static_cast<uint32_t>(r[17]) << 8) |
                 (static_cast<uint32_t>(r[18]) << 16) |
                 (static_cast<uint32_t>(r[19]) << 24);
  std::memcpy(q.attributes.data(), r.data() + 48, 16);
  std::memcpy(q.mrenclave.data(), r.data() + 64, 32);
  std::memcpy(q.mrsigner.data(), r.data() + 128, 32);
  q.isvprodid = static_cast<uint16_t>(r[256] | (r[257] << 8));
  q.isvsvn = static_cast<uint16_t>(r[258] | (r[259] << 8));
  std::memcpy(q.report_data.data(), r.data() + 320, 64);
  return q;
}

// The QE report certification data (type 6): exactly `c`'s bytes.
absl::Status ParseQeCertData(Cursor& c, TdxQuote& q) {
  ASSIGN_OR_RETURN(auto report, c.Take(kSgxReportBodySize, "qe_report"));
  q.qe_report_raw.assign(report.begin(), report.end());
  q.qe_report = DecodeQeReport(report.first<kSgxReportBodySize>());
  RETURN_IF_ERROR(c.Copy(q.qe_report_signature, "qe_report_signature"));
  ASSIGN_OR_RETURN(uint16_t auth_size, c.U16("qe_auth_data_size"));
  RETURN_IF_ERROR(CheckLength(auth_size, c.remaining(), "qe_auth_data_size"));
  ASSIGN_OR_RETURN(auto auth, c.Take(auth_size, "qe_auth_data"));
  q.qe_auth_data.assign(auth.begin(), auth.end());
  ASSIGN_OR_RETURN(uint16_t type, c.U16("pck_cert_data_type"));
  if (type != kTdxCertDataPckChain) {
    return Invalid("pck_cert_data_type",
                   absl::StrCat(type, " is not supported (want 5, PCK "
                                      "certificate chain)"));
  }
  ASSIGN_OR_RETURN(uint32_t size, c.U32("pck_cert_data_size"));
  if (size != c.remaining()) {
    RETURN_IF_ERROR(CheckLength(size, c.remaining(), "pck_cert_data_size"));
    return Invalid("pck_cert_data_size",
                   absl::StrCat("declares ", size, " bytes but the QE report "
                                "certification data leaves ", c.remaining()));
  }
  ASSIGN_OR_RETURN(auto pem, c.Take(size, "pck_cert_data"));
  if (pem.empty()) return Invalid("pck_cert_data", "empty");
  q.pck_chain_pem.assign(reinterpret_cast<const char*>(pem.data()), pem.size());
  return absl::OkStatus();
}

absl::Status ParseSignatureData(Cursor& c, TdxQuote& q) {
  RETURN_IF_ERROR(c.Copy(q.signature, "signature"));
  RETURN_IF_ERROR(c.Copy(q.attestation_key, "attestation_key"));
  ASSIGN_OR_RETURN(uint16_t type, c.U16("cert_data_type"));
  if (type != kTdxCertDataQeReport) {
    return Invalid("cert_data_type",
                   absl::StrCat(type, " is not supported (want 6, QE report "
                                      "certification data)"));
  }
  ASSIGN_OR_RETURN(uint32_t size, c.U32("cert_data_size"));
  if (size != c.remaining()) {
    RETURN_IF_ERROR(CheckLength(size, c.remaining(), "cert_data_size"));
    return Invalid("cert_data_size",
                   absl::StrCat("declares ", size, " bytes but the signature "
                                "data leaves ", c.remaining()));
  }
  size_t base = c.offset();
  ASSIGN_OR_RETURN(auto cert_data, c.Take(size, "cert_data"));
  Cursor inner(cert_data, base);
  return ParseQeCertData(inner, q);
}

}  // namespace

uint64_t TdReportBody::TdAttributes() const {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | td_attributes[i];
  return v;
}

absl::StatusOr<TdxQuote> ParseTdxQuote(std::span<const uint8_t> data) {
  TdxQuote q;
  Cursor c(data, 0);
  RETURN_IF_ERROR(ParseHeader(c, q.header));

  bool tdx15 = false;
  if (q.header.version == 5) {
    ASSIGN_OR_RETURN(q.body_type, c.U16("body_type"));
    if (q.body_type != kTdxBodyTypeTdx10 && q.body_type != kTdxBodyTypeTdx15) {
      return Invalid("body_type",
                     absl::StrCat(q.body_type, " is not supported (want 2, "
                                               "TDX 1.0, or 3, TDX 1.5)"));
    }
    tdx15 = q.body_type == kTdxBodyTypeTdx15;
    ASSIGN_OR_RETURN(uint32_t body_size, c.U32("body_size"));
    size_t want = tdx15 ? kTdxBody15Size : kTdxBody10Size;
    if (body_size != want) {
      return Invalid("body_size",
                     absl::StrCat(body_size, " does not match body type ",
                                  q.body_type, " (want ", want, ")"));
    }
  }
  RETURN_IF_ERROR(ParseBody(c, tdx15, q.body));
  size_t signed_len = c.offset();
  q.signed_data.assign(data.begin(), data.begin() + signed_len);

  ASSIGN_OR_RETURN(uint32_t sig_len, c.U32("signature_data_len"));
  RETURN_IF_ERROR(CheckLength(sig_len, c.remaining(), "signature_data_len"));
  size_t base = c.offset();
  ASSIGN_OR_RETURN(auto sig_data, c.Take(sig_len, "signature_data"));
  Cursor sig(sig_data, base);
  RETURN_IF_ERROR(ParseSignatureData(sig, q));
  q.quote_size = c.offset();
  q.trailing_bytes = c.remaining();
  return q;
}

}  // namespace strongroom::attest
