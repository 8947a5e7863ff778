#include "gateway-svc/http_codec.h"

#include <cctype>
#include <string_view>

#include "common/text.h"
#include "gateway-svc/json_writer.h"
#include "gateway-svc/ws_protocol.h"

namespace coderef::gateway {
namespace {

// Whether the comma-separated header `value` lists `token` (any case).
bool HasToken(std::string_view value, std::string_view token) {
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t comma = value.find(',', pos);
    std::string_view item = value.substr(pos, comma == std::string_view::npos ? value.npos : comma - pos);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.size() == token.size()) {
      bool same = true;
      for (size_t i = 0; i < item.size() && same; ++i)
        same = std::tolower(static_cast<unsigned char>(item[i])) ==
               std::tolower(static_cast<unsigned char>(token[i]));
      if (same) return true;
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return false;
}

bool AllDigits(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

HttpRequestParser::HttpRequestParser() = default;
HttpRequestParser::~HttpRequestParser() = default;

size_t HttpRequestParser::Feed(const char* data, size_t size) {
  if (state_ != State::kIdle && state_ != State::kPartial) return 0;
  size_t skipped = 0;
  if (state_ == State::kIdle) {
    // Line breaks between requests are ignored (RFC 9112 section 2.2).
    while (skipped < size && (data[skipped] == '\r' || data[skipped] == '\n')) ++skipped;
    data += skipped;
    size -= skipped;
  }
  if (size == 0) return skipped;
  if (!parsed_) {
    parsed_ = std::make_unique<HttpParserRequest>();
    parsed_->set_max_body_size(kMaxBody);
  }
  state_ = State::kPartial;
  size_t used = 0;
  try {
    used = parsed_->consume(data, size);
  } catch (const websocketpp::http::exception& e) {
    Fail(static_cast<int>(e.m_error_code), e.m_msg);
    return skipped + size;
  }
  if (parsed_->ready()) Finish();
  return skipped + used;
}

void HttpRequestParser::Finish() {
  const HttpParserRequest& r = *parsed_;
  const std::string& version = r.get_version();
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    Fail(505, "HTTP version not supported: " + version.substr(0, 16));
    return;
  }
  if (!r.get_header("Transfer-Encoding").empty()) {
    Fail(501, "Transfer-Encoding is not supported");
    return;
  }
  const std::string& length = r.get_header("Content-Length");
  if (!length.empty() && !AllDigits(length)) {
    Fail(400, "bad Content-Length");
    return;
  }
  HttpRequest& q = request_;
  q = HttpRequest();
  q.method = r.get_method();
  q.target = r.get_uri();
  q.authorization = r.get_header("Authorization");
  q.token_header = r.get_header("X-Coderef-Token");
  q.cookie = r.get_header("Cookie");
  q.origin = r.get_header("Origin");
  q.host = r.get_header("Host");
  const std::string& connection = r.get_header("Connection");
  q.keep_alive = version == "HTTP/1.1" ? !HasToken(connection, "close")
                                        : HasToken(connection, "keep-alive");
  q.websocket_upgrade = websocketpp::processor::is_websocket_handshake(*parsed_);
  state_ = State::kReady;
}

void HttpRequestParser::Fail(int status, std::string error) {
  state_ = State::kError;
  error_status_ = status;
  error_ = std::move(error);
}

void HttpRequestParser::Reset() {
  parsed_.reset();
  request_ = HttpRequest();
  state_ = State::kIdle;
  error_status_ = 0;
  error_.clear();
}

std::string SerializeResponse(const HttpResponse& response, bool keep_alive, bool head) {
  HttpParserResponse r;
  r.set_version("HTTP/1.1");
  r.set_status(static_cast<websocketpp::http::status_code::value>(response.status));
  r.replace_header("Server", "coderef-gateway");
  if (response.status == 101) {
    for (const auto& [k, v] : response.headers) r.replace_header(k, v);
    return r.raw();
  }
  r.replace_header("Content-Type", response.content_type);
  r.replace_header("Connection", keep_alive ? "keep-alive" : "close");
  for (const auto& [k, v] : response.headers) r.replace_header(k, v);
  // websocketpp's set_body drops Content-Length for an empty body, but a
  // persistent connection needs it to find the end of every answer.
  if (!head) r.set_body(response.body);
  r.replace_header("Content-Length", std::to_string(response.body.size()));
  return r.raw();
}

HttpResponse HttpErrorResponse(int status, std::string_view message) {
  HttpResponse resp;
  resp.status = status;
  JsonWriter w(&resp.body);
  w.BeginObject();
  w.Str("error", message);
  w.EndObject();
  return resp;
}

}  // namespace coderef::gateway
