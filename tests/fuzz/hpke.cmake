# HPKE: raw / SPKI / PKCS#8 / PEM key parsers and the recipient (decap + open)
# path. Seeds: a real P-256 SPKI PEM, an RSA one (wrong type), a DER
# certificate and a DER signature; for the open path their leading bytes act
# as enc (any 32 bytes are an X25519 point) and the rest as ciphertext.
strongroom_add_fuzzer(hpke ${CMAKE_CURRENT_SOURCE_DIR}/hpke_fuzz.cc
  LIBS kms_hpke
  SEEDS
    ${STRONGROOM_VECTORS_DIR}/tpm/swtpm/ak_ecc_pub.pem
    ${STRONGROOM_VECTORS_DIR}/tpm/swtpm/ak_rsa_pub.pem
    ${STRONGROOM_VECTORS_DIR}/tpm/swtpm/ek_ecc_cert.der
    ${STRONGROOM_VECTORS_DIR}/tpm/swtpm/quote_ecc.sig.der
)
