# Seeds: real SEV-SNP material (a VCEK and a report) as byte soup for the
# certificate-table, token and SealedKey parsers.
strongroom_add_fuzzer(workload_client ${CMAKE_CURRENT_SOURCE_DIR}/workload_client_fuzz.cc
  LIBS client_workload
  SEEDS ${STRONGROOM_VECTORS_DIR}/sev-snp/milan/gosev_vcek.der
        ${STRONGROOM_VECTORS_DIR}/sev-snp/milan/gosev_report.bin)
