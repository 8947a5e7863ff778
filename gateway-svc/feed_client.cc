#include "gateway-svc/feed_client.h"

#include <zmq.h>

#include <zmq_addon.hpp>

#include <algorithm>
#include <optional>

#include "common/log.h"

namespace coderef::gateway {
namespace {

constexpr int kMaxPollMs = 100;
constexpr int kMaxMessagesPerRound = 2000;

void ApplyCommon(zmq::socket_t& s, const CurveKeys& curve) {
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::reconnect_ivl, 100);
  s.set(zmq::sockopt::reconnect_ivl_max, 2000);
  ApplyCurveClient(s, curve);
}

}  // namespace

FeedClient::FeedClient(FeedClientOptions options, Sink sink, GatewayMetrics* metrics,
                       const Clock* clock)
    : options_(std::move(options)), sink_(std::move(sink)), metrics_(metrics), clock_(clock) {
  if (!options_.curve.server_public.empty() &&
      (options_.curve.client_public.empty() || options_.curve.client_secret.empty())) {
    // CURVE needs a client key pair; an ephemeral one is fine when the
    // server does not authenticate clients by key.
    char pub[41], sec[41];
    if (zmq_curve_keypair(pub, sec) == 0) {
      options_.curve.client_public = pub;
      options_.curve.client_secret = sec;
    }
  }
}

FeedClient::~FeedClient() { Stop(); }

void FeedClient::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void FeedClient::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void FeedClient::FetchHistory(std::string epoch, uint64_t after_seq, uint64_t until_seq,
                              HistoryCallback done) {
  std::lock_guard<std::mutex> lock(fetch_mu_);
  fetch_inbox_.push_back({std::move(epoch), after_seq, until_seq, std::move(done)});
}

void FeedClient::Run() {
  // A ZeroMQ error (should not happen once flags are validated) must not
  // leave the gateway without a feed: report the watcher down and start over.
  while (!stop_.load()) {
    try {
      RunOnce();
      return;
    } catch (const zmq::error_t& e) {
      LogError("feed.failed")
          .Kv("error", e.what())
          .Kv("reason", "ZeroMQ error in the feed thread; restarting it in 1 s");
      FeedUpdate down;
      down.type = FeedUpdate::Type::kWatcherDown;
      std::vector<FeedUpdate> updates;
      updates.push_back(std::move(down));
      sink_(std::move(updates));
    }
    for (int i = 0; i < 10 && !stop_.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

bool FeedClient::RecvChunk(zmq::socket_t& dealer, std::vector<zmq::message_t>* parts,
                           v1::SnapshotChunk* chunk) {
  for (;;) {
    parts->clear();
    auto got = zmq::recv_multipart(dealer, std::back_inserter(*parts), zmq::recv_flags::dontwait);
    if (!got) return false;
    // Skip an empty delimiter frame if the ROUTER echoed one.
    const zmq::message_t* body = nullptr;
    for (const auto& p : *parts)
      if (p.size() > 0) body = &p;
    if (!body && !parts->empty()) body = &parts->back();
    if (body && chunk->ParseFromArray(body->data(), static_cast<int>(body->size()))) return true;
    if (metrics_) metrics_->feed_decode_errors->Add();
    LogWarn("snapshot.bad_chunk").Kv("reason", "not a SnapshotChunk; ignored");
  }
}

void FeedClient::SendHistoryRequests(HistoryFetcher& fetcher, zmq::socket_t& dealer) {
  std::vector<FetchRequest> inbox;
  {
    std::lock_guard<std::mutex> lock(fetch_mu_);
    inbox.swap(fetch_inbox_);
  }
  for (auto& f : inbox) fetcher.Fetch(f.epoch, f.after_seq, f.until_seq, std::move(f.done));
  v1::SnapshotRequest req;
  while (fetcher.TakeRequest(&req)) {
    std::string body = req.SerializeAsString();
    if (!dealer.send(zmq::buffer(body), zmq::send_flags::dontwait))
      LogWarn("history.send_failed").Kv("request_id", req.request_id()).Kv("reason", "no peer; fails on timeout");
  }
}

void FeedClient::RunOnce() {
  {
    zmq::context_t ctx(1);
    zmq::socket_t sub(ctx, zmq::socket_type::sub);
    ApplyCommon(sub, options_.curve);
    sub.set(zmq::sockopt::rcvhwm, options_.rcvhwm);
    sub.set(zmq::sockopt::subscribe, "");
    sub.connect(options_.feed_endpoint);

    auto make_dealer = [&] {
      zmq::socket_t d(ctx, zmq::socket_type::dealer);
      ApplyCommon(d, options_.curve);
      d.set(zmq::sockopt::rcvhwm, 0);
      d.connect(options_.snapshot_endpoint);
      return d;
    };
    zmq::socket_t dealer = make_dealer();
    zmq::socket_t history_dealer = make_dealer();
    HistoryFetcher fetcher(clock_, options_.sync.snapshot_timeout_ms);

    CloneSync sync(options_.sync, clock_, metrics_);
    sync.Start();
    LogInfo("feed.connecting")
        .Kv("feed", options_.feed_endpoint)
        .Kv("snapshot", options_.snapshot_endpoint)
        .Kv("curve", !options_.curve.server_public.empty());

    std::vector<zmq::message_t> parts;
    while (!stop_.load(std::memory_order_relaxed)) {
      v1::SnapshotRequest req;
      bool reset = false;
      if (sync.TakeRequest(&req, &reset)) {
        if (reset) dealer = make_dealer();
        std::string body = req.SerializeAsString();
        zmq::message_t m(body.data(), body.size());
        if (!dealer.send(m, zmq::send_flags::dontwait)) {
          LogWarn("snapshot.send_failed")
              .Kv("request_id", req.request_id())
              .Kv("reason", "DEALER queue full or no peer; will retry on timeout");
        }
      }

      SendHistoryRequests(fetcher, history_dealer);

      int timeout = static_cast<int>(
          std::min<int64_t>(kMaxPollMs, sync.TimeUntilNextTick().count()));
      zmq::pollitem_t items[] = {{sub.handle(), 0, ZMQ_POLLIN, 0},
                                 {dealer.handle(), 0, ZMQ_POLLIN, 0},
                                 {history_dealer.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 3, std::chrono::milliseconds(std::max(timeout, 1)));

      for (int n = 0; n < kMaxMessagesPerRound; ++n) {
        parts.clear();
        auto got = zmq::recv_multipart(sub, std::back_inserter(parts), zmq::recv_flags::dontwait);
        if (!got) break;
        int64_t now_us = clock_->UnixMicros();
        v1::FeedMessage msg;
        if (parts.size() < 2 || !msg.ParseFromArray(parts.back().data(),
                                                     static_cast<int>(parts.back().size()))) {
          if (metrics_) metrics_->feed_decode_errors->Add();
          LogWarn("feed.bad_message")
              .Kv("frames", static_cast<uint64_t>(parts.size()))
              .Kv("reason", "not [topic, FeedMessage]; ignored");
          continue;
        }
        sync.OnFeedMessage(std::move(msg), now_us);
      }
      v1::SnapshotChunk chunk;
      while (RecvChunk(dealer, &parts, &chunk)) sync.OnSnapshotChunk(std::move(chunk));
      while (RecvChunk(history_dealer, &parts, &chunk)) fetcher.OnChunk(std::move(chunk));
      sync.Tick();
      fetcher.Tick();
      std::vector<FeedUpdate> updates = sync.TakeUpdates();
      if (!updates.empty()) sink_(std::move(updates));
    }
  }
}

}  // namespace coderef::gateway
