# TDX quote parser (attest/tdx/quote.h) and the PCK SGX extension reader.
strongroom_add_fuzzer(tdx_quote ${CMAKE_CURRENT_SOURCE_DIR}/tdx_quote_fuzz.cc
  LIBS attest_tdx
  SEEDS
    ${STRONGROOM_VECTORS_DIR}/tdx/gotdx/quote_v4_SPR_E4.dat
    ${STRONGROOM_VECTORS_DIR}/tdx/gotdx/quote_v4_SPR_E4_with_trailing_bytes.dat
    ${STRONGROOM_VECTORS_DIR}/tdx/gotdx/quote_v5_sample.dat
    ${STRONGROOM_VECTORS_DIR}/tdx/gotdx/td_report.dat)
