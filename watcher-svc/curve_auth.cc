#include "watcher-svc/curve_auth.h"

#include <dirent.h>
#include <sys/stat.h>
#include <zmq.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/log.h"

namespace coderef::watcher {

namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr auto kPollInterval = std::chrono::milliseconds(200);
constexpr auto kCheckInterval = std::chrono::seconds(1);
constexpr auto kRefusedLogInterval = std::chrono::seconds(60);
constexpr size_t kRefusedLogKeys = 4096;

bool IsZ85Key(const std::string& s) {
  if (s.size() != 40) return false;
  uint8_t bin[32];
  return zmq_z85_decode(bin, s.c_str()) != nullptr;
}

std::string StatSignature(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "missing";
  std::ostringstream o;
  o << st.st_ino << ':' << st.st_size << ':' << st.st_mtim.tv_sec << '.' << st.st_mtim.tv_nsec;
  return o.str();
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Regular, non-hidden files of a directory, in name order.
bool ListFiles(const std::string& dir, std::vector<std::string>* files, std::string* error) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    *error = "cannot read directory " + dir;
    return false;
  }
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.') continue;
    std::string p = dir + "/" + name;
    struct stat st;
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) files->push_back(p);
  }
  ::closedir(d);
  std::sort(files->begin(), files->end());
  return true;
}

bool LoadFile(const std::string& path, std::set<std::string>* keys, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read " + path;
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseCurveAllowList(ss.str(), path, keys, error);
}

}  // namespace

bool ParseCurveAllowList(const std::string& text, const std::string& source,
                         std::set<std::string>* keys, std::string* error) {
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
    size_t b = 0;
    while (b < line.size() && is_space(line[b])) ++b;
    size_t e = line.size();
    while (e > b && is_space(line[e - 1])) --e;
    if (b == e) continue;
    std::string content = line.substr(b, e - b);
    size_t ws = 0;
    while (ws < content.size() && !is_space(content[ws])) ++ws;
    std::string token = content.substr(0, ws);
    // '#' is a Z85 character, but no key starts with it (that 5-character
    // group would exceed 2^32, which zmq_z85_decode rejects), so a line
    // starting with '#' is always a comment.
    if (IsZ85Key(token)) {
      size_t rest = ws;
      while (rest < content.size() && is_space(content[rest])) ++rest;
      if (rest < content.size() && content[rest] != '#') {
        *error = source + ":" + std::to_string(n) +
                 ": unexpected text after the key (one key per line; a label must start with #)";
        return false;
      }
      keys->insert(token);
      continue;
    }
    if (content[0] == '#') continue;
    *error = source + ":" + std::to_string(n) + ": not a Z85 public key (40 characters of the Z85 alphabet" +
             (token.size() == 40 ? ")" : ", got " + std::to_string(token.size()) + ")");
    return false;
  }
  return true;
}

bool LoadCurveAllowList(const std::string& path, std::set<std::string>* keys, std::string* error) {
  std::set<std::string> out;
  if (IsDirectory(path)) {
    std::vector<std::string> files;
    if (!ListFiles(path, &files, error)) return false;
    for (const auto& f : files)
      if (!LoadFile(f, &out, error)) return false;
  } else if (!LoadFile(path, &out, error)) {
    return false;
  }
  *keys = std::move(out);
  return true;
}

std::string CurveAllowListSignature(const std::string& path) {
  std::string sig = StatSignature(path);
  if (IsDirectory(path)) {
    std::vector<std::string> files;
    std::string err;
    ListFiles(path, &files, &err);
    for (const auto& f : files) sig += "|" + f + "=" + StatSignature(f);
  }
  return sig;
}

ZapAuthenticator::ZapAuthenticator(zmq::context_t& ctx, std::string path, std::set<std::string> keys,
                                   MetricsRegistry& metrics)
    : rep_(ctx, zmq::socket_type::rep), path_(std::move(path)), keys_(std::move(keys)) {
  accepted_ = metrics.Counter("coderef_watcher_curve_clients_accepted_total",
                              "CURVE handshakes accepted by the client allow-list");
  refused_ = metrics.Counter("coderef_watcher_curve_clients_refused_total",
                             "CURVE handshakes refused: client key not in --curve-allowed-clients");
  reloads_failed_ = metrics.Counter("coderef_watcher_curve_allow_list_errors_total",
                                    "Reloads of --curve-allowed-clients that failed (the last good list stays)");
  list_size_ = metrics.Gauge("coderef_watcher_curve_allowed_clients", "Keys in the client allow-list");
  list_size_->Set(static_cast<int64_t>(keys_.size()));
  signature_ = CurveAllowListSignature(path_);
  rep_.set(zmq::sockopt::linger, 0);
  rep_.bind(kZapEndpoint);  // before the feed sockets exist: see the header
  LogInfo("curve.allow_list_loaded")
      .Kv("path", path_)
      .Kv("keys", static_cast<uint64_t>(keys_.size()))
      .Kv("reason", "startup");
  if (keys_.empty()) LogWarn("curve.allow_list_empty").Kv("path", path_).Kv("effect", "every client is refused");
  thread_ = std::thread([this] { Run(); });
}

ZapAuthenticator::~ZapAuthenticator() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void ZapAuthenticator::Run() {
  auto next_check = std::chrono::steady_clock::now() + kCheckInterval;
  while (!stop_.load()) {
    zmq::pollitem_t item{rep_.handle(), 0, ZMQ_POLLIN, 0};
    int n = 0;
    try {
      n = zmq::poll(&item, 1, kPollInterval);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      continue;  // EINTR
    }
    if (n > 0 && (item.revents & ZMQ_POLLIN)) Handle();
    if (reload_requested_.exchange(false)) Reload("sighup");
    auto now = std::chrono::steady_clock::now();
    if (now >= next_check) {
      next_check = now + kCheckInterval;
      if (CurveAllowListSignature(path_) != signature_) Reload("changed");
    }
  }
}

// ZAP 1.0 (RFC 27): request [version, request_id, domain, address,
// identity, mechanism, credentials...]; reply [version, request_id,
// status_code, status_text, user_id, metadata].
void ZapAuthenticator::Handle() {
  std::vector<zmq::message_t> req;
  try {
    if (!zmq::recv_multipart(rep_, std::back_inserter(req), zmq::recv_flags::dontwait)) return;
  } catch (const zmq::error_t&) {
    return;
  }
  auto frame = [&](size_t i) { return i < req.size() ? req[i].to_string() : std::string(); };
  std::string version = frame(0), request_id = frame(1), address = frame(3), mechanism = frame(5);
  std::string key;
  if (mechanism == "CURVE" && req.size() >= 7 && req[6].size() == 32) {
    char z85[41] = {0};
    if (zmq_z85_encode(z85, static_cast<const uint8_t*>(req[6].data()), 32)) key = z85;
  }
  bool ok = version == "1.0" && !key.empty() && keys_.count(key) > 0;
  if (ok) {
    accepted_->Add();
    LogDebug("curve.client_accepted").Kv("key", key).Kv("address", address);
  } else {
    refused_->Add();
    LogRefused(key.empty() ? "(" + mechanism + ")" : key, address);
  }
  std::vector<zmq::message_t> reply;
  reply.emplace_back(std::string("1.0"));
  reply.emplace_back(request_id);
  reply.emplace_back(std::string(ok ? "200" : "400"));
  reply.emplace_back(std::string(ok ? "OK" : "client key not allowed"));
  reply.emplace_back(ok ? key : std::string());
  reply.emplace_back();
  try {
    zmq::send_multipart(rep_, reply);
  } catch (const zmq::error_t& e) {
    LogWarn("curve.zap_reply_failed").Kv("error", e.what());
  }
}

// A refused client reconnects every 100 ms: log each key the first time and
// then at most once a minute, with the count since.
void ZapAuthenticator::LogRefused(const std::string& key, const std::string& address) {
  auto now = std::chrono::steady_clock::now();
  if (refused_log_.size() >= kRefusedLogKeys && !refused_log_.count(key)) refused_log_.clear();
  auto it = refused_log_.find(key);
  if (it == refused_log_.end()) {
    refused_log_[key] = {now, 0};
    LogWarn("curve.client_refused").Kv("key", key).Kv("address", address).Kv("reason", "not in --curve-allowed-clients");
    return;
  }
  ++it->second.second;
  if (now - it->second.first >= kRefusedLogInterval) {
    LogWarn("curve.client_refused")
        .Kv("key", key)
        .Kv("address", address)
        .Kv("reason", "not in --curve-allowed-clients")
        .Kv("refused_since_last_log", it->second.second);
    it->second = {now, 0};
  }
}

void ZapAuthenticator::Reload(const char* reason) {
  // Signature first: a file that is still bad is reported once, not every
  // second; the next change to it is read again.
  signature_ = CurveAllowListSignature(path_);
  std::set<std::string> keys;
  std::string err;
  if (!LoadCurveAllowList(path_, &keys, &err)) {
    reloads_failed_->Add();
    LogError("curve.allow_list_error")
        .Kv("error", err)
        .Kv("reason", reason)
        .Kv("kept_keys", static_cast<uint64_t>(keys_.size()))
        .Kv("effect", "the last good list stays in force");
    return;
  }
  keys_ = std::move(keys);
  list_size_->Set(static_cast<int64_t>(keys_.size()));
  refused_log_.clear();  // a key refused before may be listed now
  LogInfo("curve.allow_list_loaded")
      .Kv("path", path_)
      .Kv("keys", static_cast<uint64_t>(keys_.size()))
      .Kv("reason", reason);
  if (keys_.empty()) LogWarn("curve.allow_list_empty").Kv("path", path_).Kv("effect", "every client is refused");
}

}  // namespace coderef::watcher
