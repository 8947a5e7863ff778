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

    CloneSync sync(options_.sync, clock_, metrics_);
    sync.Start();
    LogInfo("feed.connecting")
        .Kv("feed", options_.feed_endpoint)
        .Kv("snapshot", options_.snapshot_endpoint)
        .Kv("curve", !options_.curve.server_public.empty());

    std::vector<zmq::message_t> parts;
    while (!stop_.load(std::memory_order_relaxed)) {
      std::string request_id;
      bool reset = false;
      if (sync.TakeRequest(&request_id, &reset)) {
        if (reset) dealer = make_dealer();
        v1::SnapshotRequest req;
        req.set_request_id(request_id);
        std::string body = req.SerializeAsString();
        zmq::message_t m(body.data(), body.size());
        if (!dealer.send(m, zmq::send_flags::dontwait)) {
          LogWarn("snapshot.send_failed")
              .Kv("request_id", request_id)
              .Kv("reason", "DEALER queue full or no peer; will retry on timeout");
        }
      }

      int timeout = static_cast<int>(
          std::min<int64_t>(kMaxPollMs, sync.TimeUntilNextTick().count()));
      zmq::pollitem_t items[] = {{sub.handle(), 0, ZMQ_POLLIN, 0},
                                 {dealer.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 2, std::chrono::milliseconds(std::max(timeout, 1)));

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
      for (;;) {
        parts.clear();
        auto got =
            zmq::recv_multipart(dealer, std::back_inserter(parts), zmq::recv_flags::dontwait);
        if (!got) break;
        // Skip an empty delimiter frame if the ROUTER echoed one.
        const zmq::message_t* body = nullptr;
        for (const auto& p : parts)
          if (p.size() > 0) body = &p;
        v1::SnapshotChunk chunk;
        if (!body && !parts.empty()) body = &parts.back();
        if (!body || !chunk.ParseFromArray(body->data(), static_cast<int>(body->size()))) {
          if (metrics_) metrics_->feed_decode_errors->Add();
          LogWarn("snapshot.bad_chunk").Kv("reason", "not a SnapshotChunk; ignored");
          continue;
        }
        sync.OnSnapshotChunk(std::move(chunk));
      }
      sync.Tick();
      std::vector<FeedUpdate> updates = sync.TakeUpdates();
      if (!updates.empty()) sink_(std::move(updates));
    }
  }
}

}  // namespace coderef::gateway
