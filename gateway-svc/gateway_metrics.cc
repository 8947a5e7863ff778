#include "gateway-svc/gateway_metrics.h"

namespace coderef::gateway {
namespace {
constexpr const char* kRejectReasons[] = {"origin", "token", "max_clients", "bad_request",
                                          "not_found"};
}  // namespace

GatewayMetrics::GatewayMetrics() {
  MetricsRegistry& r = registry_;
  clients = r.Gauge("coderef_gateway_clients", "Open WebSocket connections.");
  connections_total =
      r.Counter("coderef_gateway_connections_total", "WebSocket connections opened.");
  events_in = r.Counter("coderef_gateway_events_in_total", "Feed events applied to the replica.");
  events_out = r.Counter("coderef_gateway_events_out_total",
                         "Frames WebSocket clients' sockets took (events and control messages).");
  bytes_out = r.Counter("coderef_gateway_bytes_out_total", "Bytes WebSocket clients' sockets took.");
  writes_direct = r.Counter("coderef_gateway_writes_direct_total",
                            "sendmsg calls (up to 64 frames each) the socket took whole.");
  writes_queued = r.Counter("coderef_gateway_writes_queued_total",
                            "Times a client waited for its full socket to drain (its frames "
                            "stay in the history until then).");
  writes_partial = r.Counter("coderef_gateway_writes_partial_total",
                             "sendmsg calls the socket took only part of, or nothing.");
  snapshots = r.Counter("coderef_gateway_snapshots_total", "Snapshots applied.");
  feed_gaps = r.Counter("coderef_gateway_feed_gaps_total",
                        "Seq gaps detected on the feed (each triggers a snapshot).");
  feed_decode_errors = r.Counter("coderef_gateway_feed_decode_errors_total",
                                 "Feed or snapshot messages that did not decode.");
  stuck_client_disconnects =
      r.Counter("coderef_gateway_stuck_client_disconnects_total",
                "Clients closed (4000) because their socket took nothing for --stuck-ms while "
                "data waited. Slow readers are never disconnected.");
  dropped_clients = r.Counter("coderef_gateway_dropped_clients_total",
                              "Connections closed by the gateway (stuck, pong timeout, flood, "
                              "bad frames).");
  replayed_events =
      r.Counter("coderef_gateway_replayed_events_total", "Events replayed from history.");
  history_fetches = r.Counter("coderef_gateway_history_fetches_total",
                              "Ranges older than the gateway's history requested from the "
                              "watcher's history (one per range, however many clients need it).");
  history_fetch_failures =
      r.Counter("coderef_gateway_history_fetch_failures_total",
                "History fetches the watcher could not serve (gone, other epoch) or did not "
                "answer in time; their clients got resync_required(history_gap).");
  history_fetch_shared = r.Counter(
      "coderef_gateway_history_fetch_shared_total",
      "Clients served by a history range fetched for another client (no request of their own).");
  accept_errors = r.Counter("coderef_gateway_accept_errors_total",
                            "accept() failures (e.g. EMFILE); the accept loop backs off.");
  http_requests = r.Counter("coderef_gateway_http_requests_total", "HTTP requests served.");
  tcp_connections = r.Counter("coderef_gateway_tcp_connections_total",
                              "TCP connections accepted (HTTP, upgraded or not).");
  feed_lag_ms = r.Gauge("coderef_gateway_feed_lag_ms",
                        "Milliseconds from the watcher publishing the last event to its receipt.");
  replica_items = r.Gauge("coderef_gateway_replica_items", "Items in the replica.");
  watcher_up = r.Gauge("coderef_gateway_watcher_up", "1 while the watcher's heartbeat is live.");
  seq = r.Gauge("coderef_gateway_seq", "Seq of the replica state.");
  history_size = r.Gauge("coderef_gateway_history_size", "Events held for resume.");
  r.GaugeFn("coderef_gateway_process_resident_memory_bytes", "Resident set size.",
            [] { return static_cast<double>(ProcessRssBytes()); });
  r.GaugeFn("coderef_gateway_process_cpu_seconds", "User+system CPU seconds.",
            [] { return ProcessCpuSeconds(); });

  resync_family_ = {"coderef_gateway_resyncs_total",
                    "resync_required messages sent to clients, by reason.", "reason", {}};
  for (size_t i = 0; i < resyncs_.size(); ++i) {
    resyncs_[i] = &resync_storage_[i];
    resync_family_.values.emplace_back(
        std::string(ResyncReasonName(static_cast<ResyncReason>(i))), resyncs_[i]);
  }
  rejected_family_ = {"coderef_gateway_rejected_upgrades_total",
                      "WebSocket upgrades refused, by reason.", "reason", {}};
  for (size_t i = 0; i < rejected_storage_.size(); ++i)
    rejected_family_.values.emplace_back(kRejectReasons[i], &rejected_storage_[i]);
}

Metric* GatewayMetrics::Rejected(std::string_view reason) {
  for (size_t i = 0; i < rejected_storage_.size(); ++i)
    if (reason == kRejectReasons[i]) return &rejected_storage_[i];
  return &rejected_storage_[3];
}

std::string GatewayMetrics::Render() const {
  std::string out = registry_.Render();
  for (const LabeledCounter* f : {&resync_family_, &rejected_family_}) {
    out += "# HELP " + f->name + " " + f->help + "\n";
    out += "# TYPE " + f->name + " counter\n";
    for (const auto& [value, metric] : f->values)
      out += f->name + "{" + f->label + "=\"" + value + "\"} " + std::to_string(metric->Get()) +
             "\n";
  }
  return out;
}

}  // namespace coderef::gateway
