#include "client/sealed_object.h"

#include <openssl/crypto.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/prefetcher.h"
#include "base/status_macros.h"
#include "storage/sealed/object_names.h"
#include "storage/sealed/segment_layout.h"
#include "storage/sealed/segment_stream.h"

namespace strongroom::client {

namespace v1 = ::strongroom::v1;
using storage::sealed::SealedHeader;
using storage::sealed::SegmentStreamReader;

namespace {

// Whether `resource` (the server's datasets/{id}) names the dataset the
// caller asked for (its id or datasets/{id}).
bool SameDataset(absl::string_view resource, absl::string_view asked) {
  absl::StatusOr<std::string> a = storage::sealed::ParseDatasetName(resource, "dataset");
  absl::StatusOr<std::string> b = storage::sealed::ParseDatasetName(asked, "dataset");
  return a.ok() && b.ok() && *a == *b;
}

// Ciphertext segments a download receives ahead of its decryption.
constexpr size_t kPrefetchSegments = 2;

std::string KeyName(absl::string_view key) {
  return absl::StartsWith(key, "keys/") ? std::string(key) : absl::StrCat("keys/", key);
}

// AES-256 segments with HKDF-SHA256, as the store requires.
storage::StreamingAeadParams StoreParams(uint32_t segment_size) {
  storage::StreamingAeadParams p;
  p.hkdf_hash = storage::HkdfHash::kSha256;
  p.derived_key_size = 32;
  p.ciphertext_segment_size = segment_size;
  p.ciphertext_offset = 0;
  return p;
}

using DataKey = NewDataKey;

// A fresh data key bound to the object's identity: the plaintext in
// protected memory (the response's copy wiped), the wrapped copy for the
// header.
absl::StatusOr<DataKey> GenerateObjectDataKey(Connection& conn, absl::string_view key_name,
                                   absl::string_view dataset, absl::string_view name,
                                   uint64_t version) {
  v1::GenerateDataKeyRequest r;
  r.set_name(std::string(key_name));
  r.set_length(32);
  for (const auto& [k, v] : storage::sealed::DataKeyContext(dataset, name, version)) {
    (*r.mutable_encryption_context())[k] = v;
  }
  ASSIGN_OR_RETURN(v1::GenerateDataKeyResponse response, conn.GenerateDataKey(r));
  DataKey out;
  out.key = SecretBytes::CopyFrom(AsBytes(response.plaintext()));
  OPENSSL_cleanse(response.mutable_plaintext()->data(), response.plaintext().size());
  if (out.key.size() != 32) {
    return absl::InternalError(
        absl::StrCat("GenerateDataKey: ", out.key.size(), "-byte data key, asked for 32"));
  }
  out.wrapped.assign(response.ciphertext().begin(), response.ciphertext().end());
  ASSIGN_OR_RETURN(storage::sealed::WrappedKeyReference ref,
                   storage::sealed::ParseWrappedKeyReference(out.wrapped, "GenerateDataKey"));
  out.key_version = ref.version;
  return out;
}

// Fills `out` from `input` unless the input ends first; returns the bytes
// read (fewer than out.size() only at the end of the input).
absl::StatusOr<size_t> ReadFull(storage::ByteSource& input, std::span<uint8_t> out) {
  size_t filled = 0;
  while (filled < out.size()) {
    ASSIGN_OR_RETURN(size_t n, input.Read(out.subspan(filled)));
    if (n == 0) break;
    filled += n;
  }
  return filled;
}

// What follows the last segment asked for must be the stream's clean end.
absl::Status ExpectNoMoreSegments(
    const absl::StatusOr<std::optional<SegmentStreamReader::Segment>>& next) {
  if (!next.ok()) return next.status();
  if (next->has_value()) {
    return absl::DataLossError(absl::StrCat("GetObject: segment ", (*next)->index,
                                            " sent beyond the requested range"));
  }
  return absl::OkStatus();
}

// Reads the GetObject stream: the head, then segments on demand. The call's
// own status replaces "the stream ended" when the server ended it with an
// error.
class GetStream {
 public:
  GetStream(Connection& conn, const v1::GetObjectRequest& request)
      : stream_(conn.GetObject(request)) {}

  absl::StatusOr<v1::ObjectHead> Head() {
    v1::GetObjectResponse message;
    if (!stream_->Read(&message)) {
      RETURN_IF_ERROR(Finish());
      return absl::DataLossError("GetObject: the stream ended before its head");
    }
    if (!message.has_head()) return absl::DataLossError("GetObject: the first message is no head");
    return std::move(*message.mutable_head());
  }

  absl::StatusOr<std::optional<SegmentStreamReader::Segment>> Next() {
    v1::GetObjectResponse message;
    if (finished_ || !stream_->Read(&message)) {
      RETURN_IF_ERROR(Finish());
      return std::nullopt;
    }
    if (!message.has_segment()) {
      return absl::DataLossError("GetObject: a second head in the stream");
    }
    SegmentStreamReader::Segment s;
    s.index = message.segment().index();
    s.data = std::move(*message.mutable_segment()->mutable_data());
    return s;
  }

  // OK only when the server sent nothing more and ended the call cleanly.
  absl::Status ExpectEnd() { return ExpectNoMoreSegments(Next()); }

  // Ends a Read() blocked in another thread (it then returns false).
  void Cancel() { stream_->Cancel(); }

 private:
  absl::Status Finish() {
    if (finished_) return status_;
    finished_ = true;
    status_ = stream_->Finish();
    return status_;
  }
  std::unique_ptr<ServerStream<v1::GetObjectResponse>> stream_;
  bool finished_ = false;
  absl::Status status_;
};

// The header the server sent must be the object asked for: a server that
// answered with another object of the same owner would otherwise decrypt.
absl::StatusOr<SealedHeader> CheckedHeader(const v1::ObjectHead& head, absl::string_view dataset,
                                           absl::string_view name, uint64_t version) {
  ASSIGN_OR_RETURN(SealedHeader h, storage::sealed::ParseSealedHeader(AsBytes(head.header())));
  if (h.dataset != dataset || h.name != name || (version != 0 && h.version != version)) {
    return absl::DataLossError(absl::StrCat(
        "GetObject: asked for ", dataset, "/", name, version != 0 ? absl::StrCat("@", version) : "",
        ", the server sent ", h.dataset, "/", h.name, "@", h.version));
  }
  if (head.info().version() != h.version || head.info().key() != h.key_name ||
      absl::StrCat("datasets/", h.dataset) != head.info().dataset() ||
      head.info().name() != h.name) {
    return absl::DataLossError("GetObject: the head's metadata does not match its header");
  }
  return h;
}

}  // namespace

UploadKeySource OwnerUploadKeySource(Connection& conn) {
  return [&conn](const v1::Upload& upload) -> absl::StatusOr<NewDataKey> {
    absl::string_view dataset = upload.dataset();
    absl::ConsumePrefix(&dataset, "datasets/");
    return GenerateObjectDataKey(conn, upload.key(), dataset, upload.name(), upload.version());
  };
}

DataKeyOpener OwnerDataKeyOpener(Connection& conn) {
  return [&conn](const SealedHeader& h) -> absl::StatusOr<SecretBytes> {
    v1::DecryptRequest r;
    r.set_ciphertext(std::string(AsStringView(h.wrapped_key)));
    r.set_name(h.key_name);
    for (const auto& [k, v] : storage::sealed::DataKeyContext(h.dataset, h.name, h.version)) {
      (*r.mutable_encryption_context())[k] = v;
    }
    ASSIGN_OR_RETURN(v1::DecryptResponse response, conn.Decrypt(r));
    SecretBytes key = SecretBytes::CopyFrom(AsBytes(response.plaintext()));
    OPENSSL_cleanse(response.mutable_plaintext()->data(), response.plaintext().size());
    return key;
  };
}

namespace {

// CommitUploads with `discard` for the uploads `ids`.
absl::Status DiscardUploads(Connection& conn, const std::vector<std::string>& ids,
                            const std::string& token) {
  if (ids.empty()) return absl::OkStatus();
  v1::CommitUploadsRequest r;
  for (const std::string& id : ids) r.add_upload_ids(id);
  r.set_token(token);
  r.set_discard(true);
  return conn.CommitUploads(r).status();
}

// PutSealedObject, and with `stage` StageSealedObject (its upload id to
// `upload_id`).
absl::StatusOr<v1::ObjectInfo> PutSealed(Connection& conn, const PutObjectOptions& o,
                                         storage::ByteSource& input, bool stage,
                                         std::string* upload_id) {
  v1::BeginUploadRequest begin;
  begin.set_dataset(o.dataset);
  begin.set_name(o.name);
  begin.set_token(o.token);
  begin.mutable_labels()->insert(o.labels.begin(), o.labels.end());
  // The server refuses a wrong key before it reserves a version.
  if (!o.expected_key.empty()) begin.set_expected_key(KeyName(o.expected_key));
  absl::StatusOr<v1::Upload> begun = conn.BeginUpload(begin);
  if (!begun.ok() && !o.expected_key.empty() &&
      begun.status().code() == absl::StatusCode::kInvalidArgument) {
    // Name the caller's flag rather than the request field.
    const absl::string_view msg = begun.status().message();
    const size_t at = msg.find("expected_key: ");
    if (at != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--key: ", msg.substr(at + sizeof("expected_key: ") - 1)));
    }
  }
  ASSIGN_OR_RETURN(v1::Upload upload, std::move(begun));
  // Until its stream starts, an upload this call gives up on is discarded
  // now rather than left to the server's idle sweep, holding a version and
  // a pending-upload slot (best effort; once streaming, the server drops a
  // failed stream's upload itself).
  bool streaming = false;
  absl::Cleanup drop_unstreamed = [&] {
    if (!streaming) DiscardUploads(conn, {upload.upload_id()}, o.token).IgnoreError();
  };
  if (stage && !upload.stage_supported()) {
    // An older server would commit the object at the end of its stream.
    return absl::FailedPreconditionError(
        "BeginUpload: this server does not keep staged uploads (an older strongroomd): store "
        "the objects one at a time");
  }
  // The data key is made for, and bound to, the reservation the server
  // answers with: it must be the object asked for.
  if (!SameDataset(upload.dataset(), o.dataset) || upload.name() != o.name ||
      upload.version() == 0) {
    return absl::DataLossError(absl::StrCat("BeginUpload: the server reserved ", upload.dataset(),
                                            "/", upload.name(), "@", upload.version(), ", not ",
                                            o.dataset, "/", o.name));
  }
  // Also here, for a server that predates expected_key: before any data
  // moves.
  if (!o.expected_key.empty() && KeyName(o.expected_key) != upload.key()) {
    return absl::InvalidArgumentError(absl::StrCat("--key: ", KeyName(o.expected_key),
                                                   " is not the key of ", upload.dataset(), " (",
                                                   upload.key(), ")"));
  }
  if (o.segment_size < upload.min_segment_size() || o.segment_size > upload.max_segment_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("segment size: ", o.segment_size, " is outside the server's ",
                     upload.min_segment_size(), "..", upload.max_segment_size()));
  }
  UploadKeySource new_key = o.new_key ? o.new_key : OwnerUploadKeySource(conn);
  ASSIGN_OR_RETURN(DataKey dek, new_key(upload));
  if (dek.key.size() != 32) {
    return absl::InternalError(
        absl::StrCat("upload data key: ", dek.key.size(), " bytes, expected 32"));
  }
  SealedHeader header;
  header.params = StoreParams(o.segment_size);
  header.key_name = upload.key();
  header.key_version = dek.key_version;
  header.wrapped_key = dek.wrapped;
  header.dataset = o.dataset;
  header.name = o.name;
  header.version = upload.version();
  ASSIGN_OR_RETURN(header.stream_header, storage::sealed::NewStreamHeader(header.params));
  RETURN_IF_ERROR(header.Validate());
  ASSIGN_OR_RETURN(std::unique_ptr<storage::sealed::SegmentEncryptor> encryptor,
                   storage::sealed::SegmentEncryptor::Create(
                       dek.key, header.params, storage::sealed::AssociatedData(header),
                       header.stream_header));

  streaming = true;
  auto stream = conn.PutObject();
  v1::PutObjectRequest message;
  message.mutable_start()->set_upload_id(upload.upload_id());
  message.mutable_start()->set_header(std::string(AsStringView(header.Encode())));
  message.mutable_start()->set_token(o.token);
  // Write() false: the server ended the call, and its status says why.
  auto server_ended = [&]() -> absl::Status {
    absl::StatusOr<v1::ObjectInfo> server = stream->Finish();
    return server.ok() ? absl::AbortedError("PutObject: the server ended the upload")
                       : server.status();
  };
  if (!stream->Write(message)) return server_ended();

  // Each segment is encrypted straight into the message that carries it. A
  // full segment is the last one only when no byte follows, so the next
  // segment's plaintext is read before this one is encrypted (two plaintext
  // buffers, swapped rather than copied).
  SecretBytes current(header.params.plaintext_segment_size());
  SecretBytes next(header.params.plaintext_segment_size());
  ASSIGN_OR_RETURN(size_t current_size,
                   ReadFull(input, current.RevealMutable().first(
                                       header.params.first_plaintext_segment_size())));
  size_t capacity = header.params.first_plaintext_segment_size();
  uint64_t done = 0, stream_bytes = header.stream_header.size();
  for (uint64_t i = 0;; ++i) {
    size_t next_size = 0;
    if (current_size == capacity) {
      ASSIGN_OR_RETURN(next_size, ReadFull(input, next.RevealMutable()));
    }
    const bool last = next_size == 0;
    std::string* segment = message.mutable_segment();
    segment->resize(current_size + storage::kStreamingAeadTagSize);
    RETURN_IF_ERROR(encryptor->EncryptInto(
        i, last, current.Reveal().first(current_size),
        std::span<uint8_t>(reinterpret_cast<uint8_t*>(segment->data()), segment->size())));
    if (!stream->Write(message)) return server_ended();
    done += current_size;
    stream_bytes += segment->size();
    if (o.progress) o.progress(done, o.size_hint);
    if (last) {
      message.mutable_finish()->set_segment_count(i + 1);
      break;
    }
    std::swap(current, next);
    current_size = next_size;
    capacity = header.params.plaintext_segment_size();
  }
  message.mutable_finish()->set_stream_bytes(stream_bytes);
  message.mutable_finish()->set_stage(stage);
  stream->Write(message);  // a refusal shows in Finish()
  // A staged upload this client refuses is dropped now rather than left,
  // reserved, for the sweep (best effort); so is one whose answer did not
  // arrive: the server may have staged it before the connection broke, and
  // the caller, with no StagedObject for it, cannot discard it (a discard
  // skips an upload that is gone or still streaming).
  const auto refuse = [&](absl::Status s) {
    if (stage) DiscardUploads(conn, {upload.upload_id()}, o.token).IgnoreError();
    return s;
  };
  absl::StatusOr<v1::ObjectInfo> finished = stream->Finish();
  if (!finished.ok()) return refuse(finished.status());
  const v1::ObjectInfo& info = *finished;
  if (!SameDataset(info.dataset(), o.dataset) || info.name() != o.name ||
      info.version() != upload.version()) {
    return refuse(absl::DataLossError(
        absl::StrCat("PutObject: the server recorded ", info.dataset(), "/", info.name(), "@",
                     info.version(), ", not ", o.dataset, "/", o.name, "@", upload.version())));
  }
  if (info.size() != done) {
    return refuse(absl::DataLossError(absl::StrCat("PutObject: the server recorded ", info.size(),
                                                   " bytes, ", done, " were sent")));
  }
  if (upload_id != nullptr) *upload_id = upload.upload_id();
  return info;
}

}  // namespace

absl::StatusOr<v1::ObjectInfo> PutSealedObject(Connection& conn, const PutObjectOptions& o,
                                               storage::ByteSource& input) {
  return PutSealed(conn, o, input, /*stage=*/false, nullptr);
}

absl::StatusOr<StagedObject> StageSealedObject(Connection& conn, const PutObjectOptions& o,
                                               storage::ByteSource& input) {
  StagedObject staged;
  ASSIGN_OR_RETURN(staged.info, PutSealed(conn, o, input, /*stage=*/true, &staged.upload_id));
  return staged;
}

absl::Status DiscardStagedObjects(Connection& conn, const std::vector<StagedObject>& staged,
                                  const std::string& token) {
  std::vector<std::string> ids;
  for (const StagedObject& s : staged) ids.push_back(s.upload_id);
  return DiscardUploads(conn, ids, token);
}

absl::StatusOr<std::vector<v1::ObjectInfo>> CommitStagedObjects(
    Connection& conn, const std::vector<StagedObject>& staged, const std::string& token) {
  v1::CommitUploadsRequest r;
  for (const StagedObject& s : staged) r.add_upload_ids(s.upload_id);
  r.set_token(token);
  ASSIGN_OR_RETURN(v1::CommitUploadsResponse response, conn.CommitUploads(r));
  // Each answer must be the object that was staged.
  if (response.objects_size() != static_cast<int>(staged.size())) {
    return absl::DataLossError(absl::StrCat("CommitUploads: ", response.objects_size(),
                                            " objects committed, ", staged.size(), " staged"));
  }
  std::vector<v1::ObjectInfo> out;
  for (size_t i = 0; i < staged.size(); ++i) {
    const v1::ObjectInfo& got = response.objects(static_cast<int>(i));
    const v1::ObjectInfo& want = staged[i].info;
    if (got.dataset() != want.dataset() || got.name() != want.name() ||
        got.version() != want.version() || got.size() != want.size()) {
      return absl::DataLossError(absl::StrCat(
          "CommitUploads: committed ", got.dataset(), "/", got.name(), "@", got.version(),
          " in place of ", want.dataset(), "/", want.name(), "@", want.version()));
    }
    out.push_back(got);
  }
  return out;
}

absl::StatusOr<v1::ObjectInfo> GetSealedObject(Connection& conn, const GetObjectOptions& o,
                                               storage::ByteSink& out) {
  if (o.raw && (o.range_start != 0 || o.range_end.has_value())) {
    return absl::InvalidArgumentError("--raw copies whole objects only (no --range)");
  }
  v1::GetObjectRequest request;
  request.set_dataset(o.dataset);
  request.set_name(o.name);
  request.set_version(o.version);
  request.set_range_start(o.range_start);
  if (o.range_end.has_value()) request.set_range_end(*o.range_end);
  request.set_token(o.token);
  GetStream stream(conn, request);
  ASSIGN_OR_RETURN(v1::ObjectHead head, stream.Head());
  ASSIGN_OR_RETURN(SealedHeader header, CheckedHeader(head, o.dataset, o.name, o.version));

  // With more than one segment, segments are received on a thread of their
  // own (TLS, HTTP/2, up to kPrefetchSegments ahead) while this one decrypts
  // (or copies them out raw), from the key release on: a download costs
  // about the larger of the two rather than their sum. Only ciphertext
  // crosses threads.
  std::optional<Prefetcher<SegmentStreamReader::Segment>> prefetch;
  if (head.info().segment_count() > 1) {
    prefetch.emplace([&stream] { return stream.Next(); }, kPrefetchSegments,
                     [&stream] { stream.Cancel(); });
  }
  auto next = [&]() -> absl::StatusOr<std::optional<SegmentStreamReader::Segment>> {
    return prefetch.has_value() ? prefetch->Next() : stream.Next();
  };

  if (o.raw) {
    RETURN_IF_ERROR(out.Append(AsBytes(head.header())));
    uint64_t done = head.header().size(), expected = 0;
    const uint64_t total = head.info().stored_bytes();
    for (;;) {
      ASSIGN_OR_RETURN(std::optional<SegmentStreamReader::Segment> s, next());
      if (!s.has_value()) break;
      if (s->index != expected++) {
        return absl::DataLossError(absl::StrCat("GetObject: segment ", s->index,
                                                " arrived in place of segment ", expected - 1));
      }
      RETURN_IF_ERROR(out.Append(AsBytes(s->data)));
      done += s->data.size();
      if (o.progress) o.progress(done, total);
    }
    if (expected != head.info().segment_count() ||
        done != head.header().size() + head.stream_bytes() - header.stream_header.size()) {
      return absl::DataLossError(absl::StrCat("GetObject: ", expected, " of ",
                                              head.info().segment_count(), " segments arrived"));
    }
    return head.info();
  }

  DataKeyOpener open = o.open_key ? o.open_key : OwnerDataKeyOpener(conn);
  const absl::Time key_start = absl::Now();
  ASSIGN_OR_RETURN(SecretBytes key, open(header));
  if (o.on_key_opened) o.on_key_opened(absl::Now() - key_start);
  ASSIGN_OR_RETURN(
      std::unique_ptr<SegmentStreamReader> reader,
      SegmentStreamReader::Create(key, header.params, storage::sealed::AssociatedData(header),
                                  header.stream_header, head.stream_bytes(), next));
  if (reader->plaintext_size() != head.info().size()) {
    return absl::DataLossError(absl::StrCat("GetObject: the stream holds ",
                                            reader->plaintext_size(), " bytes, the head says ",
                                            head.info().size()));
  }
  const uint64_t end =
      std::min(o.range_end.value_or(reader->plaintext_size()), reader->plaintext_size());
  const uint64_t total = end > o.range_start ? end - o.range_start : 0;
  RETURN_IF_ERROR(reader->CopyRange(
      o.range_start, end, &out,
      [&](uint64_t done) {
        if (o.progress) o.progress(done, total);
      },
      o.decrypt_threads));
  RETURN_IF_ERROR(ExpectNoMoreSegments(next()));
  return head.info();
}

absl::StatusOr<v1::StoreJob> RekeySealedObject(Connection& conn, const RekeyOptions& o) {
  v1::BeginRekeyRequest begin;
  begin.set_dataset(o.dataset);
  begin.set_name(o.name);
  begin.set_version(o.version);
  ASSIGN_OR_RETURN(v1::StoreJob job, conn.BeginRekey(begin));
  // Every later step follows the job: it must be for the object asked for.
  if (job.id().empty() || !SameDataset(job.dataset(), o.dataset) || job.name() != o.name ||
      (o.version != 0 && job.version() != o.version)) {
    return absl::DataLossError(
        absl::StrCat("BeginRekey: the server's job ", job.id(), " is for ", job.dataset(), "/",
                     job.name(), "@", job.version(), ", not ", o.dataset, "/", o.name,
                     o.version != 0 ? "@" : "", o.version != 0 ? absl::StrCat(o.version) : ""));
  }
  if (job.done() == job.total() && !job.new_header().empty()) {
    // Every segment is stored (a crash came before the swap): finish.
    auto upload = conn.PutRekeySegments();
    v1::PutRekeySegmentsRequest message;
    message.mutable_start()->set_job_id(job.id());
    if (upload->Write(message)) {
      message.set_finish(true);
      upload->Write(message);
    }
    return upload->Finish();
  }
  v1::StatObjectRequest stat;
  stat.set_dataset(o.dataset);
  stat.set_name(job.name());
  stat.set_version(job.version());
  ASSIGN_OR_RETURN(v1::ObjectInfo info, conn.StatObject(stat));
  // The segments still to do, from the server's cursor.
  const storage::StreamingAeadParams params = StoreParams(info.segment_size());
  uint64_t from = 0;
  if (job.done() > 0) {
    from =
        params.first_plaintext_segment_size() + (job.done() - 1) * params.plaintext_segment_size();
  }
  v1::GetObjectRequest get;
  get.set_dataset(o.dataset);
  get.set_name(job.name());
  get.set_version(job.version());
  get.set_range_start(std::min(from, info.size()));
  GetStream stream(conn, get);
  ASSIGN_OR_RETURN(v1::ObjectHead head, stream.Head());
  ASSIGN_OR_RETURN(SealedHeader old_header,
                   CheckedHeader(head, o.dataset, job.name(), job.version()));
  if (old_header.params.ciphertext_segment_size != params.ciphertext_segment_size ||
      old_header.params.derived_key_size != params.derived_key_size) {
    return absl::FailedPreconditionError(
        "rekey: the object's stream parameters are not the "
        "store's; cannot resume from the cursor");
  }
  DataKeyOpener open = OwnerDataKeyOpener(conn);
  ASSIGN_OR_RETURN(SecretBytes old_key, open(old_header));

  SealedHeader new_header = old_header;
  SecretBytes new_key;
  const bool fresh = job.new_header().empty();
  if (fresh) {
    v1::GetDatasetRequest get_dataset;
    get_dataset.set_name(o.dataset);
    ASSIGN_OR_RETURN(v1::Dataset dataset, conn.GetDataset(get_dataset));
    ASSIGN_OR_RETURN(DataKey dek, GenerateObjectDataKey(conn, dataset.key(), old_header.dataset,
                                             old_header.name, old_header.version));
    new_key = std::move(dek.key);
    new_header.key_name = dataset.key();
    new_header.wrapped_key = dek.wrapped;
    new_header.key_version = dek.key_version;
    ASSIGN_OR_RETURN(new_header.stream_header, storage::sealed::NewStreamHeader(params));
  } else {
    ASSIGN_OR_RETURN(new_header, storage::sealed::ParseSealedHeader(AsBytes(job.new_header())));
    if (new_header.dataset != old_header.dataset || new_header.name != old_header.name ||
        new_header.version != old_header.version) {
      return absl::DataLossError("rekey: the job's new header names another object");
    }
    ASSIGN_OR_RETURN(new_key, open(new_header));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<storage::sealed::SegmentEncryptor> encryptor,
                   storage::sealed::SegmentEncryptor::Create(
                       new_key, new_header.params, storage::sealed::AssociatedData(new_header),
                       new_header.stream_header));
  ASSIGN_OR_RETURN(std::unique_ptr<SegmentStreamReader> reader,
                   SegmentStreamReader::Create(old_key, old_header.params,
                                               storage::sealed::AssociatedData(old_header),
                                               old_header.stream_header, head.stream_bytes(),
                                               [&stream] { return stream.Next(); }));
  auto upload = conn.PutRekeySegments();
  v1::PutRekeySegmentsRequest message;
  message.mutable_start()->set_job_id(job.id());
  if (fresh) message.mutable_start()->set_header(std::string(AsStringView(new_header.Encode())));
  bool broken = !upload->Write(message);
  const uint64_t count = reader->segment_count();
  for (uint64_t i = job.done(); i < count && !broken; ++i) {
    ASSIGN_OR_RETURN(std::span<const uint8_t> plain, reader->DecryptSegment(i));
    ASSIGN_OR_RETURN(Bytes ct, encryptor->Encrypt(i, i + 1 == count, plain));
    v1::ObjectSegment* segment = message.mutable_segment();
    segment->set_index(i);
    segment->set_data(std::string(AsStringView(ct)));
    broken = !upload->Write(message);
    if (o.progress) o.progress(i + 1, count);
  }
  if (!broken) {
    RETURN_IF_ERROR(stream.ExpectEnd());
    message.set_finish(true);
    upload->Write(message);
  }
  return upload->Finish();
}

}  // namespace strongroom::client
