#include "gateway-svc/gateway_flags.h"

#include <zmq.hpp>

#include "common/flags.h"
#include "gateway-svc/access.h"

namespace coderef::gateway {
namespace {

bool ValidEndpoint(const std::string& ep) {
  if (ep.rfind("tcp://", 0) != 0 && ep.rfind("ipc://", 0) != 0) return false;
  // Let ZeroMQ judge the syntax (connect does not need a peer).
  try {
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::sub);
    s.set(zmq::sockopt::linger, 0);
    s.connect(ep);
    return true;
  } catch (const zmq::error_t&) {
    return false;
  }
}

// Lets ZeroMQ check the keys (Z85 syntax) before the feed thread uses them.
bool ValidCurveKeys(const CurveKeys& keys) {
  try {
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::sub);
    s.set(zmq::sockopt::linger, 0);
    ApplyCurveClient(s, keys);
    return true;
  } catch (const zmq::error_t&) {
    return false;
  }
}

}  // namespace

int ParseGatewayFlags(int argc, const char* const* argv, GatewayFlags* out, std::string* error) {
  GatewayOptions& o = out->options;
  FlagSet flags("coderef-live gateway: replica, REST read API and WebSocket fan-out",
                "GATEWAY_");
  std::string listen = o.listen_host + ":" + std::to_string(o.listen_port);
  std::vector<std::string> origins;
  int64_t max_queue_bytes = static_cast<int64_t>(o.max_queue_bytes);
  int64_t history = static_cast<int64_t>(o.history);
  std::string log_format = "text", log_level = "info";
  std::string curve_server, curve_public, curve_secret;

  flags.Add("feed", o.feed, "ZeroMQ endpoint of the watcher's PUB socket");
  flags.Add("snapshot", o.snapshot, "ZeroMQ endpoint of the watcher's snapshot ROUTER");
  flags.Add("listen", listen, "HTTP/WebSocket address host:port (port 0: any free port)");
  flags.Add("port-file", o.port_file, "write the bound port to this file");
  flags.Add("static-dir", o.static_dir, "serve the dashboard from this directory");
  flags.Add("token", o.token, "require this token on every request");
  flags.Add("allowed-origin", origins,
            "extra allowed WebSocket Origin (repeatable, comma-separated; '*' = any)")
      ->delimiter(',');
  flags.Add("max-clients", o.max_clients, "WebSocket clients before upgrades get 503");
  flags.Add("max-queue-bytes", max_queue_bytes,
            "bytes a client is handed per write and may have queued; past it the client goes on "
            "from the history as its socket drains (slow readers are never disconnected)");
  flags.Add("ping-ms", o.ping_ms, "interval of app-level and WebSocket pings");
  flags.Add("pong-timeout-ms", o.pong_timeout_ms,
            "close a client that answers no ping by then (and whose socket took nothing since)");
  flags.Add("stuck-ms", o.stuck_ms,
            "close (4000) a client whose socket takes nothing this long while data waits");
  flags.Add("history", history, "events kept for gap-free resume");
  flags.Add("watcher-timeout-ms", o.watcher_timeout_ms,
            "heartbeat silence after which the watcher counts as down");
  flags.Add("handshake-timeout-ms", o.handshake_timeout_ms,
            "drop connections that do not finish an HTTP request/upgrade by then");
  flags.Add("http-idle-timeout-ms", o.http_idle_timeout_ms,
            "close a persistent HTTP connection idle this long");
  flags.Add("close-timeout-ms", o.close_timeout_ms,
            "cut off a peer that does not answer a close frame by then");
  flags.Add("gateway-id", o.gateway_id, "name in hello messages (default hostname:port)");
  flags.Add("max-open-files", o.max_open_files,
            "RLIMIT_NOFILE soft limit (0: raise to the hard limit)");
  flags.Add("log-format", log_format, "text or json");
  flags.Add("log-level", log_level, "debug, info, warn or error");
  flags.Add("curve-server-key", curve_server, "watcher's CURVE public key (Z85 or key file)");
  flags.Add("curve-public-key", curve_public, "our CURVE public key (Z85 or key file)");
  flags.Add("curve-secret-key", curve_secret, "our CURVE secret key (Z85 or key file)");

  int rc = flags.Parse(argc, argv, error);
  if (rc != 0) return rc;

  auto fail = [&](const std::string& flag, const std::string& msg) {
    *error = "--" + flag + ": " + msg;
    return 2;
  };
  if (!ParseHostPort(listen, &o.listen_host, &o.listen_port))
    return fail("listen", "expected host:port, got \"" + listen + "\"");
  if (!ValidEndpoint(o.feed)) return fail("feed", "not a ZeroMQ endpoint: " + o.feed);
  if (!ValidEndpoint(o.snapshot)) return fail("snapshot", "not a ZeroMQ endpoint: " + o.snapshot);
  if (o.max_clients < 1) return fail("max-clients", "must be at least 1");
  if (max_queue_bytes < 1024) return fail("max-queue-bytes", "must be at least 1024");
  o.max_queue_bytes = static_cast<size_t>(max_queue_bytes);
  if (o.ping_ms < 10) return fail("ping-ms", "must be at least 10");
  if (o.pong_timeout_ms < 10) return fail("pong-timeout-ms", "must be at least 10");
  if (o.stuck_ms < 10) return fail("stuck-ms", "must be at least 10");
  if (history < 0 || history > 10'000'000) return fail("history", "must be 0..10000000");
  o.history = static_cast<size_t>(history);
  if (o.watcher_timeout_ms < 10) return fail("watcher-timeout-ms", "must be at least 10");
  if (o.handshake_timeout_ms < 10) return fail("handshake-timeout-ms", "must be at least 10");
  if (o.close_timeout_ms < 10) return fail("close-timeout-ms", "must be at least 10");
  if (o.http_idle_timeout_ms < 10) return fail("http-idle-timeout-ms", "must be at least 10");
  if (o.max_open_files < 0) return fail("max-open-files", "must be >= 0");
  if (!ParseLogFormat(log_format, &out->log_format))
    return fail("log-format", "expected text or json, got \"" + log_format + "\"");
  if (!ParseLogLevel(log_level, &out->log_level))
    return fail("log-level", "expected debug, info, warn or error, got \"" + log_level + "\"");
  o.allowed_origins = SplitList(origins);

  if (!curve_server.empty() || !curve_public.empty() || !curve_secret.empty()) {
    if (curve_server.empty())
      return fail("curve-server-key", "required when client CURVE keys are given");
    std::string err;
    o.curve.server_public = LoadCurveKey(curve_server, &err);
    if (o.curve.server_public.empty()) return fail("curve-server-key", err);
    if (curve_public.empty() != curve_secret.empty())
      return fail(curve_public.empty() ? "curve-public-key" : "curve-secret-key",
                  "give both client keys, or neither (an ephemeral pair is generated)");
    if (!curve_public.empty()) {
      o.curve.client_public = LoadCurveKey(curve_public, &err);
      if (o.curve.client_public.empty()) return fail("curve-public-key", err);
      o.curve.client_secret = LoadCurveKey(curve_secret, &err);
      if (o.curve.client_secret.empty()) return fail("curve-secret-key", err);
    }
    CurveKeys check = o.curve;
    if (check.client_public.empty()) {
      // The feed generates an ephemeral pair; any valid pair checks the server key.
      check.client_public = check.server_public;
      check.client_secret = check.server_public;
    }
    if (!ValidCurveKeys(check))
      return fail("curve-server-key", "not a valid Z85 CURVE key (or the client keys are not)");
  }
  return 0;
}

}  // namespace coderef::gateway
