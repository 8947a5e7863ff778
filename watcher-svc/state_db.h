// StateDb: the watcher's durable state behind --state-dir (PROTOCOL §1 (restarts)): the schema version, the epoch, the last seq assigned, the seq up to
// which every event was handed to the feed socket, every published item (its
// identity, content hash and the fields a deletion event needs; the file
// text is left out: it is on disk), and the last `history_events` events
// (serialized ChangeEvent, ready to re-send).
//
// Write-ahead: the watcher commits a batch's events (which also carry the
// items' new state) with Commit() before it publishes them. A Commit is
// atomic: after a crash at any moment the store holds the batch entirely or
// not at all. The real implementation is LevelDB (state_db.cc; the choice is
// measured in docs/ARCHITECTURE.md); tests reach its file system through a
// leveldb::Env (a fault-injecting one in tests/watcher/fault_env.h).
//
// Failures are DbStatus values, never exceptions or aborts. Not thread-safe:
// owned by the watcher loop thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "coderef/v1/feed.pb.h"

namespace leveldb {
class Env;
}

namespace coderef::watcher {

struct DbStatus {
  enum class Code { kOk, kMissing, kCorrupt, kForeignVersion, kIoError };
  Code code = Code::kOk;
  std::string message;  // for the log: names the reason and the path

  bool ok() const { return code == Code::kOk; }
  static DbStatus Ok() { return {}; }
  static DbStatus Error(Code c, std::string m) { return {c, std::move(m)}; }
  // "missing", "corrupt", "foreign_version", "io_error" (log values).
  const char* CodeName() const;
};

// What Load() reads back.
struct StoredState {
  std::string epoch;
  uint64_t last_seq = 0;  // the last seq committed (0: none yet)
  uint64_t sent_seq = 0;  // every event up to here was handed to the feed socket
  std::string boot_id;    // the machine's boot when the watcher last started on it
  bool clean = false;     // the last run ended with a clean stop (MarkStopped)
  // Published items by id (StateStore::ItemId), without their text.
  std::map<std::string, v1::Item> items;
};

class StateDb {
 public:
  virtual ~StateDb() = default;

  // Reads the whole state. kMissing: the store holds nothing (a new DIR);
  // kCorrupt / kForeignVersion / kIoError: it cannot be trusted.
  virtual DbStatus Load(StoredState* out) = 0;
  // Starts `epoch` afresh: drops every stored item and event and stores
  // `items` (id -> item; text is dropped) at seq 0.
  virtual DbStatus Reset(const std::string& epoch, const std::map<std::string, const v1::Item*>& items) = 0;
  // Atomically stores `events` (stamped with seqs last_seq+1 ..., in order)
  // and the items they change, trims history to the last `history_events`,
  // and records `sent_seq`. REQUIRES: Reset() or a successful Load().
  virtual DbStatus Commit(const std::vector<v1::ChangeEvent>& events, uint64_t sent_seq) = 0;
  // A run begins on the machine's boot `boot_id`: records it and "not
  // stopped cleanly", fsync'd (so a power loss later cannot be mistaken
  // for a clean stop).
  virtual DbStatus MarkStarted(const std::string& boot_id) = 0;
  // A clean stop, once the feed is flushed: records `sent_seq` and "stopped
  // cleanly", fsync'd (everything committed before is on disk then too).
  virtual DbStatus MarkStopped(uint64_t sent_seq) = 0;
  // Appends to *out the stored events with seq > after_seq, in order, at
  // most `max` of them.
  virtual DbStatus ReadEvents(uint64_t after_seq, size_t max, std::vector<v1::ChangeEvent>* out) = 0;
  // The oldest seq still held (last_seq + 1 when the history is empty).
  virtual uint64_t first_seq() const = 0;
  virtual uint64_t last_seq() const = 0;
};

struct StateDbOptions {
  std::string dir;                // the database folder (created when missing)
  size_t history_events = 100000; // events kept for history requests and re-sends
  bool sync = false;              // fsync every commit (--state-sync full)
  leveldb::Env* env = nullptr;    // file system seam; null = the real one
};

// Opens (creating when missing) the LevelDB store in options.dir. On failure
// returns null with *status naming the reason (kIoError for a read-only or
// locked folder, kCorrupt for a damaged one).
std::unique_ptr<StateDb> OpenLevelDbStateDb(const StateDbOptions& options, DbStatus* status);

// The schema version this build reads and writes.
constexpr int kStateDbVersion = 1;

}  // namespace coderef::watcher
