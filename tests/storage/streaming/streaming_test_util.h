// Helpers shared by the streaming AEAD tests: one-call encrypt/decrypt over
// strings, and wrapper fakes (a source that hands out few bytes per call, a
// sink that fails on demand, byte counters) for the bounded-memory and
// fault checks.
#ifndef STRONGROOM_TESTS_STORAGE_STREAMING_STREAMING_TEST_UTIL_H_
#define STRONGROOM_TESTS_STORAGE_STREAMING_STREAMING_TEST_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status_macros.h"
#include "gmock/gmock.h"
#include "storage/streaming/byte_stream.h"
#include "storage/streaming/streaming_aead_random_access_reader.h"
#include "storage/streaming/streaming_aead_reader.h"
#include "storage/streaming/streaming_aead_writer.h"

namespace strongroom::storage::testing {

// StatusOr<T> is OK and its value matches `m`.
MATCHER_P(IsOkAndHolds, m, "") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(m, *arg, result_listener);
}

inline SecretBytes KeyFrom(absl::string_view s) {
  return SecretBytes::CopyFrom(AsBytes(s));
}

// A deterministic plaintext of `n` bytes that differs at every position
// modulo 251, so a misplaced segment shows up as a mismatch.
inline std::string Pattern(size_t n, uint8_t seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>((i * 7 + seed) % 251);
  }
  return s;
}

// Encrypts `plaintext` in writes of at most `chunk` bytes (0: one write).
inline absl::StatusOr<std::string> Encrypt(const SecretBytes& key,
                                           const StreamingAeadParams& params,
                                           absl::string_view aad,
                                           absl::string_view plaintext,
                                           size_t chunk = 0) {
  StringSink sink;
  ASSIGN_OR_RETURN(auto writer, StreamingAeadWriter::Create(
                                    key, params, AsBytes(aad), &sink));
  if (chunk == 0) chunk = std::max<size_t>(plaintext.size(), 1);
  for (size_t i = 0; i < plaintext.size(); i += chunk) {
    RETURN_IF_ERROR(writer->Write(AsBytes(plaintext.substr(i, chunk))));
  }
  RETURN_IF_ERROR(writer->Finish());
  return sink.Release();
}

// Decrypts a whole stream with the sequential reader.
inline absl::StatusOr<std::string> Decrypt(const SecretBytes& key,
                                           const StreamingAeadParams& params,
                                           absl::string_view aad,
                                           absl::string_view ciphertext) {
  StringSource source{std::string(ciphertext)};
  ASSIGN_OR_RETURN(auto reader, StreamingAeadReader::Create(
                                    key, params, AsBytes(aad), &source));
  StringSink sink;
  RETURN_IF_ERROR(reader->ReadAll(&sink));
  return sink.Release();
}

// Decrypts a whole stream through the random-access reader, one ReadAt.
inline absl::StatusOr<std::string> DecryptRandomAccess(
    const SecretBytes& key, const StreamingAeadParams& params,
    absl::string_view aad, absl::string_view ciphertext) {
  StringSource source{std::string(ciphertext)};
  ASSIGN_OR_RETURN(auto reader, StreamingAeadRandomAccessReader::Create(
                                    key, params, AsBytes(aad), &source));
  std::string out(reader->plaintext_size(), '\0');
  ASSIGN_OR_RETURN(size_t n,
                   reader->ReadAt(0, std::span<uint8_t>(
                                         reinterpret_cast<uint8_t*>(out.data()),
                                         out.size())));
  out.resize(n);
  return out;
}

// Forwards to a real source, at most `max_read` bytes per call, and counts
// what it handed out.
class TricklingSource final : public ByteSource {
 public:
  TricklingSource(ByteSource* inner, size_t max_read)
      : inner_(inner), max_read_(max_read) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> out) override {
    ASSIGN_OR_RETURN(size_t n,
                     inner_->Read(out.first(std::min(out.size(), max_read_))));
    consumed_ += n;
    return n;
  }
  uint64_t consumed() const { return consumed_; }

 private:
  ByteSource* inner_;
  size_t max_read_;
  uint64_t consumed_ = 0;
};

// Forwards to a real sink until `fail_after` bytes have passed, then fails.
class FailingSink final : public ByteSink {
 public:
  FailingSink(ByteSink* inner, uint64_t fail_after)
      : inner_(inner), fail_after_(fail_after) {}
  absl::Status Append(std::span<const uint8_t> data) override {
    if (written_ + data.size() > fail_after_) {
      return absl::UnavailableError("injected sink failure");
    }
    written_ += data.size();
    ++appends_;
    return inner_->Append(data);
  }
  uint64_t written() const { return written_; }
  int appends() const { return appends_; }

 private:
  ByteSink* inner_;
  uint64_t fail_after_;
  uint64_t written_ = 0;
  int appends_ = 0;
};

}  // namespace strongroom::storage::testing

#endif  // STRONGROOM_TESTS_STORAGE_STREAMING_STREAMING_TEST_UTIL_H_
