// FaultEnv: a leveldb::Env over the real one that fails writes on demand,
// as leveldb's own db/fault_injection_test.cc does. Used to test the
// watcher's StateDb (state_db.h) against a disk that fills up or fails in
// the middle of a commit. Thread-safe flags (LevelDB calls Env from its
// background compaction thread too).
#pragma once

#include <leveldb/env.h>

#include <atomic>
#include <memory>
#include <string>

namespace coderef::watcher::testing {

class FaultEnv : public leveldb::EnvWrapper {
 public:
  FaultEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}

  // From now on every Append writes only half of its data and fails (a
  // full disk: the tail of the record is torn), and Sync fails.
  void FailWrites(bool on) { fail_writes_ = on; }
  // Refuse to create files at all (a read-only folder).
  void ReadOnly(bool on) { read_only_ = on; }
  int failed_appends() const { return failed_appends_; }

  leveldb::Status NewWritableFile(const std::string& f, leveldb::WritableFile** r) override {
    if (read_only_) return leveldb::Status::IOError(f, "Read-only file system (injected)");
    leveldb::Status s = target()->NewWritableFile(f, r);
    if (s.ok()) *r = new File(this, *r);
    return s;
  }
  leveldb::Status NewAppendableFile(const std::string& f, leveldb::WritableFile** r) override {
    if (read_only_) return leveldb::Status::IOError(f, "Read-only file system (injected)");
    leveldb::Status s = target()->NewAppendableFile(f, r);
    if (s.ok()) *r = new File(this, *r);
    return s;
  }
  leveldb::Status LockFile(const std::string& f, leveldb::FileLock** l) override {
    if (read_only_) return leveldb::Status::IOError(f, "Read-only file system (injected)");
    return target()->LockFile(f, l);
  }

 private:
  class File : public leveldb::WritableFile {
   public:
    File(FaultEnv* env, leveldb::WritableFile* base) : env_(env), base_(base) {}
    leveldb::Status Append(const leveldb::Slice& data) override {
      if (env_->fail_writes_) {
        ++env_->failed_appends_;
        base_->Append(leveldb::Slice(data.data(), data.size() / 2));
        base_->Flush();
        return leveldb::Status::IOError("append", "No space left on device (injected)");
      }
      return base_->Append(data);
    }
    leveldb::Status Close() override { return base_->Close(); }
    leveldb::Status Flush() override { return base_->Flush(); }
    leveldb::Status Sync() override {
      if (env_->fail_writes_) return leveldb::Status::IOError("sync", "Input/output error (injected)");
      return base_->Sync();
    }

   private:
    FaultEnv* env_;
    std::unique_ptr<leveldb::WritableFile> base_;
  };

  std::atomic<bool> fail_writes_{false};
  std::atomic<bool> read_only_{false};
  std::atomic<int> failed_appends_{0};
};

}  // namespace coderef::watcher::testing
