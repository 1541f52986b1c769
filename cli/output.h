// What the CLI prints on stdout: protobuf JSON for --json, readable tables and
// key/value blocks otherwise. Nothing here prints plaintext or key material;
// the crypto commands write those themselves, only to --out or stdout.
#ifndef STRONGROOM_CLI_OUTPUT_H_
#define STRONGROOM_CLI_OUTPUT_H_

#include <google/protobuf/message.h>
#include <google/protobuf/repeated_field.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "strongroom/v1/key_management.pb.h"

namespace strongroom::cli {

namespace v1 = ::strongroom::v1;

// Protobuf JSON (proto field names, defaults printed, bytes as base64).
std::string ToJson(const google::protobuf::Message& m);
void PrintJson(const google::protobuf::Message& m);  // with a newline

// ToJson(without_secret) with its bytes field `field` (empty there) set to
// `secret`, and a newline, built in `*line` with one allocation: ToJson of
// a message holding the secret would leave copies in freed buffers (the
// message's serialization, the string's growth). The caller wipes *line.
// Internal if `field` is not printed as an empty bytes field.
absl::Status JsonLineWithSecret(const google::protobuf::Message& without_secret,
                                absl::string_view field, std::span<const uint8_t> secret,
                                std::string* line);

// Columns padded to their widest cell; the header row is the first row.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string FormatTime(int64_t unix_micros);   // "2025-01-31 12:00:00Z"; "-" for 0
std::string FormatSeconds(int64_t seconds);    // "30d", "12h", "90s"
std::string ProtectionName(v1::Protection p);  // "software", "hsm"

void PrintKey(const v1::Key& key);  // one "field  value" line each
void PrintKeyTable(const google::protobuf::RepeatedPtrField<v1::Key>& keys);
void PrintVersionTable(const google::protobuf::RepeatedPtrField<v1::KeyVersion>& versions);
void PrintVersion(const v1::KeyVersion& version);  // one line
void PrintChangeResult(const v1::ChangeResult& result);
void PrintChangeTable(const google::protobuf::RepeatedPtrField<v1::ChangeProposal>& changes);
void PrintRootKeyStatus(const v1::RootKeyStatus& status);

}  // namespace strongroom::cli

#endif  // STRONGROOM_CLI_OUTPUT_H_
