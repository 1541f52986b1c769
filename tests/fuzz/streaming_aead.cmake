# Decrypting readers of the streaming AEAD (storage/streaming), fixed key.
strongroom_add_fuzzer(streaming_aead
  ${CMAKE_CURRENT_SOURCE_DIR}/streaming_aead_fuzz.cc
  LIBS storage_streaming storage_sealed_format nlohmann_json::nlohmann_json
  SEEDS ${STRONGROOM_VECTORS_DIR}/streaming-aead/tink/aes_gcm_hkdf_streaming_vectors.json)
