// Shared by the sealed-store commands (object put/get) and the workload
// commands (workload get-object/put-object): their common arguments, sizes,
// progress on stderr, the plaintext output file that appears only once it
// has authenticated, byte ranges and input files.
#ifndef STRONGROOM_CLI_OBJECT_IO_H_
#define STRONGROOM_CLI_OBJECT_IO_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cli/command.h"
#include "client/sealed_object.h"
#include "storage/sealed/object_names.h"

namespace strongroom::cli {

// "512 B", "1.5 MiB".
std::string FormatBytes(uint64_t n);

// What a progress line counts.
enum class ProgressUnit { kBytes, kSegments };

// One progress line: "put 1.5 MiB / 4.0 MiB  512.0 KiB/s  ETA 0:05" (the
// total and ETA when the total is known and not reached; the rate over
// `seconds`); segments are counted as plain numbers ("3 / 10 segments
// 1.5 segments/s").
std::string FormatProgressLine(absl::string_view what, ProgressUnit unit, uint64_t done,
                               uint64_t total, double seconds);

// Progress on stderr, at most five times a second; nothing when stderr is
// not a terminal or with --quiet.
class Progress {
 public:
  Progress(const Invocation& inv, std::string what, ProgressUnit unit = ProgressUnit::kBytes);
  ~Progress();
  client::ProgressFn Fn();

 private:
  void Update(uint64_t done, uint64_t total);
  const bool enabled_;
  const std::string what_;
  const ProgressUnit unit_;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
  bool shown_ = false;
};

// The plaintext goes to a temporary file next to OUT (mode 0600) that is
// renamed to OUT only once the whole range has authenticated; "-" is stdout.
class OutputFile {
 public:
  // `what` names the output in errors (OUT, or the flag: "--out").
  static absl::StatusOr<OutputFile> Open(const std::string& path, absl::string_view what = "OUT");
  OutputFile(OutputFile&& o) noexcept : fd_(o.fd_), path_(o.path_), temp_(o.temp_), what_(o.what_) {
    o.fd_ = -1;
  }
  ~OutputFile();
  int fd() const { return fd_; }
  absl::Status Commit();

 private:
  OutputFile() = default;
  int fd_ = -1;
  std::string path_, temp_, what_;
};

// "START-END" (inclusive, as HTTP ranges) or "START-".
absl::Status ParseRange(const std::string& v, client::GetObjectOptions& o);

// DATASET/NAME[@VERSION]; a malformed one is a local error naming it.
absl::StatusOr<storage::sealed::ObjectPath> ObjectPathArg(const std::string& arg);

// What `object get` and `workload get-object` share: the object (argument
// 0, with an optional @VERSION), --raw and --range. Local errors.
absl::StatusOr<client::GetObjectOptions> GetOptionsFromArgs(const Invocation& inv);

// What `object put` and `workload put-object` share: the object (argument
// `path_arg`; an @VERSION is a usage error that names `command`), --label
// and --segment-size. Local errors.
absl::StatusOr<client::PutObjectOptions> PutOptionsFromArgs(const Invocation& inv,
                                                            absl::string_view command,
                                                            size_t path_arg = 0);

// FILE for reading ("-": stdin), with its size when it is a regular file.
struct InputFile {
  int fd = -1;
  uint64_t size_hint = 0;
};
absl::StatusOr<InputFile> OpenInputFile(const std::string& file);
void CloseInputFile(const InputFile& f);

}  // namespace strongroom::cli

#endif  // STRONGROOM_CLI_OBJECT_IO_H_
