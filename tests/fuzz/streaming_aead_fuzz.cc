// Fuzzes the streaming AEAD's decrypting readers (sequential, through
// ReadAll and through Read into a buffer that takes whole segments; random
// access; and the sealed store's segment stream, one segment at a time and
// on three threads into a sink that lends its buffer) with a fixed key.
//
// Raw input: byte 0 picks the parameters and how many bytes the source hands
// out per read, byte 1 the associated-data length (0..7), then the
// associated data, then the stream. Nothing may crash; errors are
// expected; all readers must agree.
//
// Seed input: Tink's streaming vector file (JSON). Each vector that
// decrypts with its own key (all of them in the real file) must be refused
// after every truncation and single-bit flip, by both readers; a violation
// aborts, so the seed replay checks authentication, not only robustness.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "nlohmann/json.hpp"
#include "storage/sealed/segment_layout.h"
#include "storage/sealed/segment_stream.h"
#include "storage/streaming/byte_stream.h"
#include "storage/streaming/streaming_aead_params.h"
#include "storage/streaming/streaming_aead_random_access_reader.h"
#include "storage/streaming/streaming_aead_reader.h"
#include "tests/storage/streaming/lending_sink.h"

namespace {

using strongroom::AsBytes;
using strongroom::SecretBytes;
using namespace strongroom::storage;

StreamingAeadParams MakeParams(HkdfHash hash, uint32_t dks, uint32_t segment,
                               uint32_t offset) {
  StreamingAeadParams p;
  p.hkdf_hash = hash;
  p.derived_key_size = dks;
  p.ciphertext_segment_size = segment;
  p.ciphertext_offset = offset;
  return p;
}

class Trickle final : public ByteSource {
 public:
  Trickle(ByteSource* inner, size_t max) : inner_(inner), max_(max) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> out) override {
    return inner_->Read(out.first(std::min(out.size(), max_)));
  }

 private:
  ByteSource* inner_;
  size_t max_;
};

// Sequential decryption; true when the whole stream authenticates.
bool Sequential(const SecretBytes& key, const StreamingAeadParams& p,
                absl::string_view aad, absl::string_view ct, size_t trickle,
                std::string* plaintext) {
  StringSource inner{std::string(ct)};
  Trickle source(&inner, trickle);
  auto reader = StreamingAeadReader::Create(key, p, AsBytes(aad), &source);
  if (!reader.ok()) return false;
  StringSink sink;
  if (!(*reader)->ReadAll(&sink).ok()) return false;
  *plaintext = sink.Release();
  return true;
}

// Sequential decryption through Read() into one buffer with room for the
// whole plaintext (each segment decrypted straight into it).
bool SequentialIntoBuffer(const SecretBytes& key, const StreamingAeadParams& p,
                          absl::string_view aad, absl::string_view ct, std::string* plaintext) {
  StringSource source{std::string(ct)};
  auto reader = StreamingAeadReader::Create(key, p, AsBytes(aad), &source);
  if (!reader.ok()) return false;
  std::string out(ct.size() + 1, '\0');
  size_t filled = 0;
  for (;;) {
    auto n = (*reader)->Read(std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()) + filled,
                                                out.size() - filled));
    if (!n.ok()) return false;
    if (*n == 0) break;
    filled += *n;
  }
  out.resize(filled);
  *plaintext = std::move(out);
  return true;
}


// The sealed store's path: the stream cut into the segments the store sends
// (sealed/segment_layout.h), decrypted by SegmentStreamReader with `threads`
// threads. Streams with a ciphertext offset are not sealed streams.
bool Segmented(const SecretBytes& key, const StreamingAeadParams& p, absl::string_view aad,
               absl::string_view ct, int threads, std::string* plaintext) {
  using Segment = sealed::SegmentStreamReader::Segment;
  if (p.ciphertext_offset != 0 || ct.size() < p.header_size()) return false;
  auto layout = sealed::SegmentLayout::ForStreamSize(p, ct.size());
  if (!layout.ok()) return false;
  std::vector<Segment> segments;
  uint64_t pos = p.header_size();
  for (uint64_t i = 0; i < layout->segment_count(); ++i) {
    const uint64_t n = layout->SegmentSize(i);
    segments.push_back({i, std::string(ct.substr(pos, n))});
    pos += n;
  }
  size_t next = 0;
  auto reader = sealed::SegmentStreamReader::Create(
      key, p, AsBytes(aad), AsBytes(ct.substr(0, p.header_size())), ct.size(),
      [&]() -> absl::StatusOr<std::optional<Segment>> {
        if (next == segments.size()) return std::nullopt;
        return std::move(segments[next++]);
      });
  if (!reader.ok()) return false;
  testing::LendingSink sink;
  if (!(*reader)->CopyRange(0, UINT64_MAX, &sink, nullptr, threads).ok()) return false;
  *plaintext = sink.committed();
  return true;
}

// Random access over the stream with the offset prefix; true when every
// segment authenticates.
bool RandomAccess(const SecretBytes& key, const StreamingAeadParams& p,
                  absl::string_view aad, absl::string_view ct,
                  std::string* plaintext) {
  StringSource source(std::string(p.ciphertext_offset, '\0') + std::string(ct));
  auto reader =
      StreamingAeadRandomAccessReader::Create(key, p, AsBytes(aad), &source);
  if (!reader.ok()) return false;
  // A range in the middle first (exercises the segment mapping), then all.
  std::string window(7, '\0');
  (void)(*reader)->ReadAt(
      (*reader)->plaintext_size() / 2,
      std::span<uint8_t>(reinterpret_cast<uint8_t*>(window.data()), 7));
  std::string all((*reader)->plaintext_size(), '\0');
  auto n = (*reader)->ReadAt(
      0,
      std::span<uint8_t>(reinterpret_cast<uint8_t*>(all.data()), all.size()));
  if (!n.ok() || *n != all.size()) return false;
  *plaintext = std::move(all);
  return true;
}

void FuzzRaw(const uint8_t* data, size_t size) {
  static const SecretBytes* key = new SecretBytes(
      SecretBytes::CopyFrom(AsBytes("strongroom streaming fuzz key 32")));
  static const StreamingAeadParams kParams[] = {
      MakeParams(HkdfHash::kSha1, 16, 64, 0),
      MakeParams(HkdfHash::kSha256, 32, 128, 0),
      MakeParams(HkdfHash::kSha512, 16, 80, 5),
      MakeParams(HkdfHash::kSha256, 32, 4096, 0),
  };
  if (size < 2) return;
  const StreamingAeadParams& p = kParams[data[0] % 4];
  const size_t trickle = 1 + (data[0] >> 4);
  const size_t aad_len = std::min<size_t>(data[1] % 8, size - 2);
  const absl::string_view aad(reinterpret_cast<const char*>(data + 2), aad_len);
  const absl::string_view ct(reinterpret_cast<const char*>(data + 2 + aad_len),
                             size - 2 - aad_len);
  std::string a, b, c, d, e;
  const bool seq = Sequential(*key, p, aad, ct, trickle, &a);
  const bool ra = RandomAccess(*key, p, aad, ct, &b);
  const bool direct = SequentialIntoBuffer(*key, p, aad, ct, &c);
  // Every reader judges a stream the same way.
  if (seq != ra || (seq && a != b) || direct != seq || (seq && c != a)) std::abort();
  if (p.ciphertext_offset == 0) {
    const bool one = Segmented(*key, p, aad, ct, 1, &d);
    const bool three = Segmented(*key, p, aad, ct, 3, &e);
    if (one != seq || three != seq || (seq && (d != a || e != a))) std::abort();
  }
}

std::string Unhex(const nlohmann::json& v, const char* field) {
  if (!v.contains(field) || !v[field].is_string()) return "";
  auto b = strongroom::HexDecode(v[field].get<std::string>(), field);
  return b.ok() ? std::string(b->begin(), b->end()) : "";
}

// True when `data` was the vector file.
bool FuzzVectorFile(const uint8_t* data, size_t size) {
  if (size == 0 || data[0] != '{') return false;
  nlohmann::json doc = nlohmann::json::parse(data, data + size, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("vectors") ||
      !doc["vectors"].is_array()) {
    return false;
  }
  for (const auto& v : doc["vectors"]) {
    if (!v.is_object() || !v.contains("hkdfHash") ||
        !v["hkdfHash"].is_string() || !v.contains("derivedKeySizeBytes") ||
        !v["derivedKeySizeBytes"].is_number_unsigned() ||
        !v.contains("ciphertextSegmentSize") ||
        !v["ciphertextSegmentSize"].is_number_unsigned()) {
      continue;
    }
    auto hash = ParseHkdfHash(v["hkdfHash"].get<std::string>());
    if (!hash.ok()) continue;
    const StreamingAeadParams p =
        MakeParams(*hash, v["derivedKeySizeBytes"].get<uint32_t>(),
                   v["ciphertextSegmentSize"].get<uint32_t>(), 0);
    const std::string key_bytes = Unhex(v, "key");
    if (!p.ValidateWithKeySize(key_bytes.size()).ok()) continue;
    const SecretBytes key = SecretBytes::CopyFrom(AsBytes(key_bytes));
    const std::string aad = Unhex(v, "aad");
    const std::string ct = Unhex(v, "ciphertext");
    // The fuzzer mutates this file too, so a vector that no longer
    // authenticates is skipped; one that does must be refused once truncated
    // or flipped, and both readers must agree on it.
    std::string got, got_ra, got_direct, got_par;
    const bool seq = Sequential(key, p, aad, ct, 3, &got);
    const bool ra = RandomAccess(key, p, aad, ct, &got_ra);
    const bool direct = SequentialIntoBuffer(key, p, aad, ct, &got_direct);
    const bool par = Segmented(key, p, aad, ct, 3, &got_par);
    if (seq != ra || (seq && got != got_ra)) std::abort();
    if (direct != seq || par != seq || (seq && (got_direct != got || got_par != got))) {
      std::abort();
    }
    if (!seq) continue;
    for (size_t n = 0; n < ct.size(); ++n) {
      if (Sequential(key, p, aad, ct.substr(0, n), 64, &got)) std::abort();
      if (RandomAccess(key, p, aad, ct.substr(0, n), &got)) std::abort();
      if (Segmented(key, p, aad, ct.substr(0, n), 1, &got)) std::abort();
    }
    for (size_t pos = 0; pos < ct.size(); ++pos) {
      std::string bad = ct;
      bad[pos] ^= 0x10;
      if (Sequential(key, p, aad, bad, 64, &got)) std::abort();
      if (RandomAccess(key, p, aad, bad, &got)) std::abort();
      if (SequentialIntoBuffer(key, p, aad, bad, &got)) std::abort();
      // Three threads on every eighth flip (thread start-up per call would
      // otherwise dominate the fuzzer's time; raw inputs use three always).
      if (Segmented(key, p, aad, bad, pos % 8 == 0 ? 3 : 1, &got)) std::abort();
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!FuzzVectorFile(data, size)) FuzzRaw(data, size);
  return 0;
}
