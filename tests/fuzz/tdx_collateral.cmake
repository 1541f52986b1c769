# TDX collateral parsers (attest/tdx/collateral.h).
strongroom_add_fuzzer(tdx_collateral ${CMAKE_CURRENT_SOURCE_DIR}/tdx_collateral_fuzz.cc
  LIBS attest_tdx
  SEEDS
    ${STRONGROOM_VECTORS_DIR}/tdx/gotdx/tcbinfo_fmspc_50806f000000.json
    ${STRONGROOM_VECTORS_DIR}/tdx/gotdx/tcbinfo_fmspc_90c06f000000.json
    ${STRONGROOM_VECTORS_DIR}/tdx/gotdx/qe_identity_td_qe.json
    ${STRONGROOM_VECTORS_DIR}/tdx/gotdx/pck_platform_crl.der
    ${STRONGROOM_VECTORS_DIR}/tdx/gotdx/root_ca_crl.der
    ${STRONGROOM_VECTORS_DIR}/tdx/gotdx/tcb_signing_chain_2018.pem)
