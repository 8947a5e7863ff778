// CURVE client allow-list (--curve-allowed-clients): a ZAP handler that
// accepts, on every CURVE server socket of the watcher's context (the feed's
// PUB and the snapshot ROUTER), only the client public keys of a list.
//
// The list is a file with one Z85 public key per line (blank lines and lines
// starting with '#' ignored; a key may be followed by "# label"), or a
// directory whose regular, non-hidden files all have that format.
//
// Threading: the handler runs on its own small thread, not in the watcher's
// loop. libzmq holds a connecting client's handshake until the handler
// answers, and the loop can be busy for seconds at a time (the initial scan
// in WatcherCore::Start() runs before the loop, a rescan flush or a large
// snapshot after it); on a thread of its own the handler answers within
// milliseconds whatever the loop does, and it is bound before the feed
// sockets and closed after them, so no connection is ever accepted without
// it (libzmq lets CURVE clients in unchecked when no handler is bound).
// The thread owns the REP socket and the current list; the loop only calls
// RequestReload() (an atomic flag) on SIGHUP. The thread also re-reads the
// list when its file (or a file of its directory) changes: it compares
// inode, size and mtime every second.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/metrics.h"

namespace coderef::watcher {

// Parses the text of one list file. `source` names the file in errors:
// "<source>:<line>: <what>". False (and *error) on the first bad line.
bool ParseCurveAllowList(const std::string& text, const std::string& source,
                         std::set<std::string>* keys, std::string* error);

// Reads a list file, or every regular non-hidden file of a directory (in
// name order). False with *error naming the file (and line) on any problem.
bool LoadCurveAllowList(const std::string& path, std::set<std::string>* keys, std::string* error);

// Inode, size and mtime of the file, or of the directory and each of its
// files: changes when the list may have changed.
std::string CurveAllowListSignature(const std::string& path);

class ZapAuthenticator {
 public:
  // Binds inproc://zeromq.zap.01 on `ctx` (call before any CURVE server
  // socket of `ctx` binds) and starts the handler thread with `keys`, the
  // list already loaded from `path`.
  ZapAuthenticator(zmq::context_t& ctx, std::string path, std::set<std::string> keys,
                   MetricsRegistry& metrics);
  // Stops and joins the thread and closes the socket (destroy it after the
  // CURVE server sockets and before the context).
  ~ZapAuthenticator();
  ZapAuthenticator(const ZapAuthenticator&) = delete;
  ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;

  // Asks the handler thread to re-read the list (SIGHUP). Any thread.
  void RequestReload() { reload_requested_.store(true); }

 private:
  void Run();
  void Handle();
  void Reload(const char* reason);
  void LogRefused(const std::string& key, const std::string& address);

  zmq::socket_t rep_;
  std::string path_;
  std::set<std::string> keys_;  // handler thread only (after construction)
  std::string signature_;       // handler thread only
  Metric* accepted_;
  Metric* refused_;
  Metric* reloads_failed_;
  Metric* list_size_;
  // Refusal log rate limit: key -> (last logged, refusals since).
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, uint64_t>> refused_log_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> reload_requested_{false};
  std::thread thread_;
};

}  // namespace coderef::watcher
