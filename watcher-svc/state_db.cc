#include "watcher-svc/state_db.h"

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/write_batch.h>

#include <charconv>

#include "common/names.h"

namespace coderef::watcher {

const char* DbStatus::CodeName() const {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kMissing: return "missing";
    case Code::kCorrupt: return "corrupt";
    case Code::kForeignVersion: return "foreign_version";
    case Code::kIoError: return "io_error";
  }
  return "?";
}

namespace {

// Key layout (one LevelDB, sorted):
//   "m:version" "1"  | "m:epoch" hex | "m:seq" decimal | "m:sent" decimal
//   "m:boot" the boot id of the last start | "m:clean" "1" after a clean stop
//   "i:" + item id  -> Item without text
//   "e:" + 8-byte big-endian seq -> ChangeEvent (so events sort by seq)
constexpr char kVersionKey[] = "m:version";
constexpr char kEpochKey[] = "m:epoch";
constexpr char kSeqKey[] = "m:seq";
constexpr char kSentKey[] = "m:sent";
constexpr char kBootKey[] = "m:boot";
constexpr char kCleanKey[] = "m:clean";
constexpr char kItemPrefix[] = "i:";
constexpr char kEventPrefix[] = "e:";

std::string EventKey(uint64_t seq) {
  std::string k(kEventPrefix);
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>((seq >> shift) & 0xff));
  return k;
}

bool ParseEventKey(const leveldb::Slice& key, uint64_t* seq) {
  if (key.size() != 10) return false;
  uint64_t v = 0;
  for (size_t i = 2; i < 10; ++i) v = v << 8 | static_cast<uint8_t>(key[i]);
  *seq = v;
  return true;
}

bool ParseU64(const std::string& s, uint64_t* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
}

std::string ItemIdOfEvent(const v1::ChangeEvent& ev) {
  std::string id = Topic(ev.kind(), ev.project());
  id += '\n';
  id += ev.key();
  return id;
}

std::string StoredItemBytes(const v1::Item& item) {
  // The text is on disk (and may be 1 MiB): keep identity, hash and fields.
  v1::Item copy = item;
  copy.clear_text();
  std::string out;
  copy.SerializeToString(&out);
  return out;
}

DbStatus FromLevelDb(const leveldb::Status& s, const std::string& what) {
  if (s.ok()) return DbStatus::Ok();
  auto code = s.IsCorruption() ? DbStatus::Code::kCorrupt : DbStatus::Code::kIoError;
  return DbStatus::Error(code, what + ": " + s.ToString());
}

class LevelDbStateDb final : public StateDb {
 public:
  LevelDbStateDb(std::unique_ptr<leveldb::DB> db, StateDbOptions options)
      : db_(std::move(db)), options_(std::move(options)) {}

  DbStatus Load(StoredState* out) override {
    *out = StoredState();
    leveldb::ReadOptions ro;
    ro.verify_checksums = true;
    ro.fill_cache = false;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
    std::string version;
    bool have_epoch = false, have_seq = false, any = false;
    uint64_t first = 0, last_event = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      any = true;
      leveldb::Slice k = it->key();
      std::string v = it->value().ToString();
      if (k.starts_with(kItemPrefix)) {
        v1::Item item;
        if (!item.ParseFromString(v))
          return Corrupt("item " + k.ToString().substr(2) + " does not parse");
        out->items.emplace(k.ToString().substr(2), std::move(item));
      } else if (k.starts_with(kEventPrefix)) {
        uint64_t seq = 0;
        if (!ParseEventKey(k, &seq)) return Corrupt("malformed event key");
        if (first == 0) first = seq;
        last_event = seq;
      } else if (k == kVersionKey) {
        version = v;
      } else if (k == kEpochKey) {
        out->epoch = v;
        have_epoch = !v.empty();
      } else if (k == kSeqKey) {
        if (!ParseU64(v, &out->last_seq)) return Corrupt("last seq \"" + v + "\" is not a number");
        have_seq = true;
      } else if (k == kBootKey) {
        out->boot_id = v;
      } else if (k == kCleanKey) {
        out->clean = v == "1";
      } else if (k == kSentKey) {
        if (!ParseU64(v, &out->sent_seq)) return Corrupt("sent seq \"" + v + "\" is not a number");
      } else {
        return Corrupt("unknown key \"" + k.ToString() + "\"");
      }
    }
    if (!it->status().ok()) return FromLevelDb(it->status(), "reading " + options_.dir);
    if (!any) return DbStatus::Error(DbStatus::Code::kMissing, options_.dir + " holds no state yet");
    if (version.empty()) return Corrupt("no schema version");
    if (version != std::to_string(kStateDbVersion))
      return DbStatus::Error(DbStatus::Code::kForeignVersion,
                             options_.dir + " has schema version " + version + ", this build reads " +
                                 std::to_string(kStateDbVersion));
    if (!have_epoch || !have_seq) return Corrupt("no epoch or seq");
    if (last_event > out->last_seq) return Corrupt("an event is newer than the last seq");
    if (out->sent_seq > out->last_seq) out->sent_seq = out->last_seq;
    last_seq_ = out->last_seq;
    first_seq_ = first ? first : last_seq_ + 1;
    if (first && last_event != last_seq_) return Corrupt("the history does not end at the last seq");
    loaded_ = true;
    return DbStatus::Ok();
  }

  DbStatus Reset(const std::string& epoch, const std::map<std::string, const v1::Item*>& items) override {
    leveldb::WriteBatch wb;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    size_t dropped = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++dropped) wb.Delete(it->key());
    if (!it->status().ok()) return FromLevelDb(it->status(), "clearing " + options_.dir);
    it.reset();
    wb.Put(kVersionKey, std::to_string(kStateDbVersion));
    wb.Put(kEpochKey, epoch);
    wb.Put(kSeqKey, "0");
    wb.Put(kSentKey, "0");
    for (const auto& [id, item] : items) wb.Put(kItemPrefix + id, StoredItemBytes(*item));
    DbStatus s = Write(&wb, "resetting");
    if (!s.ok()) return s;
    last_seq_ = 0;
    first_seq_ = 1;
    loaded_ = true;
    // Compact now: the deletions (if any) left tombstones over the old
    // epoch's data, so the store's size becomes the new state's; and the
    // memtable, which took the whole batch (every item: ~8 MiB for 30,000),
    // is written out and freed (a cold start's RSS: 70.3 -> see
    // docs/PERFORMANCE.md, "Start-up side by side").
    (void)dropped;
    db_->CompactRange(nullptr, nullptr);
    return DbStatus::Ok();
  }

  DbStatus Commit(const std::vector<v1::ChangeEvent>& events, uint64_t sent_seq) override {
    if (!loaded_) return DbStatus::Error(DbStatus::Code::kIoError, "commit before Load/Reset");
    leveldb::WriteBatch wb;
    uint64_t last = last_seq_;
    std::string bytes;
    for (const auto& ev : events) {
      if (ev.seq() != last + 1)
        return DbStatus::Error(DbStatus::Code::kIoError,
                               "event seq " + std::to_string(ev.seq()) + " does not follow " +
                                   std::to_string(last));
      last = ev.seq();
      ev.SerializeToString(&bytes);
      wb.Put(EventKey(ev.seq()), bytes);
      if (ev.has_item()) wb.Put(kItemPrefix + ItemIdOfEvent(ev), StoredItemBytes(ev.item()));
      else wb.Delete(kItemPrefix + ItemIdOfEvent(ev));
    }
    uint64_t first = first_seq_;
    while (last + 1 - first > options_.history_events) wb.Delete(EventKey(first++));
    wb.Put(kSeqKey, std::to_string(last));
    wb.Put(kSentKey, std::to_string(std::min(sent_seq, last)));
    DbStatus s = Write(&wb, "committing");
    if (!s.ok()) return s;
    last_seq_ = last;
    first_seq_ = first;
    return DbStatus::Ok();
  }

  DbStatus MarkStarted(const std::string& boot_id) override {
    leveldb::WriteBatch wb;
    wb.Put(kBootKey, boot_id);
    wb.Put(kCleanKey, "0");
    return Write(&wb, "marking the start in", true);
  }

  DbStatus MarkStopped(uint64_t sent_seq) override {
    leveldb::WriteBatch wb;
    wb.Put(kSentKey, std::to_string(std::min(sent_seq, last_seq_)));
    wb.Put(kCleanKey, "1");
    return Write(&wb, "marking a clean stop in", true);
  }

  DbStatus ReadEvents(uint64_t after_seq, size_t max, std::vector<v1::ChangeEvent>* out) override {
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    size_t n = 0;
    for (it->Seek(EventKey(after_seq + 1)); it->Valid() && n < max; it->Next(), ++n) {
      if (!it->key().starts_with(kEventPrefix)) break;
      v1::ChangeEvent ev;
      if (!ev.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
        return Corrupt("event does not parse");
      out->push_back(std::move(ev));
    }
    return FromLevelDb(it->status(), "reading history in " + options_.dir);
  }

  uint64_t first_seq() const override { return first_seq_; }
  uint64_t last_seq() const override { return last_seq_; }

 private:
  DbStatus Corrupt(const std::string& what) const {
    return DbStatus::Error(DbStatus::Code::kCorrupt, options_.dir + ": " + what);
  }
  DbStatus Write(leveldb::WriteBatch* wb, const std::string& what, bool sync = false) {
    leveldb::WriteOptions wo;
    wo.sync = sync || options_.sync;
    return FromLevelDb(db_->Write(wo, wb), what + " " + options_.dir);
  }

  std::unique_ptr<leveldb::DB> db_;
  StateDbOptions options_;
  bool loaded_ = false;
  uint64_t last_seq_ = 0;
  uint64_t first_seq_ = 1;
};

}  // namespace

std::unique_ptr<StateDb> OpenLevelDbStateDb(const StateDbOptions& options, DbStatus* status) {
  leveldb::Options o;
  o.create_if_missing = true;
  o.paranoid_checks = true;  // a damaged log or table is an error, not skipped data
  if (options.env) o.env = options.env;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(o, options.dir, &raw);
  if (!s.ok()) {
    *status = FromLevelDb(s, "opening " + options.dir);
    return nullptr;
  }
  *status = DbStatus::Ok();
  return std::make_unique<LevelDbStateDb>(std::unique_ptr<leveldb::DB>(raw), options);
}

}  // namespace coderef::watcher
