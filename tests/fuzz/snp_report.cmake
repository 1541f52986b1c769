# SEV-SNP attestation report parser and VCEK extension decoder.
strongroom_add_fuzzer(snp_report ${CMAKE_CURRENT_SOURCE_DIR}/snp_report_fuzz.cc
  LIBS attest_snp
  SEEDS
    ${STRONGROOM_VECTORS_DIR}/sev-snp/milan/gosev_report.bin
    ${STRONGROOM_VECTORS_DIR}/sev-snp/milan/virtee_report.bin
    ${STRONGROOM_VECTORS_DIR}/sev-snp/milan/gosev_vcek.der
    ${STRONGROOM_VECTORS_DIR}/sev-snp/turin/virtee_vcek_turin.der
    ${STRONGROOM_VECTORS_DIR}/sev-snp/negative/trustee_test-vcek-invalid-legacy.der
    ${STRONGROOM_VECTORS_DIR}/sev-snp/negative/trustee_test-vcek-invalid-new.der)
