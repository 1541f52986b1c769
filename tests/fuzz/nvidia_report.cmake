strongroom_add_fuzzer(nvidia_report ${CMAKE_CURRENT_SOURCE_DIR}/nvidia_report_fuzz.cc
  LIBS attest_nvidia
  SEEDS ${STRONGROOM_VECTORS_DIR}/nvidia/nvtrust_hopperAttestationReport.hex.txt)
