# The seeds: evidence made by an independent implementation (see
# tests/attest/dev/testdata/README.md; there is no dev vector in shared/),
# and its body JSON decoded (seeds/dev_evidence/body_pyca.json), so that
# mutations reach the body parsers directly.
strongroom_add_fuzzer(dev_evidence ${CMAKE_CURRENT_SOURCE_DIR}/dev_evidence_fuzz.cc
  LIBS attest_dev
  SEEDS ${CMAKE_SOURCE_DIR}/tests/attest/dev/testdata/dev_evidence_pyca.json
        ${CMAKE_CURRENT_SOURCE_DIR}/seeds/dev_evidence/body_pyca.json)
