// GatewayMetrics: every metric the gateway exports, registered once at
// start-up (names prefixed coderef_gateway_). Metric values are atomics, so
// the feed thread and the io thread may both bump them.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/metrics.h"
#include "gateway-svc/resume.h"

namespace coderef::gateway {

// A counter family with one label ("reason"), rendered by GatewayMetrics.
struct LabeledCounter {
  std::string name, help, label;
  std::vector<std::pair<std::string, Metric*>> values;
};

class GatewayMetrics {
 public:
  GatewayMetrics();
  GatewayMetrics(const GatewayMetrics&) = delete;
  GatewayMetrics& operator=(const GatewayMetrics&) = delete;

  // Prometheus text of everything.
  std::string Render() const;

  Metric* clients;              // open WebSocket connections
  Metric* connections_total;    // WebSocket connections opened
  Metric* events_in;            // events applied from the feed
  Metric* events_out;           // frames sockets took whole (events + control)
  Metric* bytes_out;            // bytes sockets took
  Metric* writes_direct;        // sendmsg calls the socket took whole
  Metric* writes_queued;        // times a client waited for its socket to drain
  Metric* writes_partial;       // sendmsg calls the socket took only part of (or none)
  Metric* snapshots;            // snapshots applied
  Metric* feed_gaps;            // seq gaps seen on the feed
  Metric* feed_decode_errors;   // undecodable feed messages
  Metric* stuck_client_disconnects;  // socket took nothing for --stuck-ms
  Metric* dropped_clients;      // connections closed by the gateway (any reason)
  Metric* replayed_events;      // events sent from history on resume
  Metric* history_fetches;      // ranges requested from the watcher's history
  Metric* history_fetch_failures;  // of those: gone, other epoch, timeout
  Metric* history_fetch_shared;    // clients served by a range another client fetched
  Metric* accept_errors;        // failed accept() calls (EMFILE, ...)
  Metric* http_requests;
  Metric* tcp_connections;      // accepted; with http_requests: keep-alive reuse
  Metric* feed_lag_ms;          // published_us -> receipt of the last event
  Metric* replica_items;
  Metric* watcher_up;           // 1 up, 0 down or unknown
  Metric* seq;                  // replica seq
  Metric* history_size;

  Metric* Resync(ResyncReason r) { return resyncs_[static_cast<size_t>(r)]; }
  Metric* Rejected(std::string_view reason);  // origin, token, max_clients, bad_request

 private:
  MetricsRegistry registry_;
  std::array<Metric, 3> resync_storage_;
  std::array<Metric*, 3> resyncs_;
  std::array<Metric, 5> rejected_storage_;
  LabeledCounter resync_family_, rejected_family_;
};

}  // namespace coderef::gateway
