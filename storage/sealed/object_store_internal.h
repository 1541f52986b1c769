// Helpers shared by the object_store*.cc files. Internal to storage/sealed.
#ifndef STRONGROOM_STORAGE_SEALED_OBJECT_STORE_INTERNAL_H_
#define STRONGROOM_STORAGE_SEALED_OBJECT_STORE_INTERNAL_H_

#include <google/protobuf/map.h>
#include <google/protobuf/message_lite.h>
#include <rocksdb/slice.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace strongroom::storage::sealed::internal {

inline rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

inline int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }

// 128 random bits as 32 hex characters (upload, job and key-space ids).
std::string RandomId();
// True for what RandomId() makes: 32 lowercase hex characters.
bool IsRandomId(absl::string_view id);

// A stored record that does not parse is data loss, named by its key.
template <typename Message>
absl::StatusOr<Message> ParseRecord(absl::string_view bytes, absl::string_view what) {
  Message m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat("stored ", what, " record does not parse"));
  }
  return m;
}

// Scans the records under `prefix`, parsed as Message: `fn(Message)` returns
// false to stop. A record that does not parse stops the scan with DataLoss.
template <typename Message, typename Db, typename Fn>
absl::Status ScanRecords(const Db& db, absl::string_view prefix, absl::string_view what, Fn&& fn) {
  absl::Status error;
  absl::Status scanned = db.Scan(prefix, "", [&](absl::string_view, absl::string_view value) {
    absl::StatusOr<Message> m = ParseRecord<Message>(value, what);
    if (!m.ok()) {
      error = m.status();
      return false;
    }
    return fn(*std::move(m));
  });
  if (!scanned.ok()) return scanned;
  return error;
}

inline std::string Serialize(const google::protobuf::MessageLite& m) {
  return m.SerializeAsString();
}

// Page tokens are the last key of the previous page, base64url (opaque).
std::string EncodePageToken(absl::string_view key);
absl::StatusOr<std::string> DecodePageToken(absl::string_view token, absl::string_view prefix);
// 0: 100; InvalidArgument naming page_size outside [0, 1000] (as the KMS).
absl::StatusOr<int32_t> PageSize(int32_t requested);

}  // namespace strongroom::storage::sealed::internal

#endif  // STRONGROOM_STORAGE_SEALED_OBJECT_STORE_INTERNAL_H_
