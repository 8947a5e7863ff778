// ZeroMQ helpers: binding with endpoint read-back, the feed's two-frame
// messages, optional CURVE security. Sockets are not thread-safe: each socket
// is used by the one thread that owns it.
#pragma once

#include <google/protobuf/message_lite.h>

#include <string>
#include <zmq.hpp>

namespace coderef {

// Binds `socket` to `endpoint` and returns the endpoint actually bound
// (resolves "tcp://127.0.0.1:*" to the chosen port). Throws zmq::error_t.
std::string BindAndResolve(zmq::socket_t& socket, const std::string& endpoint);

// Sends [topic, serialized message]. Returns false when the message could
// not be queued (e.g. ZMQ_DONTWAIT on a full pipe); PUB never blocks.
bool SendTopicMessage(zmq::socket_t& socket, const std::string& topic,
                      const google::protobuf::MessageLite& msg);

// CURVE keys (Z85, 40 chars). Empty strings mean "no CURVE".
struct CurveKeys {
  std::string server_public;
  std::string server_secret;  // server side only
  std::string client_public;  // client side only
  std::string client_secret;  // client side only
};

// Reads a Z85 key from `value`: either the 40-char key itself or a path to a
// file whose first 40 non-space characters are the key. Empty on error
// (with *error set).
std::string LoadCurveKey(const std::string& value, std::string* error);

// Applies CURVE server options when keys.server_secret is set.
void ApplyCurveServer(zmq::socket_t& socket, const CurveKeys& keys);
// Applies CURVE client options when keys.server_public is set.
void ApplyCurveClient(zmq::socket_t& socket, const CurveKeys& keys);

}  // namespace coderef
