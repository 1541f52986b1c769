# Sealed object header and segment layout (storage/sealed). Seeds: headers
# written by SealedHeader::Encode with segment-layout inputs after them
# (tests/fuzz/seeds/sealed_header/README.md says how they were made).
set(_sealed_seeds ${CMAKE_SOURCE_DIR}/tests/fuzz/seeds/sealed_header)
strongroom_add_fuzzer(sealed_header ${CMAKE_CURRENT_SOURCE_DIR}/sealed_header_fuzz.cc
  LIBS storage_sealed_format
  SEEDS
    ${_sealed_seeds}/sha256_dks32_seg1m_short.bin
    ${_sealed_seeds}/sha256_dks16_seg4k_multi.bin
    ${_sealed_seeds}/sha512_dks32_seg64k_range_end.bin
    ${_sealed_seeds}/sha1_dks16_seg1k_long_names.bin)
