// GatewayOptions: the gateway's configuration, one field per flag
// (see ParseGatewayFlags and docs/PROTOCOL.md section 3). Each default
// carries its reason.
#pragma once

#include <string>
#include <vector>

#include "common/zmq_util.h"

namespace coderef::gateway {

struct GatewayOptions {
  std::string feed = "tcp://127.0.0.1:5556";      // the watcher's PUB
  std::string snapshot = "tcp://127.0.0.1:5557";  // the watcher's snapshot ROUTER
  std::string listen_host = "127.0.0.1";          // loopback unless told otherwise
  int listen_port = 8000;                         // 0: pick a free port (logged)
  std::string port_file;                          // write the bound port here
  std::string static_dir;                         // the dashboard
  std::string token;                              // required on every request when set
  std::vector<std::string> allowed_origins;       // beyond own host and localhost
  int max_clients = 10000;            // WebSocket connections; past it upgrades get 503
  size_t max_queue_bytes = 1 << 20;   // bytes per client per write / queued control frames
  int stuck_ms = 15000;               // socket takes nothing this long while data waits: 4000
  int ping_ms = 30000;                // app-level and WebSocket pings
  int pong_timeout_ms = 10000;        // no answer to a ping: close 1008
  size_t history = 10000;             // events kept for resume
  int watcher_timeout_ms = 3000;      // heartbeat silence that means watcher down
  int handshake_timeout_ms = 5000;    // a connection must finish its request by then
  int close_timeout_ms = 1000;        // a peer that does not answer a close is cut off
  // An idle persistent HTTP connection is closed after this: longer than
  // nginx's upstream keepalive_timeout (60 s), so a proxy closes first and
  // never reuses a connection the gateway is closing.
  int http_idle_timeout_ms = 75000;
  std::string gateway_id;             // default hostname:port
  int max_open_files = 0;             // test knob: RLIMIT_NOFILE soft limit (0: raise to hard)
  CurveKeys curve;                    // client keys for the feed (server_public set: CURVE on)
};

}  // namespace coderef::gateway
