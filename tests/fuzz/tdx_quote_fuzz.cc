// Fuzzes the TDX quote parser and, for inputs that parse, the PCK chain and
// SGX extension parsers behind it; the raw input also goes to the SGX
// extension DER reader directly.
#include <cstddef>
#include <cstdint>
#include <span>

#include "attest/tdx/pck_extension.h"
#include "attest/tdx/quote.h"
#include "attest/x509.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strongroom::attest;
  std::span<const uint8_t> input(data, size);
  (void)ParsePckSgxExtension(input);
  auto quote = ParseTdxQuote(input);
  if (!quote.ok()) return 0;
  auto certs = ParseCertificates(quote->pck_chain_pem, "fuzz");
  if (certs.ok() && !certs->empty()) (void)PckSgxExtensionOf((*certs)[0]);
  (void)quote->body.TdAttributes();
  return 0;
}
