# TPM 2.0 quote structures, PCR listings and quote bundles (attest/tpm).
# The two JSON bundles (tests/fuzz/seeds/tpm_quote, made by make_seeds.py
# there from the swtpm vectors) reach TpmVerifier::Verify and its AK caches.
set(tpm_vectors ${STRONGROOM_VECTORS_DIR}/tpm)
strongroom_add_fuzzer(tpm_quote ${CMAKE_CURRENT_SOURCE_DIR}/tpm_quote_fuzz.cc
  LIBS attest_tpm
  SEEDS
    ${tpm_vectors}/swtpm/quote_ecc.attest
    ${tpm_vectors}/swtpm/quote_rsa.attest
    ${tpm_vectors}/swtpm/quote_ecc.sig
    ${tpm_vectors}/swtpm/quote_rsa.sig
    ${tpm_vectors}/swtpm/ak_ecc.pub
    ${tpm_vectors}/swtpm/ak_rsa.pub
    ${tpm_vectors}/swtpm/ek.pub
    ${tpm_vectors}/swtpm/pcrread.txt
    ${tpm_vectors}/swtpm/pcrs_sha256.txt
    ${tpm_vectors}/gce-shielded-vm/gce-cos-85-nonce9009_q2_attest.bin
    ${tpm_vectors}/gce-shielded-vm/gce-cos-85-nonce9009_q0_tpmt_signature.bin
    ${tpm_vectors}/gce-shielded-vm/gce-cos-85-nonce9009_ak_tpmt_public.bin
    ${tpm_vectors}/gce-shielded-vm/gce-cos-85-nonce9009_q1_pcrs.txt
    ${CMAKE_SOURCE_DIR}/tests/fuzz/seeds/tpm_quote/bundle_ecc.json
    ${CMAKE_SOURCE_DIR}/tests/fuzz/seeds/tpm_quote/bundle_rsa.json)
