// A RocksDB Env over the real file system that fails chosen I/O on demand,
// for tests of what a component does when the disk refuses:
//
// - FailReads(true): reads through random-access files (SST data, index and
//   filter blocks) return an IOError (a bad disk, a damaged file).
//
//     FaultEnv env;
//     auto db = storage::Database::Open(path, env.env());
//     ... db->CompactAll();      // so what follows is read from files
//     env.FailReads(true);
//
// - FailWalWritesAfterSyncs(n): once n more WAL syncs have succeeded, every
//   append to and sync of a WAL file fails, so the batch that meets the
//   failure never reaches the file (a full disk): with n = 1 the next synced
//   batch commits and the one after it fails. RocksDB then refuses writes
//   until reopened; keep the fault armed while closing (so nothing buffered
//   is written at close), then disarm (-1) and reopen.
//
// The Env must outlive every database opened on it. Thread-safe.
#ifndef STRONGROOM_STORAGE_TESTING_FAULT_ENV_H_
#define STRONGROOM_STORAGE_TESTING_FAULT_ENV_H_

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <memory>
#include <string>

namespace strongroom::storage::testing {

class FaultEnv {
 public:
  FaultEnv()
      : state_(std::make_shared<State>()),
        fs_(std::make_shared<FileSystem>(rocksdb::FileSystem::Default(), state_)),
        env_(rocksdb::NewCompositeEnv(fs_)) {}

  rocksdb::Env* env() const { return env_.get(); }
  void FailReads(bool on) { state_->fail.store(on); }
  // n >= 0: arm (see above); -1: disarm.
  void FailWalWritesAfterSyncs(long n) { state_->wal_syncs_left.store(n); }
  // Reads and WAL writes refused since construction.
  long Refused() const { return state_->refused.load(); }

 private:
  struct State {
    std::atomic<bool> fail{false};
    std::atomic<long> wal_syncs_left{-1};
    std::atomic<long> refused{0};
  };

  class WalFile : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    WalFile(std::unique_ptr<rocksdb::FSWritableFile> file, std::shared_ptr<State> state)
        : FSWritableFileOwnerWrapper(std::move(file)), state_(std::move(state)) {}

    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
      if (Refuse()) return Injected();
      return FSWritableFileOwnerWrapper::Append(data, options, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
      if (Refuse()) return Injected();
      return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
      if (Refuse()) return Injected();
      rocksdb::IOStatus s = FSWritableFileOwnerWrapper::Sync(options, dbg);
      if (s.ok()) Synced();
      return s;
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
      if (Refuse()) return Injected();
      rocksdb::IOStatus s = FSWritableFileOwnerWrapper::Fsync(options, dbg);
      if (s.ok()) Synced();
      return s;
    }

   private:
    bool Refuse() const {
      if (state_->wal_syncs_left.load() != 0) return false;
      state_->refused.fetch_add(1);
      return true;
    }
    void Synced() {
      long left = state_->wal_syncs_left.load();
      while (left > 0 && !state_->wal_syncs_left.compare_exchange_weak(left, left - 1)) {
      }
    }
    static rocksdb::IOStatus Injected() {
      return rocksdb::IOStatus::IOError("injected WAL write failure (FaultEnv)");
    }
    std::shared_ptr<State> state_;
  };

  class File : public rocksdb::FSRandomAccessFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSRandomAccessFile> file, std::shared_ptr<State> state)
        : FSRandomAccessFileOwnerWrapper(std::move(file)), state_(std::move(state)) {}

    rocksdb::IOStatus Read(uint64_t offset, size_t n, const rocksdb::IOOptions& options,
                           rocksdb::Slice* result, char* scratch,
                           rocksdb::IODebugContext* dbg) const override {
      if (Refuse()) return Injected();
      return FSRandomAccessFileOwnerWrapper::Read(offset, n, options, result, scratch, dbg);
    }
    rocksdb::IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num_reqs,
                                const rocksdb::IOOptions& options,
                                rocksdb::IODebugContext* dbg) override {
      if (Refuse()) {
        for (size_t i = 0; i < num_reqs; ++i) reqs[i].status = Injected();
        return Injected();
      }
      return FSRandomAccessFileOwnerWrapper::MultiRead(reqs, num_reqs, options, dbg);
    }
    rocksdb::IOStatus ReadAsync(rocksdb::FSReadRequest& req, const rocksdb::IOOptions& opts,
                                std::function<void(const rocksdb::FSReadRequest&, void*)> cb,
                                void* cb_arg, void** io_handle, rocksdb::IOHandleDeleter* del_fn,
                                rocksdb::IODebugContext* dbg) override {
      if (Refuse()) return Injected();
      return FSRandomAccessFileOwnerWrapper::ReadAsync(req, opts, std::move(cb), cb_arg, io_handle,
                                                       del_fn, dbg);
    }

   private:
    bool Refuse() const {
      if (!state_->fail.load()) return false;
      state_->refused.fetch_add(1);
      return true;
    }
    static rocksdb::IOStatus Injected() {
      return rocksdb::IOStatus::IOError("injected read failure (FaultEnv)");
    }
    std::shared_ptr<State> state_;
  };

  class FileSystem : public rocksdb::FileSystemWrapper {
   public:
    FileSystem(const std::shared_ptr<rocksdb::FileSystem>& base, std::shared_ptr<State> state)
        : FileSystemWrapper(base), state_(std::move(state)) {}
    static const char* kClassName() { return "StrongroomFaultFileSystem"; }
    const char* Name() const override { return kClassName(); }

    rocksdb::IOStatus NewRandomAccessFile(const std::string& fname,
                                          const rocksdb::FileOptions& options,
                                          std::unique_ptr<rocksdb::FSRandomAccessFile>* result,
                                          rocksdb::IODebugContext* dbg) override {
      std::unique_ptr<rocksdb::FSRandomAccessFile> file;
      rocksdb::IOStatus s = target()->NewRandomAccessFile(fname, options, &file, dbg);
      if (s.ok()) *result = std::make_unique<File>(std::move(file), state_);
      return s;
    }

    rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
      return Wrap(fname, target()->NewWritableFile(fname, options, result, dbg), result);
    }
    rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                        const rocksdb::FileOptions& options,
                                        std::unique_ptr<rocksdb::FSWritableFile>* result,
                                        rocksdb::IODebugContext* dbg) override {
      return Wrap(fname, target()->ReuseWritableFile(fname, old_fname, options, result, dbg),
                  result);
    }

   private:
    // WAL files (NNNNNN.log) get the WAL faults; other files pass through.
    rocksdb::IOStatus Wrap(const std::string& fname, rocksdb::IOStatus s,
                           std::unique_ptr<rocksdb::FSWritableFile>* result) {
      if (s.ok() && fname.size() > 4 && fname.compare(fname.size() - 4, 4, ".log") == 0) {
        *result = std::make_unique<WalFile>(std::move(*result), state_);
      }
      return s;
    }
    std::shared_ptr<State> state_;
  };

  std::shared_ptr<State> state_;
  std::shared_ptr<FileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
};

}  // namespace strongroom::storage::testing

#endif  // STRONGROOM_STORAGE_TESTING_FAULT_ENV_H_
