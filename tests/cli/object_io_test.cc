// The CLI's progress lines for long transfers (bytes, rate, ETA) and the
// rekey job's (segments); the output file of `object get`.
#include "cli/object_io.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <optional>
#include <thread>

#include "base/bytes.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "cli/io.h"
#include "cli/output.h"
#include "cli/paging.h"
#include "strongroom/v1/key_management.pb.h"

namespace strongroom::cli {
namespace {

TEST(FormatBytesTest, BinaryUnits) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(uint64_t{3} << 30), "3.0 GiB");
}

TEST(FormatProgressLineTest, BytesRateAndEta) {
  // 1 MiB of 4 MiB in 2 s: 512 KiB/s, 3 MiB left = 6 s.
  EXPECT_EQ(FormatProgressLine("put", ProgressUnit::kBytes, 1 << 20, 4 << 20, 2.0),
            "put 1.0 MiB / 4.0 MiB  512.0 KiB/s  ETA 0:06");
  // 125 s left shows minutes.
  EXPECT_EQ(FormatProgressLine("get", ProgressUnit::kBytes, 1000, 126000, 1.0),
            "get 1000 B / 123.0 KiB  1000 B/s  ETA 2:05");
  // Done: no ETA; unknown total (a pipe): neither total nor ETA.
  EXPECT_EQ(FormatProgressLine("put", ProgressUnit::kBytes, 4 << 20, 4 << 20, 2.0),
            "put 4.0 MiB / 4.0 MiB  2.0 MiB/s");
  EXPECT_EQ(FormatProgressLine("put", ProgressUnit::kBytes, 2048, 0, 1.0),
            "put 2.0 KiB  2.0 KiB/s");
  // No time elapsed yet: rate 0, no ETA (no division by zero).
  EXPECT_EQ(FormatProgressLine("put", ProgressUnit::kBytes, 0, 100, 0.0),
            "put 0 B / 100 B  0 B/s");
}

TEST(FormatProgressLineTest, SegmentsAreCountsNotBytes) {
  EXPECT_EQ(FormatProgressLine("rekey:", ProgressUnit::kSegments, 3, 10, 2.0),
            "rekey: 3 / 10 segments  1.5 segments/s  ETA 0:04");
}

// Interrupted while decrypted bytes are being written: the partial file goes
// with the process, which still ends by the signal. Committed, the output
// stays.
TEST(OutputFileTest, SignalRemovesThePartialFileAndCommitKeepsTheOutput) {
  ASSERT_OK_AND_ASSIGN(strongroom::testing::TempDir tmp,
                       strongroom::testing::TempDir::Create("strongroom-output-file"));
  const std::string dir = tmp.path();
  for (int sig : {SIGINT, SIGTERM}) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      absl::StatusOr<OutputFile> f = OutputFile::Open(dir + "/out.bin");
      if (!f.ok() || write(f->fd(), "plaintext", 9) != 9) _exit(3);
      raise(sig);
      _exit(4);  // not reached: the signal ends the process
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << status;
    EXPECT_EQ(WTERMSIG(status), sig);
    EXPECT_TRUE(std::filesystem::is_empty(dir)) << "a partial file survived signal " << sig;
  }
  {
    absl::StatusOr<OutputFile> f = OutputFile::Open(dir + "/out.bin");
    ASSERT_TRUE(f.ok());
    ASSERT_EQ(write(f->fd(), "whole", 5), 5);
    ASSERT_TRUE(f->Commit().ok());
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/out.bin"));
}

// The same for the other outputs (--out, --token-out, ...): a signal while
// one is written removes its partial file.
TEST(WriteOutputTest, SignalRemovesThePartialFile) {
  ASSERT_OK_AND_ASSIGN(strongroom::testing::TempDir tmp,
                       strongroom::testing::TempDir::Create("strongroom-write-output"));
  const std::string dir = tmp.path();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Signals itself once the partial file is there (64 MiB to write and
    // sync leave it there long enough).
    std::thread watcher([&] {
      for (;;) {
        for (const auto& e : std::filesystem::directory_iterator(dir)) {
          if (e.path().filename().string().find(".partial-") != std::string::npos) {
            kill(getpid(), SIGTERM);
            return;
          }
        }
      }
    });
    watcher.detach();
    (void)WriteOutput("out", dir + "/key.bin", std::string(64 << 20, 'k'));
    _exit(4);  // written whole before the watcher saw it: the test fails
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "a partial file survived";
}

// `object get` refuses an OUT that is a device, FIFO or folder (a rename
// would replace it with a file of plaintext); stdout's own paths write to
// the descriptor.
TEST(OutputFileTest, SpecialFilesAreRefusedAndStdoutPathsAreStdout) {
  ASSERT_OK_AND_ASSIGN(strongroom::testing::TempDir tmp,
                       strongroom::testing::TempDir::Create("strongroom-output-special"));
  const std::string fifo = tmp.path() + "/pipe";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {fifo, tmp.path(), std::string("/dev/null")}) {
    absl::StatusOr<OutputFile> f = OutputFile::Open(path);
    EXPECT_THAT(f.status(), strongroom::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                                          ::testing::HasSubstr("not a regular")))
        << path;
  }
  EXPECT_TRUE(std::filesystem::is_fifo(fifo));
  for (const char* path : {"-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"}) {
    ASSERT_OK_AND_ASSIGN(OutputFile f, OutputFile::Open(path));
    EXPECT_EQ(f.fd(), STDOUT_FILENO) << path;
  }
}

TEST(SameFileTest, HardLinksAndRedirectionsAreOneFile) {
  ASSERT_OK_AND_ASSIGN(strongroom::testing::TempDir tmp,
                       strongroom::testing::TempDir::Create("strongroom-same-file"));
  const std::string a = tmp.path() + "/a", b = tmp.path() + "/b", c = tmp.path() + "/c";
  ASSERT_OK(WriteOutput("out", a, "x"));
  ASSERT_OK(WriteOutput("out", c, "y"));
  std::filesystem::create_hard_link(a, b);
  EXPECT_TRUE(SameFile(a, a));
  EXPECT_TRUE(SameFile(a, b));
  EXPECT_FALSE(SameFile(a, c));
  EXPECT_FALSE(SameFile(a, tmp.path() + "/missing"));
  EXPECT_TRUE(NamesStdout("/dev/stdout"));
  EXPECT_FALSE(NamesStdout("/dev/stdout2"));
}

// A listing whose server hands back the token it was given stops with an
// error instead of growing without end.
TEST(CollectPagesTest, ATokenThatDoesNotAdvanceEndsTheListing) {
  int calls = 0;
  auto fetch = [&calls](const v1::ListKeysRequest& req) -> absl::StatusOr<v1::ListKeysResponse> {
    ++calls;
    v1::ListKeysResponse page;
    page.add_keys()->set_name(absl::StrCat("keys/k", calls));
    page.set_next_page_token(calls < 3 ? absl::StrCat("t", calls) : req.page_token());
    return page;
  };
  auto items = [](v1::ListKeysResponse& r) { return r.mutable_keys(); };
  EXPECT_THAT(CollectPages(v1::ListKeysRequest(), true, fetch, items).status(),
              strongroom::testing::StatusIs(absl::StatusCode::kDataLoss,
                                            ::testing::HasSubstr("does not advance")));
  EXPECT_EQ(calls, 3);
  calls = 10;  // every token new from here, the last page without one
  auto ends = [&calls](const v1::ListKeysRequest&) -> absl::StatusOr<v1::ListKeysResponse> {
    v1::ListKeysResponse page;
    page.add_keys();
    if (++calls < 14) page.set_next_page_token(absl::StrCat("t", calls));
    return page;
  };
  ASSERT_OK_AND_ASSIGN(v1::ListKeysResponse all,
                       CollectPages(v1::ListKeysRequest(), true, ends, items));
  EXPECT_EQ(all.keys_size(), 4);
}

TEST(ParseRangeTest, InclusiveRangesOpenEndsAndMalformedOnes) {
  client::GetObjectOptions o;
  ASSERT_OK(ParseRange("10-19", o));
  EXPECT_EQ(o.range_start, 10u);
  EXPECT_EQ(o.range_end, std::optional<uint64_t>(20));
  o = client::GetObjectOptions();
  ASSERT_OK(ParseRange("5-", o));
  EXPECT_EQ(o.range_start, 5u);
  EXPECT_FALSE(o.range_end.has_value());
  // The largest END is "to the end", not end + 1 wrapped to an empty range.
  o = client::GetObjectOptions();
  ASSERT_OK(ParseRange("0-18446744073709551615", o));
  EXPECT_EQ(o.range_start, 0u);
  EXPECT_FALSE(o.range_end.has_value());
  for (const char* bad : {"", "5", "-5", "a-b", "9-3", "1-18446744073709551616", "1--2"}) {
    o = client::GetObjectOptions();
    EXPECT_FALSE(ParseRange(bad, o).ok()) << bad;
  }
}

// The secret spliced into the JSON of the message without it: the same text
// ToJson prints for the whole message.
TEST(JsonLineWithSecretTest, SameAsTheWholeMessagesJson) {
  std::string secret;
  for (int i = 0; i < 64; ++i) secret.push_back(static_cast<char>(i * 37 + 251));
  for (size_t n : {size_t{0}, size_t{1}, size_t{32}, size_t{64}}) {
    v1::GenerateDataKeyResponse whole;
    whole.set_plaintext(secret.substr(0, n));
    whole.set_ciphertext("wrapped\x01\xff");
    whole.set_key_version("keys/k/versions/3");
    v1::GenerateDataKeyResponse rest = whole;
    rest.clear_plaintext();
    std::string line;
    ASSERT_OK(JsonLineWithSecret(rest, "plaintext", AsBytes(whole.plaintext()), &line));
    EXPECT_EQ(line, ToJson(whole) + "\n") << n;
    v1::DecryptResponse d;
    d.set_plaintext(secret.substr(0, n));
    d.set_key_version("keys/k/versions/1");
    v1::DecryptResponse d_rest;
    d_rest.set_key_version(d.key_version());
    ASSERT_OK(JsonLineWithSecret(d_rest, "plaintext", AsBytes(d.plaintext()), &line));
    EXPECT_EQ(line, ToJson(d) + "\n") << n;
  }
  std::string line;
  EXPECT_FALSE(JsonLineWithSecret(v1::DecryptResponse(), "nope", {}, &line).ok());
}

// An input without an end (/dev/zero, a runaway pipe) is refused past the
// command's limit instead of growing until the process aborts.
TEST(ReadInputTest, StopsAtTheLimitNamingTheFlag) {
  absl::StatusOr<std::string> zero = ReadInput("in", "/dev/zero", 1 << 20);
  EXPECT_THAT(zero, ::strongroom::testing::StatusIs(
                        absl::StatusCode::kInvalidArgument,
                        ::testing::HasSubstr("--in: '/dev/zero' holds more than 1048576 bytes")));
  EXPECT_EQ(ExitCode(zero.status()), kExitUsage);
  ASSERT_OK_AND_ASSIGN(strongroom::testing::TempDir dir,
                       strongroom::testing::TempDir::Create("strongroom-read-input"));
  const std::string path = dir.path() + "/small";
  ASSERT_OK(WriteOutput("out", path, std::string(1 << 20, 'x')));
  ASSERT_OK_AND_ASSIGN(std::string exact, ReadInput("in", path, 1 << 20));
  EXPECT_EQ(exact.size(), size_t{1} << 20);
}

}  // namespace
}  // namespace strongroom::cli
