// object put | get | ls | stat | rm | rewrap | rekey | job; dataset create |
// describe | ls; store check. The sealed store (docs/sealed-store.md):
// objects are encrypted here before upload and decrypted here after
// download (client/sealed_object.h).
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "base/status_macros.h"
#include "cli/command.h"
#include "cli/io.h"
#include "cli/object_io.h"
#include "cli/output.h"
#include "cli/paging.h"
#include "client/sealed_object.h"
#include "storage/sealed/object_names.h"

namespace strongroom::cli {
namespace {

using storage::sealed::ObjectPath;

void PrintObject(const v1::ObjectInfo& i) {
  Table t({"field", "value"});
  t.AddRow({"object", absl::StrCat(i.dataset(), "/", i.name(), "@", i.version())});
  t.AddRow({"size", absl::StrCat(i.size(), " (", FormatBytes(i.size()), ")")});
  t.AddRow({"stored", absl::StrCat(i.stored_bytes(), " bytes in ", i.segment_count(),
                                   " segments of ", i.segment_size())});
  t.AddRow({"key", absl::StrCat(i.key(), "/versions/", i.key_version())});
  t.AddRow({"created", absl::StrCat(FormatTime(i.create_time_unix_micros()), " by ", i.creator())});
  t.AddRow({"re-wrapped", FormatTime(i.rewrap_time_unix_micros())});
  t.AddRow({"rekeyed", FormatTime(i.rekey_time_unix_micros())});
  std::vector<std::string> labels;
  for (const auto& [k, v] : i.labels()) labels.push_back(absl::StrCat(k, "=", v));
  std::sort(labels.begin(), labels.end());
  t.AddRow({"labels", labels.empty() ? "-" : absl::StrJoin(labels, ",")});
  t.Print();
}

void PrintJob(const v1::StoreJob& j) {
  Table t({"field", "value"});
  t.AddRow({"job", j.id()});
  t.AddRow({"kind", v1::StoreJobKind_Name(j.kind())});
  t.AddRow({"state", v1::StoreJobState_Name(j.state())});
  t.AddRow({"dataset", j.dataset()});
  if (j.kind() == v1::REKEY) {
    t.AddRow({"object", absl::StrCat(j.name(), "@", j.version())});
    t.AddRow({"segments", absl::StrCat(j.done(), " of ", j.total())});
  } else {
    t.AddRow({"target", absl::StrCat("key version ", j.target_key_version())});
    t.AddRow({"objects", absl::StrCat(j.done(), " re-wrapped, ", j.skipped(), " already there, ",
                                      j.failed(), " failed")});
  }
  if (!j.last_error().empty()) t.AddRow({"last error", j.last_error()});
  t.Print();
}

// `m` as JSON with --json, else as `print` shows it.
template <typename Message>
absl::Status Show(const Invocation& inv, const Message& m, void (*print)(const Message&)) {
  if (inv.json()) {
    PrintJson(m);
  } else {
    print(m);
  }
  return absl::OkStatus();
}

void PrintStored(const Invocation& inv, const v1::ObjectInfo& info) {
  if (inv.json()) {
    PrintJson(info);
  } else {
    std::cout << "stored " << info.dataset() << "/" << info.name() << "@" << info.version() << " ("
              << FormatBytes(info.size()) << ", key version " << info.key_version() << ")\n";
  }
}

// One object, or several pairs committed together (staged one by one, then
// CommitUploads: all of them visible, or none).
absl::Status Put(Invocation& inv) {
  if (inv.args().size() % 2 != 0) {
    return UsageError("object put: give DATASET/NAME FILE pairs");
  }
  const size_t count = inv.args().size() / 2;
  if (count > static_cast<size_t>(storage::sealed::kMaxCommitUploads)) {
    return UsageError(absl::StrCat("object put: ", count, " objects; at most ",
                                   storage::sealed::kMaxCommitUploads, " are stored together"));
  }
  std::vector<client::PutObjectOptions> puts;
  for (size_t k = 0; k < count; ++k) {
    // stdin holds one object: a second `-` would read nothing.
    if (inv.arg(2 * k + 1) == "-" && k > 0) {
      for (size_t j = 0; j < k; ++j) {
        if (inv.arg(2 * j + 1) == "-") {
          return UsageError(absl::StrCat("object put: ", inv.arg(2 * k),
                                         ": FILE '-' (stdin) is given for ", inv.arg(2 * j),
                                         " already"));
        }
      }
    }
    ASSIGN_OR_RETURN(client::PutObjectOptions put, PutOptionsFromArgs(inv, "object put", 2 * k));
    if (auto v = inv.options().Flag("key")) put.expected_key = *v;
    if (!puts.empty() && put.dataset != puts.front().dataset) {
      return UsageError(absl::StrCat("object put: ", inv.arg(2 * k),
                                     ": objects stored together must be in one dataset (",
                                     puts.front().dataset, ")"));
    }
    puts.push_back(std::move(put));
  }
  // Every FILE opens before any call (no version reserved for a typo).
  std::vector<InputFile> files;
  const auto close_files = [&files] {
    for (const InputFile& f : files) CloseInputFile(f);
  };
  for (size_t k = 0; k < count; ++k) {
    absl::StatusOr<InputFile> in = OpenInputFile(inv.arg(2 * k + 1));
    if (!in.ok()) {
      close_files();
      return in.status();
    }
    files.push_back(*in);
  }
  absl::StatusOr<client::Connection*> conn = inv.Connect();
  if (!conn.ok()) {
    close_files();
    return conn.status();
  }
  std::vector<client::StagedObject> staged;
  for (size_t k = 0; k < count; ++k) {
    client::PutObjectOptions& put = puts[k];
    put.size_hint = files[k].size_hint;
    Progress progress(inv, "put");
    put.progress = progress.Fn();
    storage::FdSource source(files[k].fd);
    if (count == 1) {
      absl::StatusOr<v1::ObjectInfo> info = client::PutSealedObject(**conn, put, source);
      close_files();
      RETURN_IF_ERROR(info.status());
      PrintStored(inv, *info);
      return absl::OkStatus();
    }
    absl::StatusOr<client::StagedObject> s = client::StageSealedObject(**conn, put, source);
    if (!s.ok()) {
      close_files();
      // Best effort: the idle sweep discards them otherwise.
      client::DiscardStagedObjects(**conn, staged).IgnoreError();
      return absl::Status(s.status().code(),
                          absl::StrCat(inv.arg(2 * k), ": ", s.status().message(),
                                       " (nothing stored: the objects are stored together)"));
    }
    staged.push_back(*std::move(s));
  }
  close_files();
  absl::StatusOr<std::vector<v1::ObjectInfo>> stored = client::CommitStagedObjects(**conn, staged);
  if (!stored.ok()) {
    // Harmless if the commit did happen (a discard skips what is gone).
    client::DiscardStagedObjects(**conn, staged).IgnoreError();
    // The server names upload_ids[i]: name the object the user gave.
    std::string message(stored.status().message());
    for (size_t k = 0; k < staged.size(); ++k) {
      absl::StrReplaceAll({{absl::StrCat("upload_ids[", k, "]"), inv.arg(2 * k)}}, &message);
    }
    return absl::Status(stored.status().code(),
                        absl::StrCat(message,
                                     " (the objects are stored together: all of them or none; "
                                     "`object stat` tells which)"));
  }
  if (inv.json()) {
    v1::CommitUploadsResponse all;
    for (const v1::ObjectInfo& info : *stored) *all.add_objects() = info;
    PrintJson(all);
  } else {
    for (const v1::ObjectInfo& info : *stored) PrintStored(inv, info);
  }
  return absl::OkStatus();
}

absl::Status Get(Invocation& inv) {
  ASSIGN_OR_RETURN(client::GetObjectOptions get, GetOptionsFromArgs(inv));
  if (auto v = inv.options().Flag("token-file")) {
    // From a file (a workload's `--token-out`), not argv, where any local
    // user could read it in /proc.
    if (!get.raw) {
      return UsageError(
          "--token-file: only with --raw (a workload's token reads the sealed object; "
          "`workload get-object` attests and decrypts)");
    }
    ASSIGN_OR_RETURN(std::string token, ReadInput("token-file", *v, 64 << 10));
    while (!token.empty() && absl::ascii_isspace(static_cast<unsigned char>(token.back()))) {
      token.pop_back();
    }
    if (token.empty()) return UsageError(absl::StrCat("--token-file: '", *v, "' is empty"));
    get.token = std::move(token);
  }
  ASSIGN_OR_RETURN(OutputFile out, OutputFile::Open(inv.arg(1)));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  Progress progress(inv, "get");
  get.progress = progress.Fn();
  storage::FdSink sink(out.fd());
  ASSIGN_OR_RETURN(v1::ObjectInfo info, client::GetSealedObject(*conn, get, sink));
  RETURN_IF_ERROR(out.Commit());
  if (!NamesStdout(inv.arg(1)) && inv.json()) PrintJson(info);
  return absl::OkStatus();
}

absl::Status List(Invocation& inv) {
  const CliOptions& o = inv.options();
  v1::ListObjectsRequest req;
  if (!inv.args().empty()) {
    const std::string& a = inv.arg(0);
    const size_t slash = a.find('/');
    req.set_dataset(a.substr(0, slash));
    if (slash != std::string::npos) req.set_prefix(a.substr(slash + 1));
  }
  if (auto v = o.Flag("key")) req.set_key(KeyResourceName(*v));
  if (auto v = o.Flag("key-version")) {
    // 0 would mean "any version" to the server: not what a check before a
    // destruction asks.
    ASSIGN_OR_RETURN(uint32_t n, ParseUintFlag("key-version", *v));
    if (n == 0) return UsageError("--key-version: versions count from 1");
    if (!o.Flag("key")) return UsageError("--key-version: only with --key");
    req.set_key_version(n);
  }
  if (req.dataset().empty() && req.key().empty()) {
    return UsageError("object ls: give DATASET[/PREFIX] or --key KEY");
  }
  req.set_all_versions(o.Switch("all-versions"));
  RETURN_IF_ERROR(ApplyPageFlags(o, 1000, req));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(
      v1::ListObjectsResponse all,
      CollectPages(
          req, o.Switch("all"),
          [&](const v1::ListObjectsRequest& r) { return conn->ListObjects(r); },
          [](v1::ListObjectsResponse& r) { return r.mutable_objects(); }));
  if (inv.json()) {
    PrintJson(all);
    return absl::OkStatus();
  }
  Table t({"OBJECT", "VERSION", "SIZE", "KEY VERSION", "CREATED"});
  for (const v1::ObjectInfo& i : all.objects()) {
    t.AddRow({absl::StrCat(i.dataset().substr(9), "/", i.name()), absl::StrCat(i.version()),
              FormatBytes(i.size()), absl::StrCat(i.key(), "/versions/", i.key_version()),
              FormatTime(i.create_time_unix_micros())});
  }
  t.Print();
  if (!all.next_page_token().empty()) {
    std::cout << "more: --page-token " << all.next_page_token() << " (or --all)\n";
  }
  return absl::OkStatus();
}

absl::Status Stat(Invocation& inv) {
  ASSIGN_OR_RETURN(ObjectPath path, ObjectPathArg(inv.arg(0)));
  v1::StatObjectRequest req;
  req.set_dataset(path.dataset);
  req.set_name(path.name);
  req.set_version(path.version);
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::ObjectInfo info, conn->StatObject(req));
  return Show(inv, info, PrintObject);
}

absl::Status Remove(Invocation& inv) {
  ASSIGN_OR_RETURN(ObjectPath path, ObjectPathArg(inv.arg(0)));
  if (path.version == 0) return UsageError("object rm: name the version (DATASET/NAME@VERSION)");
  v1::DeleteObjectRequest req;
  req.set_dataset(path.dataset);
  req.set_name(path.name);
  req.set_version(path.version);
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::DeleteObjectResponse r, conn->DeleteObject(req));
  if (inv.json()) {
    PrintJson(r);
  } else {
    std::cout << "deleted " << inv.arg(0) << " (" << FormatBytes(r.freed_bytes()) << " freed)\n";
  }
  return absl::OkStatus();
}

absl::Status Rewrap(Invocation& inv) {
  v1::StartRewrapRequest req;
  req.set_dataset(inv.arg(0));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::StoreJob job, conn->StartRewrap(req));
  while (inv.options().Switch("wait") && job.state() == v1::RUNNING) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    v1::GetJobRequest get;
    get.set_id(job.id());
    ASSIGN_OR_RETURN(job, conn->GetJob(get));
  }
  RETURN_IF_ERROR(Show(inv, job, PrintJob));
  // Waited for: exit 0 only when every object is on the target version, so
  // that `object rewrap ds --wait && key destroy k V` is safe.
  if (inv.options().Switch("wait") && (job.state() != v1::DONE || job.failed() > 0)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "object rewrap ", job.id(), ": ", job.state() == v1::DONE ? "done, but " : "cancelled; ",
        job.failed(), " objects could not be re-wrapped",
        job.last_error().empty() ? std::string() : absl::StrCat(" (", job.last_error(), ")")));
  }
  return absl::OkStatus();
}

absl::Status Rekey(Invocation& inv) {
  ASSIGN_OR_RETURN(ObjectPath path, ObjectPathArg(inv.arg(0)));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  Progress progress(inv, "rekey:", ProgressUnit::kSegments);
  client::RekeyOptions rekey{path.dataset, path.name, path.version, progress.Fn()};
  ASSIGN_OR_RETURN(v1::StoreJob job, client::RekeySealedObject(*conn, rekey));
  return Show(inv, job, PrintJob);
}

absl::Status Job(Invocation& inv) {
  v1::GetJobRequest req;
  req.set_id(inv.arg(0));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::StoreJob job, conn->GetJob(req));
  return Show(inv, job, PrintJob);
}

void PrintDataset(const v1::Dataset& d) {
  Table t({"field", "value"});
  t.AddRow({"dataset", d.name()});
  t.AddRow({"owner", d.owner()});
  t.AddRow({"key", d.key()});
  t.AddRow({"release policy",
            d.release_policy().empty() ? "- (no workload reads)" : d.release_policy()});
  t.AddRow({"objects", absl::StrCat(d.object_count())});
  t.AddRow({"used", FormatBytes(d.used_bytes())});
  t.AddRow({"quota", d.quota_bytes() == 0 ? "none" : FormatBytes(d.quota_bytes())});
  t.AddRow({"created", FormatTime(d.create_time_unix_micros())});
  t.AddRow({"description", d.description().empty() ? "-" : d.description()});
  t.Print();
}


absl::Status DatasetCreate(Invocation& inv) {
  const CliOptions& o = inv.options();
  v1::CreateDatasetRequest req;
  req.set_dataset_id(inv.arg(0));
  auto key = o.Flag("key");
  if (!key) return UsageError("dataset create: --key KEY is required");
  req.set_key(KeyResourceName(*key));
  if (auto v = o.Flag("owner")) req.set_owner(*v);
  if (auto v = o.Flag("release-policy")) req.set_release_policy(*v);
  if (auto v = o.Flag("quota")) {
    uint64_t n = 0;
    if (!absl::SimpleAtoi(*v, &n)) return UsageError("--quota: not a number of bytes");
    req.set_quota_bytes(n);
  }
  if (auto v = o.Flag("description")) req.set_description(*v);
  ASSIGN_OR_RETURN(auto labels, KeyValueFlags(o, "label"));
  req.mutable_labels()->insert(labels.begin(), labels.end());
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::Dataset d, conn->CreateDataset(req));
  return Show(inv, d, PrintDataset);
}

absl::Status DatasetDescribe(Invocation& inv) {
  v1::GetDatasetRequest req;
  req.set_name(inv.arg(0));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::Dataset d, conn->GetDataset(req));
  return Show(inv, d, PrintDataset);
}

absl::Status DatasetList(Invocation& inv) {
  v1::ListDatasetsRequest req;
  if (auto v = inv.options().Flag("key")) req.set_key(KeyResourceName(*v));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(
      v1::ListDatasetsResponse all,
      CollectPages(
          req, /*all_pages=*/true,
          [&](const v1::ListDatasetsRequest& r) { return conn->ListDatasets(r); },
          [](v1::ListDatasetsResponse& r) { return r.mutable_datasets(); }));
  if (inv.json()) {
    PrintJson(all);
    return absl::OkStatus();
  }
  Table t({"DATASET", "OWNER", "KEY", "RELEASE POLICY", "OBJECTS", "USED", "QUOTA"});
  for (const v1::Dataset& d : all.datasets()) {
    t.AddRow({d.name(), d.owner(), d.key(), d.release_policy().empty() ? "-" : d.release_policy(),
              absl::StrCat(d.object_count()), FormatBytes(d.used_bytes()),
              d.quota_bytes() == 0 ? "-" : FormatBytes(d.quota_bytes())});
  }
  t.Print();
  return absl::OkStatus();
}

absl::Status StoreCheck(Invocation& inv) {
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::StoreCheck c, conn->CheckStore(v1::CheckStoreRequest()));
  if (inv.json()) {
    PrintJson(c);
  } else {
    std::cout << (c.ok() ? "store check passed" : "store check FAILED") << ": " << c.datasets()
              << " datasets, " << c.objects() << " objects, " << c.segments() << " segments ("
              << FormatBytes(c.stored_bytes()) << "), " << c.open_uploads() << " open uploads, "
              << c.running_jobs() << " running jobs, " << c.orphaned_segments()
              << " orphaned segments\n";
    for (const std::string& p : c.problems()) std::cout << "  " << p << "\n";
  }
  if (!c.ok()) {
    return absl::DataLossError(absl::StrCat("store check: ", c.problems_size(), " problems"));
  }
  return absl::OkStatus();
}

}  // namespace

// clang-format off
std::vector<Command> ObjectCommands() {
  return {
      {"object put",
       "DATASET/NAME FILE [DATASET/NAME FILE]... [--key KEY] [--label K=V]... "
       "[--segment-size BYTES] [--quiet]",
       "encrypt FILE (- for stdin) here under a fresh data key and upload it as a new version; "
       "several pairs (one dataset) are stored together: all of them or none",
       2, 2 * storage::sealed::kMaxCommitUploads, {"key", "label", "segment-size"}, {"quiet"}, Put},
      {"object get",
       "DATASET/NAME[@VERSION] OUT [--range START-END] [--raw [--token-file FILE]] [--quiet]",
       "download and decrypt to OUT (- for stdout); --raw: the sealed object itself, with "
       "--token-file a workload's dataset token (from workload get-object --token-out)",
       2, 2, {"range", "token-file"}, {"raw", "quiet"}, Get},
      {"object ls",
       "[DATASET[/PREFIX]] [--all-versions] [--key KEY [--key-version N]] [--page-size N] "
       "[--page-token T] [--all]",
       "objects (latest versions); --key: every version under KEY, what destroying it affects",
       0, 1, {"key", "key-version", "page-size", "page-token"}, {"all-versions", "all"}, List},
      {"object stat", "DATASET/NAME[@VERSION]", "an object's metadata", 1, 1, {}, {}, Stat},
      {"object rm", "DATASET/NAME@VERSION", "delete one version", 1, 1, {}, {}, Remove},
      {"object rewrap", "DATASET [--wait]",
       "re-wrap every data key of DATASET under its key's primary version (segments untouched)",
       1, 1, {}, {"wait"}, Rewrap},
      {"object rekey", "DATASET/NAME[@VERSION] [--quiet]",
       "replace an object's data key (re-encrypts here; resumes after interruptions)", 1, 1, {},
       {"quiet"}, Rekey},
      {"object job", "JOB_ID", "a re-wrap or rekey job", 1, 1, {}, {}, Job},
      {"dataset create",
       "DATASET --key KEY [--owner PRINCIPAL] [--release-policy NAME] [--quota BYTES] "
       "[--description TEXT] [--label K=V]...",
       "a dataset: its owner, the key that wraps its data keys, its release policy", 1, 1,
       {"key", "owner", "release-policy", "quota", "description", "label"}, {}, DatasetCreate},
      {"dataset describe", "DATASET", "a dataset and its usage", 1, 1, {}, {}, DatasetDescribe},
      {"dataset ls", "[--key KEY]", "datasets the caller may see", 0, 0, {"key"}, {},
       DatasetList},
      {"store check", "", "consistency check of the sealed store (admins, auditors)", 0, 0, {},
       {}, StoreCheck},
  };
}
// clang-format on

}  // namespace strongroom::cli
