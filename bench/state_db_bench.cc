// state_db_bench: the watcher's durable-state workload on three embedded
// databases from Debian's packages (SQLite in WAL mode, LMDB, LevelDB), to
// choose the one behind --state-dir (docs/ARCHITECTURE.md, "Durable state").
//
// Workload (what watcher-svc writes): a batch = its events (serialized
// ChangeEvent, ~1.2 KB with a plan's text) + the new state of the items it
// touched (key + hash + the fields a deletion needs, ~250 B) + the meta row
// (epoch, last seq), in one atomic commit. Measured per database, in a
// durable mode (fsync at each commit) and a relaxed one:
//   commit of a 1-event batch (p50/p99 over --reps), of a 10,000-event batch,
//   start-up read of 100,000 items (reopen, then read them all), and the size
//   on disk holding 100,000 items + 100,000 history events.
// Single-threaded; uses a temporary directory under --dir.
#include <lmdb.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "leveldb/db.h"
#include "leveldb/write_batch.h"

namespace {

using Clock = std::chrono::steady_clock;
using KV = std::pair<std::string, std::string>;

struct Batch {
  std::vector<KV> events;  // key: seq, big-endian
  std::vector<KV> items;   // key: item id
  std::string meta;
};

class Db {
 public:
  virtual ~Db() = default;
  virtual void Commit(const Batch& b) = 0;
  virtual size_t ReadAllItems() = 0;
};

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "state_db_bench: %s failed\n", what);
    std::exit(1);
  }
}

// ------------------------------------------------------------------ SQLite
class SqliteDb : public Db {
 public:
  SqliteDb(const std::string& dir, bool full) {
    Check(sqlite3_open((dir + "/state.db").c_str(), &db_) == SQLITE_OK, "sqlite3_open");
    Exec("PRAGMA journal_mode=WAL");
    Exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    Exec("CREATE TABLE IF NOT EXISTS items(id BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID");
    Exec("CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, v BLOB)");
    Exec("CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v BLOB)");
    Check(sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO items VALUES(?,?)", -1, &item_, nullptr) == SQLITE_OK, "prep");
    Check(sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO events VALUES(?,?)", -1, &event_, nullptr) == SQLITE_OK, "prep");
    Check(sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO meta VALUES('m',?)", -1, &meta_, nullptr) == SQLITE_OK, "prep");
  }
  ~SqliteDb() override {
    sqlite3_finalize(item_);
    sqlite3_finalize(event_);
    sqlite3_finalize(meta_);
    sqlite3_close(db_);
  }
  void Commit(const Batch& b) override {
    Exec("BEGIN");
    for (const auto& [k, v] : b.events) {
      uint64_t seq = 0;
      for (char c : k) seq = seq << 8 | static_cast<uint8_t>(c);
      sqlite3_bind_int64(event_, 1, static_cast<sqlite3_int64>(seq));
      sqlite3_bind_blob(event_, 2, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
      Check(sqlite3_step(event_) == SQLITE_DONE, "insert event");
      sqlite3_reset(event_);
    }
    for (const auto& [k, v] : b.items) {
      sqlite3_bind_blob(item_, 1, k.data(), static_cast<int>(k.size()), SQLITE_STATIC);
      sqlite3_bind_blob(item_, 2, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
      Check(sqlite3_step(item_) == SQLITE_DONE, "insert item");
      sqlite3_reset(item_);
    }
    sqlite3_bind_blob(meta_, 1, b.meta.data(), static_cast<int>(b.meta.size()), SQLITE_STATIC);
    Check(sqlite3_step(meta_) == SQLITE_DONE, "meta");
    sqlite3_reset(meta_);
    Exec("COMMIT");
  }
  size_t ReadAllItems() override {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db_, "SELECT id, v FROM items", -1, &st, nullptr);
    size_t n = 0, bytes = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      bytes += static_cast<size_t>(sqlite3_column_bytes(st, 1));
      ++n;
    }
    sqlite3_finalize(st);
    return n + (bytes == 0);
  }

 private:
  void Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::fprintf(stderr, "sqlite: %s: %s\n", sql, err ? err : "?");
      std::exit(1);
    }
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt *item_ = nullptr, *event_ = nullptr, *meta_ = nullptr;
};

// -------------------------------------------------------------------- LMDB
class LmdbDb : public Db {
 public:
  LmdbDb(const std::string& dir, bool full) {
    Check(mdb_env_create(&env_) == 0, "mdb_env_create");
    mdb_env_set_maxdbs(env_, 4);
    mdb_env_set_mapsize(env_, size_t{8} << 30);
    Check(mdb_env_open(env_, dir.c_str(), full ? 0 : MDB_NOSYNC, 0644) == 0, "mdb_env_open");
    MDB_txn* txn;
    mdb_txn_begin(env_, nullptr, 0, &txn);
    mdb_dbi_open(txn, "items", MDB_CREATE, &items_);
    mdb_dbi_open(txn, "events", MDB_CREATE, &events_);
    mdb_dbi_open(txn, "meta", MDB_CREATE, &meta_);
    Check(mdb_txn_commit(txn) == 0, "mdb open dbs");
  }
  ~LmdbDb() override { mdb_env_close(env_); }
  void Commit(const Batch& b) override {
    MDB_txn* txn;
    Check(mdb_txn_begin(env_, nullptr, 0, &txn) == 0, "txn");
    auto put = [&](MDB_dbi dbi, const std::string& k, const std::string& v) {
      MDB_val key{k.size(), const_cast<char*>(k.data())}, val{v.size(), const_cast<char*>(v.data())};
      Check(mdb_put(txn, dbi, &key, &val, 0) == 0, "mdb_put");
    };
    for (const auto& [k, v] : b.events) put(events_, k, v);
    for (const auto& [k, v] : b.items) put(items_, k, v);
    put(meta_, "m", b.meta);
    Check(mdb_txn_commit(txn) == 0, "commit");
  }
  size_t ReadAllItems() override {
    MDB_txn* txn;
    mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    MDB_cursor* c;
    mdb_cursor_open(txn, items_, &c);
    MDB_val k, v;
    size_t n = 0, bytes = 0;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      std::string copy(static_cast<char*>(v.mv_data), v.mv_size);  // what a parse would touch
      bytes += copy.size();
      ++n;
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return n + (bytes == 0);
  }

 private:
  MDB_env* env_ = nullptr;
  MDB_dbi items_ = 0, events_ = 0, meta_ = 0;
};

// ----------------------------------------------------------------- LevelDB
class LevelDb : public Db {
 public:
  LevelDb(const std::string& dir, bool full) : full_(full) {
    leveldb::Options o;
    o.create_if_missing = true;
    leveldb::DB* db = nullptr;
    Check(leveldb::DB::Open(o, dir, &db).ok(), "leveldb open");
    db_.reset(db);
  }
  void Commit(const Batch& b) override {
    leveldb::WriteBatch wb;
    for (const auto& [k, v] : b.events) wb.Put("e" + k, v);
    for (const auto& [k, v] : b.items) wb.Put("i" + k, v);
    wb.Put("m", b.meta);
    leveldb::WriteOptions wo;
    wo.sync = full_;
    Check(db_->Write(wo, &wb).ok(), "leveldb write");
  }
  size_t ReadAllItems() override {
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    size_t n = 0, bytes = 0;
    for (it->Seek("i"); it->Valid() && it->key().starts_with("i"); it->Next()) {
      bytes += it->value().size();
      ++n;
    }
    return n + (bytes == 0);
  }

 private:
  bool full_;
  std::unique_ptr<leveldb::DB> db_;
};

// ---------------------------------------------------------------- workload
std::mt19937_64 rng(42);

std::string RandomBytes(size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>('a' + rng() % 26);  // text-like, compressible a little
  return s;
}

std::string SeqKey(uint64_t seq) {
  std::string k(8, '\0');
  for (int i = 7; i >= 0; --i, seq >>= 8) k[i] = static_cast<char>(seq & 0xff);
  return k;
}

struct Gen {
  uint64_t seq = 0;
  Batch Make(size_t n_events, size_t n_items_total) {
    Batch b;
    for (size_t i = 0; i < n_events; ++i) {
      b.events.push_back({SeqKey(++seq), RandomBytes(1200)});
      uint64_t id = rng() % n_items_total;
      b.items.push_back({"plan/proj" + std::to_string(id % 50) + "\ncoderef/working/f" + std::to_string(id) + "/plan.json",
                         RandomBytes(250)});
    }
    b.meta = "epoch=0123456789abcdef0123456789abcdef;seq=" + std::to_string(seq);
    return b;
  }
};

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    struct stat st;
    if (::stat(e.path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

void Run(const char* name, bool full, const std::string& root, int reps,
         const std::function<std::unique_ptr<Db>(const std::string&, bool)>& open) {
  std::string dir = root + "/" + name + (full ? "-full" : "-relaxed");
  std::filesystem::create_directories(dir);
  constexpr size_t kItems = 100000, kHistory = 100000;
  Gen gen;
  auto db = open(dir, full);
  // 100,000 items first (the start-up scan's state), then events until the
  // history holds 100,000.
  for (size_t done = 0; done < kItems; done += 10000) {
    Batch b;
    for (size_t i = done; i < done + 10000; ++i)
      b.items.push_back({"plan/proj" + std::to_string(i % 50) + "\ncoderef/working/f" + std::to_string(i) + "/plan.json",
                         RandomBytes(250)});
    b.meta = "m";
    db->Commit(b);
  }
  std::vector<double> big;
  for (size_t done = 0; done < kHistory; done += 10000) {
    Batch b = gen.Make(10000, kItems);
    auto t0 = Clock::now();
    db->Commit(b);
    big.push_back(Ms(Clock::now() - t0));
  }
  std::vector<double> one;
  for (int i = 0; i < reps; ++i) {
    Batch b = gen.Make(1, kItems);
    auto t0 = Clock::now();
    db->Commit(b);
    one.push_back(Ms(Clock::now() - t0));
  }
  db.reset();
  auto t0 = Clock::now();
  db = open(dir, full);
  size_t n = db->ReadAllItems();
  double read_ms = Ms(Clock::now() - t0);
  db.reset();
  std::printf("%-8s %-8s 1-event p50 %7.3f ms p99 %7.3f ms | 10k-event p50 %7.1f ms max %7.1f ms | "
              "open+read %zu items %6.1f ms | disk %6.1f MiB\n",
              name, full ? "full" : "relaxed", Pct(one, 0.5), Pct(one, 0.99), Pct(big, 0.5),
              *std::max_element(big.begin(), big.end()), n, read_ms, DirBytes(dir) / 1048576.0);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string root = argc > 1 ? argv[1] : "/tmp";
  int reps = argc > 2 ? std::atoi(argv[2]) : 300;
  root += "/state_db_bench." + std::to_string(::getpid());
  for (bool full : {true, false}) {
    Run("sqlite", full, root, reps, [](const std::string& d, bool f) { return std::make_unique<SqliteDb>(d, f); });
    Run("lmdb", full, root, reps, [](const std::string& d, bool f) { return std::make_unique<LmdbDb>(d, f); });
    Run("leveldb", full, root, reps, [](const std::string& d, bool f) { return std::make_unique<LevelDb>(d, f); });
  }
  std::filesystem::remove_all(root);
  return 0;
}
