#include "cli/object_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "cli/io.h"
#include "storage/sealed/store_options.h"

namespace strongroom::cli {

std::string FormatBytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrCat(n, " B") : absl::StrFormat("%.1f %s", v, units[u]);
}

std::string FormatProgressLine(absl::string_view what, ProgressUnit unit, uint64_t done,
                               uint64_t total, double seconds) {
  const double rate = seconds > 0 ? done / seconds : 0;
  std::string line;
  if (unit == ProgressUnit::kBytes) {
    line = absl::StrCat(what, " ", FormatBytes(done));
    if (total > 0) absl::StrAppend(&line, " / ", FormatBytes(total));
    absl::StrAppend(&line, "  ", FormatBytes(static_cast<uint64_t>(rate)), "/s");
  } else {
    line = absl::StrCat(what, " ", done);
    if (total > 0) absl::StrAppend(&line, " / ", total);
    absl::StrAppend(&line, " segments  ", absl::StrFormat("%.1f", rate), " segments/s");
  }
  if (total > done && rate > 0) {
    const int64_t eta = static_cast<int64_t>((total - done) / rate);
    absl::StrAppend(&line, absl::StrFormat("  ETA %d:%02d", eta / 60, eta % 60));
  }
  return line;
}

Progress::Progress(const Invocation& inv, std::string what, ProgressUnit unit)
    : enabled_(isatty(STDERR_FILENO) == 1 && !inv.options().Switch("quiet")),
      what_(std::move(what)),
      unit_(unit),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  if (shown_) std::fprintf(stderr, "\n");
}

client::ProgressFn Progress::Fn() {
  if (!enabled_) return nullptr;
  return [this](uint64_t done, uint64_t total) { Update(done, total); };
}

void Progress::Update(uint64_t done, uint64_t total) {
  const auto now = std::chrono::steady_clock::now();
  if (shown_ && now - last_ < std::chrono::milliseconds(200) && done != total) return;
  last_ = now;
  shown_ = true;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const std::string line = FormatProgressLine(what_, unit_, done, total, secs);
  std::fprintf(stderr, "\r%-72s", line.c_str());
  std::fflush(stderr);
}

namespace {

// The partial output in flight (the CLI writes one at a time): SIGINT,
// SIGTERM or SIGHUP while it is written removes it before the process ends
// as the signal would end it, so an interrupted `object get` leaves no
// partial plaintext behind. (SIGKILL cannot be caught: see docs/cli.md.)
char partial_path[4096];
volatile sig_atomic_t partial_set = 0;

void RemovePartialAndReraise(int sig) {
  if (partial_set) unlink(partial_path);
  signal(sig, SIG_DFL);
  raise(sig);
}

void TrackPartial(const std::string& temp) {
  static const bool installed = [] {
    struct sigaction sa = {};
    sa.sa_handler = RemovePartialAndReraise;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
    return true;
  }();
  (void)installed;
  partial_set = 0;
  if (temp.size() >= sizeof(partial_path)) return;
  std::memcpy(partial_path, temp.c_str(), temp.size() + 1);
  partial_set = 1;
}

void UntrackPartial() { partial_set = 0; }

}  // namespace

absl::StatusOr<OutputFile> OutputFile::Open(const std::string& path, absl::string_view what) {
  OutputFile f;
  f.what_ = std::string(what);
  if (NamesStdout(path)) {
    f.fd_ = STDOUT_FILENO;
    return f;
  }
  // Only a regular file (or a new one) can appear whole once authenticated:
  // a rename over a device or FIFO would replace it with a file of plaintext.
  struct stat st = {};
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return UsageError(
        absl::StrCat(what, ": '", path,
                     "' is not a regular file (a device, FIFO or folder); write to a file, or "
                     "to - and redirect"));
  }
  f.path_ = path;
  f.temp_ = path + ".partial-XXXXXX";
  f.fd_ = mkstemp(f.temp_.data());
  if (f.fd_ < 0) {
    return LocalError(absl::UnavailableError(
        absl::StrCat(what, ": cannot create '", f.temp_, "': ", std::strerror(errno))));
  }
  TrackPartial(f.temp_);
  return f;
}

OutputFile::~OutputFile() {
  if (fd_ >= 0 && fd_ != STDOUT_FILENO) {
    close(fd_);
    unlink(temp_.c_str());
    UntrackPartial();
  }
}

absl::Status OutputFile::Commit() {
  if (fd_ == STDOUT_FILENO) return absl::OkStatus();
  const bool ok = fsync(fd_) == 0 && close(fd_) == 0;
  fd_ = -1;
  // Renamed, the file is the output the user asked for; from here a signal
  // leaves it (a failed rename removes the partial file below).
  const bool renamed = ok && rename(temp_.c_str(), path_.c_str()) == 0;
  UntrackPartial();
  if (!renamed) {
    absl::Status s = absl::UnavailableError(
        absl::StrCat(what_, ": cannot write '", path_, "': ", std::strerror(errno)));
    unlink(temp_.c_str());
    return s;
  }
  return absl::OkStatus();
}

// "START-END" (inclusive, as HTTP ranges) or "START-".
absl::Status ParseRange(const std::string& v, client::GetObjectOptions& o) {
  const size_t dash = v.find('-');
  uint64_t start = 0, end = 0;
  if (dash == std::string::npos || !absl::SimpleAtoi(v.substr(0, dash), &start) ||
      (dash + 1 < v.size() && !absl::SimpleAtoi(v.substr(dash + 1), &end))) {
    return UsageError(absl::StrCat("--range: '", v, "' is not START-END or START-"));
  }
  o.range_start = start;
  if (dash + 1 < v.size()) {
    if (end < start) return UsageError(absl::StrCat("--range: '", v, "' ends before it starts"));
    // END is inclusive: the largest END means "to the end" (end + 1 would
    // wrap to 0, an empty range).
    if (end != std::numeric_limits<uint64_t>::max()) o.range_end = end + 1;
  }
  return absl::OkStatus();
}

absl::StatusOr<storage::sealed::ObjectPath> ObjectPathArg(const std::string& arg) {
  absl::StatusOr<storage::sealed::ObjectPath> p =
      storage::sealed::ParseObjectPath(arg, "DATASET/NAME");
  if (!p.ok()) return LocalError(p.status());
  return p;
}

absl::StatusOr<client::GetObjectOptions> GetOptionsFromArgs(const Invocation& inv) {
  const CliOptions& o = inv.options();
  ASSIGN_OR_RETURN(storage::sealed::ObjectPath path, ObjectPathArg(inv.arg(0)));
  client::GetObjectOptions get;
  get.dataset = path.dataset;
  get.name = path.name;
  get.version = path.version;
  get.raw = o.Switch("raw");
  if (auto v = o.Flag("range")) {
    // Before any call (and a workload's attestation): the stored bytes come
    // whole or not at all.
    if (get.raw) return UsageError("--range: not with --raw (the stored bytes come whole)");
    RETURN_IF_ERROR(ParseRange(*v, get));
  }
  return get;
}

absl::StatusOr<client::PutObjectOptions> PutOptionsFromArgs(const Invocation& inv,
                                                            absl::string_view command,
                                                            size_t path_arg) {
  const CliOptions& o = inv.options();
  ASSIGN_OR_RETURN(storage::sealed::ObjectPath path, ObjectPathArg(inv.arg(path_arg)));
  if (path.version != 0) {
    return UsageError(absl::StrCat(command, ": the server numbers versions; drop @N"));
  }
  client::PutObjectOptions put;
  put.dataset = path.dataset;
  put.name = path.name;
  ASSIGN_OR_RETURN(put.labels, KeyValueFlags(o, "label"));
  if (auto v = o.Flag("segment-size")) {
    ASSIGN_OR_RETURN(put.segment_size, ParseUintFlag("segment-size", *v));
    // The format's own bounds, before any call (a server may allow less).
    if (put.segment_size < storage::sealed::kMinStoreSegmentSize ||
        put.segment_size > storage::sealed::kMaxStoreSegmentSize) {
      return UsageError(absl::StrCat("--segment-size: ", put.segment_size, " is outside ",
                                     storage::sealed::kMinStoreSegmentSize, "..",
                                     storage::sealed::kMaxStoreSegmentSize));
    }
  }
  return put;
}

absl::StatusOr<InputFile> OpenInputFile(const std::string& file) {
  InputFile f;
  f.fd = file == "-" ? STDIN_FILENO : open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    return LocalError(absl::UnavailableError(
        absl::StrCat("FILE: cannot read '", file, "': ", std::strerror(errno))));
  }
  struct stat st;
  const bool known = fstat(f.fd, &st) == 0;
  if (known && S_ISDIR(st.st_mode)) {
    // Found before any call (a version reserved, a data key made).
    if (f.fd != STDIN_FILENO) close(f.fd);
    return LocalError(absl::InvalidArgumentError(
        absl::StrCat("FILE: '", file, "' is a folder, not a file to upload")));
  }
  if (known && S_ISREG(st.st_mode)) f.size_hint = st.st_size;
  return f;
}

void CloseInputFile(const InputFile& f) {
  if (f.fd >= 0 && f.fd != STDIN_FILENO) close(f.fd);
}

}  // namespace strongroom::cli
