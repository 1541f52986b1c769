// Known-answer tests against Tink's AES-GCM-HKDF streaming vectors
// (shared/vectors/streaming-aead/tink): every vector decrypts with both
// readers, and re-encrypts byte for byte when the writer is given the salt
// and nonce prefix from the vector's header.
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/file.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "storage/streaming/segment_cipher.h"
#include "storage/streaming/streaming_aead_params.h"
#include "tests/storage/streaming/streaming_test_util.h"

namespace strongroom::storage {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

struct TinkVector {
  int id = 0;
  std::string note;
  StreamingAeadParams params;
  Bytes key;
  std::string aad;
  std::string plaintext;
  std::string ciphertext;
  size_t header_length = 0;
  std::vector<size_t> segment_lengths;
};

std::string Unhex(const nlohmann::json& v, const char* field) {
  absl::StatusOr<Bytes> b = HexDecode(v.at(field).get<std::string>(), field);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? std::string(b->begin(), b->end()) : "";
}

std::vector<TinkVector> LoadTinkVectors() {
  absl::StatusOr<std::string> text = ReadFileToString(
      std::string(STRONGROOM_VECTORS_DIR) +
          "/streaming-aead/tink/aes_gcm_hkdf_streaming_vectors.json",
      "tink streaming vectors");
  if (!text.ok()) return {};
  nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.is_discarded()) return {};
  std::vector<TinkVector> out;
  for (const auto& v : doc.at("vectors")) {
    TinkVector t;
    t.id = v.at("id").get<int>();
    t.note = v.at("note").get<std::string>();
    absl::StatusOr<HkdfHash> hash =
        ParseHkdfHash(v.at("hkdfHash").get<std::string>());
    if (!hash.ok()) continue;
    t.params.hkdf_hash = *hash;
    t.params.derived_key_size = v.at("derivedKeySizeBytes").get<uint32_t>();
    t.params.ciphertext_segment_size =
        v.at("ciphertextSegmentSize").get<uint32_t>();
    t.params.ciphertext_offset = 0;
    std::string key = Unhex(v, "key");
    t.key.assign(key.begin(), key.end());
    EXPECT_EQ(t.key.size(), v.at("keySizeBytes").get<size_t>());
    t.aad = Unhex(v, "aad");
    t.plaintext = Unhex(v, "plaintext");
    t.ciphertext = Unhex(v, "ciphertext");
    t.header_length = v.at("headerLength").get<size_t>();
    t.segment_lengths =
        v.at("ciphertextSegmentLengths").get<std::vector<size_t>>();
    out.push_back(std::move(t));
  }
  return out;
}

const std::vector<TinkVector>& TinkVectors() {
  static const std::vector<TinkVector>* v =
      new std::vector<TinkVector>(LoadTinkVectors());
  return *v;
}

TEST(TinkVectorFileTest, HasAllEightVectors) {
  ASSERT_EQ(TinkVectors().size(), 8u);
}

class TinkVectorTest : public ::testing::TestWithParam<TinkVector> {};

TEST_P(TinkVectorTest, LayoutMatchesParameters) {
  const TinkVector& v = GetParam();
  ASSERT_OK(v.params.ValidateWithKeySize(v.key.size()));
  EXPECT_EQ(v.params.header_size(), v.header_length);
  EXPECT_EQ(static_cast<uint8_t>(v.ciphertext[0]), v.header_length);
  EXPECT_EQ(v.params.SegmentCount(v.plaintext.size()),
            v.segment_lengths.size());
  ASSERT_OK_AND_ASSIGN(uint64_t ct_size,
                       v.params.CiphertextSize(v.plaintext.size()));
  EXPECT_EQ(ct_size, v.ciphertext.size());
}

TEST_P(TinkVectorTest, SequentialReaderDecrypts) {
  const TinkVector& v = GetParam();
  SecretBytes key = SecretBytes::CopyFrom(v.key);
  ASSERT_OK_AND_ASSIGN(std::string pt,
                       testing::Decrypt(key, v.params, v.aad, v.ciphertext));
  EXPECT_EQ(HexEncode(AsBytes(pt)), HexEncode(AsBytes(v.plaintext)));
}

TEST_P(TinkVectorTest, SequentialReaderDecryptsOneByteAtATime) {
  const TinkVector& v = GetParam();
  SecretBytes key = SecretBytes::CopyFrom(v.key);
  StringSource inner(v.ciphertext);
  testing::TricklingSource source(&inner, 1);
  ASSERT_OK_AND_ASSIGN(
      auto reader,
      StreamingAeadReader::Create(key, v.params, AsBytes(v.aad), &source));
  std::string pt;
  std::vector<size_t> segment_plaintexts;
  while (!reader->done()) {
    ASSERT_OK_AND_ASSIGN(auto seg, reader->NextSegment());
    segment_plaintexts.push_back(seg.size());
    pt.append(seg.begin(), seg.end());
  }
  EXPECT_EQ(pt, v.plaintext);
  ASSERT_EQ(segment_plaintexts.size(), v.segment_lengths.size());
  for (size_t i = 0; i < v.segment_lengths.size(); ++i) {
    EXPECT_EQ(segment_plaintexts[i] + kStreamingAeadTagSize,
              v.segment_lengths[i])
        << "segment " << i;
  }
}

TEST_P(TinkVectorTest, RandomAccessReaderDecrypts) {
  const TinkVector& v = GetParam();
  SecretBytes key = SecretBytes::CopyFrom(v.key);
  StringSource source(v.ciphertext);
  ASSERT_OK_AND_ASSIGN(auto reader,
                       StreamingAeadRandomAccessReader::Create(
                           key, v.params, AsBytes(v.aad), &source));
  EXPECT_EQ(reader->segment_count(), v.segment_lengths.size());
  EXPECT_EQ(reader->plaintext_size(), v.plaintext.size());
  ASSERT_OK_AND_ASSIGN(std::string pt, testing::DecryptRandomAccess(
                                           key, v.params, v.aad, v.ciphertext));
  EXPECT_EQ(pt, v.plaintext);
}

TEST_P(TinkVectorTest, WriterReproducesCiphertextFromHeaderSaltAndPrefix) {
  const TinkVector& v = GetParam();
  SecretBytes key = SecretBytes::CopyFrom(v.key);
  ASSERT_OK_AND_ASSIGN(
      StreamHeader header,
      ParseStreamHeader(v.params,
                        AsBytes(absl::string_view(v.ciphertext)
                                    .substr(0, v.params.header_size()))));
  // Whole-buffer writes and byte-at-a-time writes give the same bytes.
  for (size_t chunk : {size_t{0}, size_t{1}, size_t{5}}) {
    StringSink sink;
    ASSERT_OK_AND_ASSIGN(
        auto writer,
        StreamingAeadWriter::CreateWithSaltAndNoncePrefixForTesting(
            key, v.params, AsBytes(v.aad), header.salt, header.nonce_prefix,
            &sink));
    const absl::string_view pt(v.plaintext);
    const size_t step = chunk == 0 ? std::max<size_t>(pt.size(), 1) : chunk;
    for (size_t i = 0; i < pt.size(); i += step) {
      ASSERT_OK(writer->Write(AsBytes(pt.substr(i, step))));
    }
    ASSERT_OK(writer->Finish());
    EXPECT_EQ(HexEncode(AsBytes(sink.data())), HexEncode(AsBytes(v.ciphertext)))
        << "chunk " << chunk;
    EXPECT_EQ(writer->ciphertext_bytes(), v.ciphertext.size());
    EXPECT_EQ(writer->plaintext_bytes(), v.plaintext.size());
  }
}

TEST_P(TinkVectorTest, WrongAssociatedDataFailsSegmentZero) {
  const TinkVector& v = GetParam();
  SecretBytes key = SecretBytes::CopyFrom(v.key);
  EXPECT_THAT(testing::Decrypt(key, v.params, v.aad + "x", v.ciphertext),
              StatusIs(absl::StatusCode::kDataLoss,
                       "segment 0: ciphertext does not authenticate"));
}

TEST_P(TinkVectorTest, OtherHkdfHashFailsSegmentZero) {
  const TinkVector& v = GetParam();
  SecretBytes key = SecretBytes::CopyFrom(v.key);
  StreamingAeadParams other = v.params;
  other.hkdf_hash = v.params.hkdf_hash == HkdfHash::kSha256 ? HkdfHash::kSha1
                                                            : HkdfHash::kSha256;
  EXPECT_THAT(testing::Decrypt(key, other, v.aad, v.ciphertext),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("segment 0")));
}

TEST_P(TinkVectorTest, OtherDerivedKeySizeIsRefused) {
  const TinkVector& v = GetParam();
  SecretBytes key = SecretBytes::CopyFrom(v.key);
  StreamingAeadParams other = v.params;
  other.derived_key_size = v.params.derived_key_size == 16 ? 32 : 16;
  // A 16-byte input key cannot make a 32-byte AES key; otherwise the header
  // length byte gives the mismatch away.
  EXPECT_THAT(testing::Decrypt(key, other, v.aad, v.ciphertext),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(v.key.size() < 32 ? "key: 16 bytes"
                                                   : "header length byte")));
}

INSTANTIATE_TEST_SUITE_P(Tink, TinkVectorTest,
                         ::testing::ValuesIn(TinkVectors()),
                         [](const ::testing::TestParamInfo<TinkVector>& info) {
                           return "vector" + std::to_string(info.param.id);
                         });

}  // namespace
}  // namespace strongroom::storage
