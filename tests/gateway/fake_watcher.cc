#include "tests/gateway/fake_watcher.h"

#include <chrono>
#include <stdexcept>
#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace coderef::gateway::testing {
namespace {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int PortOf(const std::string& endpoint) {
  return std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
}

std::string Id(const v1::Item& item) { return Topic(item.kind(), item.project()) + "\n" + item.key(); }

}  // namespace

FakeWatcher::FakeWatcher(std::string epoch, int pub_port, int snapshot_port,
                         std::string curve_secret)
    : pub_port_(pub_port),
      snapshot_port_(snapshot_port),
      curve_secret_(std::move(curve_secret)),
      epoch_(std::move(epoch)) {
  thread_ = std::thread([this] { Run(); });
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return ready_; });
  if (!bind_error_.empty()) {
    lock.unlock();
    thread_.join();
    throw std::runtime_error("FakeWatcher bind: " + bind_error_);
  }
}

FakeWatcher::~FakeWatcher() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void FakeWatcher::SetItems(const std::vector<v1::Item>& items) {
  std::lock_guard<std::mutex> lock(mu_);
  items_.clear();
  for (const auto& item : items) items_[Id(item)] = item;
}

uint64_t FakeWatcher::Change_(Change change, const v1::Item& item, bool send) {
  std::lock_guard<std::mutex> lock(mu_);
  v1::ChangeEvent ev;
  ev.set_epoch(epoch_);
  ev.set_seq(++seq_);
  ev.set_type(EventTypeFor(item.kind(), change));
  ev.set_kind(item.kind());
  ev.set_project(item.project());
  ev.set_file_path(item.file_path());
  ev.set_feature_name(item.feature_name());
  ev.set_location(item.location());
  ev.set_key(item.key());
  ev.set_first_change_us(NowUs() - 1000);
  ev.set_published_us(NowUs());
  if (change == Change::kDeleted) {
    items_.erase(Id(item));
  } else {
    items_[Id(item)] = item;
    *ev.mutable_item() = item;
  }
  if (send) {
    v1::FeedMessage msg;
    *msg.mutable_event() = std::move(ev);
    outbox_.push_back({Topic(item.kind(), item.project()), msg.SerializeAsString()});
  }
  return seq_;
}

uint64_t FakeWatcher::Publish(Change change, const v1::Item& item) {
  return Change_(change, item, true);
}

uint64_t FakeWatcher::Lose(Change change, const v1::Item& item) {
  return Change_(change, item, false);
}

void FakeWatcher::SetHeartbeatMs(int ms) {
  std::lock_guard<std::mutex> lock(mu_);
  heartbeat_ms_ = ms;
}

void FakeWatcher::SetAnswerSnapshots(bool answer) {
  std::lock_guard<std::mutex> lock(mu_);
  answer_ = answer;
}

void FakeWatcher::NewEpoch(const std::string& epoch) {
  std::lock_guard<std::mutex> lock(mu_);
  epoch_ = epoch;
  seq_ = 0;
}

void FakeWatcher::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return outbox_.empty(); });
}

std::string FakeWatcher::epoch() const {
  std::lock_guard<std::mutex> lock(mu_);
  return epoch_;
}

uint64_t FakeWatcher::seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seq_;
}

void FakeWatcher::Run() {
  zmq::context_t ctx(1);
  zmq::socket_t pub(ctx, zmq::socket_type::pub);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  try {
    pub.set(zmq::sockopt::linger, 0);
    pub.set(zmq::sockopt::sndhwm, 0);
    router.set(zmq::sockopt::linger, 0);
    if (!curve_secret_.empty()) {
      for (zmq::socket_t* sock : {&pub, &router}) {
        sock->set(zmq::sockopt::curve_server, 1);
        sock->set(zmq::sockopt::curve_secretkey, curve_secret_);
      }
    }
    pub.bind("tcp://127.0.0.1:" + (pub_port_ ? std::to_string(pub_port_) : std::string("*")));
    router.bind("tcp://127.0.0.1:" +
                (snapshot_port_ ? std::to_string(snapshot_port_) : std::string("*")));
    pub_port_ = PortOf(pub.get(zmq::sockopt::last_endpoint));
    snapshot_port_ = PortOf(router.get(zmq::sockopt::last_endpoint));
  } catch (const zmq::error_t& e) {
    std::lock_guard<std::mutex> lock(mu_);
    bind_error_ = e.what();
    ready_ = true;
    cv_.notify_all();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ready_ = true;
  }
  cv_.notify_all();

  auto last_hb = std::chrono::steady_clock::now();
  std::vector<zmq::message_t> parts;
  while (!stop_) {
    zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(2));
    // Snapshot requests: answered from the state in one go.
    for (;;) {
      parts.clear();
      if (!zmq::recv_multipart(router, std::back_inserter(parts), zmq::recv_flags::dontwait)) break;
      ++snapshot_requests_;
      std::lock_guard<std::mutex> lock(mu_);
      if (!answer_ || parts.size() < 2) continue;
      v1::SnapshotRequest req;
      req.ParseFromArray(parts.back().data(), static_cast<int>(parts.back().size()));
      bool delimiter = parts.size() >= 3 && parts[1].size() == 0;
      // Messages still in the outbox are part of the state already; send
      // them first so PUB order matches seq order (as the real watcher does,
      // being single-threaded).
      for (auto& o : outbox_) {
        zmq::message_t t(o.topic.data(), o.topic.size()), b(o.body.data(), o.body.size());
        pub.send(t, zmq::send_flags::sndmore);
        pub.send(b, zmq::send_flags::none);
      }
      outbox_.clear();
      std::vector<const v1::Item*> all;
      for (const auto& [id, item] : items_)
        if (req.prefix().empty() || id.compare(0, req.prefix().size(), req.prefix()) == 0)
          all.push_back(&item);
      const size_t per_chunk = 2;
      size_t chunks = std::max<size_t>(1, (all.size() + per_chunk - 1) / per_chunk);
      for (size_t c = 0; c < chunks; ++c) {
        v1::SnapshotChunk chunk;
        chunk.set_request_id(req.request_id());
        chunk.set_epoch(epoch_);
        chunk.set_seq(seq_);
        chunk.set_chunk_index(static_cast<uint32_t>(c));
        chunk.set_last(c + 1 == chunks);
        chunk.set_total_items(all.size());
        for (size_t i = c * per_chunk; i < all.size() && i < (c + 1) * per_chunk; ++i)
          *chunk.add_items() = *all[i];
        std::string body = chunk.SerializeAsString();
        zmq::message_t id(parts[0].data(), parts[0].size());
        router.send(id, zmq::send_flags::sndmore);
        if (delimiter) router.send(zmq::message_t(), zmq::send_flags::sndmore);
        zmq::message_t b(body.data(), body.size());
        router.send(b, zmq::send_flags::none);
      }
    }
    std::deque<Outgoing> out;
    int hb_ms;
    std::string epoch;
    uint64_t seq;
    {
      std::lock_guard<std::mutex> lock(mu_);
      out.swap(outbox_);
      hb_ms = heartbeat_ms_;
      epoch = epoch_;
      seq = seq_;
    }
    for (auto& o : out) {
      zmq::message_t t(o.topic.data(), o.topic.size()), b(o.body.data(), o.body.size());
      pub.send(t, zmq::send_flags::sndmore);
      pub.send(b, zmq::send_flags::none);
    }
    cv_.notify_all();
    auto now = std::chrono::steady_clock::now();
    if (hb_ms > 0 && now - last_hb >= std::chrono::milliseconds(hb_ms)) {
      last_hb = now;
      v1::FeedMessage msg;
      msg.mutable_heartbeat()->set_epoch(epoch);
      msg.mutable_heartbeat()->set_seq(seq);
      msg.mutable_heartbeat()->set_sent_us(NowUs());
      msg.mutable_heartbeat()->set_interval_ms(static_cast<uint32_t>(hb_ms));
      std::string body = msg.SerializeAsString();
      pub.send(zmq::buffer(std::string_view(kHeartbeatTopic)), zmq::send_flags::sndmore);
      pub.send(zmq::message_t(body.data(), body.size()), zmq::send_flags::none);
    }
  }
  cv_.notify_all();
}

}  // namespace coderef::gateway::testing
