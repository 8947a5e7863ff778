#include "common/zmq_util.h"

#include <fstream>
#include <sstream>

namespace coderef {

std::string BindAndResolve(zmq::socket_t& socket, const std::string& endpoint) {
  socket.bind(endpoint);
  return socket.get(zmq::sockopt::last_endpoint);
}

bool SendTopicMessage(zmq::socket_t& socket, const std::string& topic,
                      const google::protobuf::MessageLite& msg) {
  std::string body;
  msg.SerializeToString(&body);
  zmq::message_t t(topic.data(), topic.size());
  zmq::message_t b(body.data(), body.size());
  if (!socket.send(t, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
  return socket.send(b, zmq::send_flags::dontwait).has_value();
}

std::string LoadCurveKey(const std::string& value, std::string* error) {
  // Z85 keys may contain '/', so a 40-character value is a key unless a
  // file of that name exists.
  if (value.size() == 40 && !std::ifstream(value)) return value;
  std::ifstream in(value);
  if (!in) {
    *error = "cannot read key file " + value;
    return "";
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string key;
  for (char c : ss.str()) {
    if (!std::isspace(static_cast<unsigned char>(c))) key += c;
    if (key.size() == 40) break;
  }
  if (key.size() != 40) {
    *error = "key file " + value + " does not hold a 40-character Z85 key";
    return "";
  }
  return key;
}

void ApplyCurveServer(zmq::socket_t& socket, const CurveKeys& keys) {
  if (keys.server_secret.empty()) return;
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, keys.server_secret);
}

void ApplyCurveClient(zmq::socket_t& socket, const CurveKeys& keys) {
  if (keys.server_public.empty()) return;
  socket.set(zmq::sockopt::curve_serverkey, keys.server_public);
  socket.set(zmq::sockopt::curve_publickey, keys.client_public);
  socket.set(zmq::sockopt::curve_secretkey, keys.client_secret);
}

}  // namespace coderef
