// Fuzzes the TDX collateral parsers: TCB info and QE identity JSON (exact
// signed-bytes extraction included) and content-based file classification
// (PEM/DER certificates and CRLs).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "attest/tdx/collateral.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strongroom::attest;
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  (void)RawJsonMember(input, "tcbInfo");
  (void)ParseTdxTcbInfo(input);
  (void)ParseQeIdentity(input);
  TdxCollateral collateral;
  (void)AddCollateralFile("fuzz", input, collateral);
  return 0;
}
