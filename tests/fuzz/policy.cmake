# Release policies and reference-value sets (attest/policy). Seeds: the
# example policies and set from tests/attest/policy/testdata, plus small
# JSON documents from the shared vectors (schemas) as unrelated input.
set(_policy_testdata ${CMAKE_SOURCE_DIR}/tests/attest/policy/testdata)
strongroom_add_fuzzer(policy ${CMAKE_CURRENT_SOURCE_DIR}/policy_fuzz.cc
  LIBS attest_policy
  SEEDS
    ${_policy_testdata}/snp.json
    ${_policy_testdata}/tdx.json
    ${_policy_testdata}/tpm.json
    ${_policy_testdata}/composite_snp_nvidia.json
    ${_policy_testdata}/dev.json
    ${_policy_testdata}/fuzz-crash-refvalues-roundtrip.json
    ${_policy_testdata}/approved_snp_measurements.json
    ${STRONGROOM_VECTORS_DIR}/wycheproof/schemas/common.json
    ${STRONGROOM_VECTORS_DIR}/wycheproof/schemas/keywrap_test_schema_v1.json
)
