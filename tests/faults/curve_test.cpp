// CURVE on the feed: the watcher with a server secret key (from the
// environment), subscribers and gateways with and without the server's
// public key (from a key file). A subscriber without the key, or with a
// wrong one, receives nothing: no heartbeat, no event, no snapshot.
#include <zmq.h>

#include "tests/faults/fault_harness.h"

namespace coderef::faults {
namespace {

struct KeyPair {
  std::string pub, sec;
};

// A fresh key pair. Z85 keys may contain '/', which LoadCurveKey
// (common/zmq_util.cc) takes for a file path when the key is given inline:
// drawn again until neither key has one (see the report; keys in files are
// not affected).
KeyPair NewKeyPair() {
  for (int i = 0; i < 1000; ++i) {
    char pub[41] = {0}, sec[41] = {0};
    if (zmq_curve_keypair(pub, sec) != 0) return {};
    KeyPair k{pub, sec};
    if (k.pub.find('/') == std::string::npos && k.sec.find('/') == std::string::npos) return k;
  }
  return {};
}

// A raw subscriber and snapshot client with optional CURVE client keys.
class Subscriber {
 public:
  Subscriber(const std::string& pub, const std::string& snapshot, const std::string& server_key,
             const KeyPair& client)
      : sub_(ctx_, zmq::socket_type::sub), dealer_(ctx_, zmq::socket_type::dealer) {
    for (zmq::socket_t* s : {&sub_, &dealer_}) {
      s->set(zmq::sockopt::linger, 0);
      if (!server_key.empty()) {
        s->set(zmq::sockopt::curve_serverkey, server_key);
        s->set(zmq::sockopt::curve_publickey, client.pub);
        s->set(zmq::sockopt::curve_secretkey, client.sec);
      }
    }
    sub_.set(zmq::sockopt::subscribe, "");
    sub_.connect(pub);
    dealer_.connect(snapshot);
  }
  // Messages received within the window (heartbeats and events).
  int Receive(std::chrono::milliseconds window) {
    int n = 0;
    auto end = Clock::now() + window;
    while (Clock::now() < end) {
      zmq::pollitem_t item{sub_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(50)) <= 0) continue;
      std::vector<zmq::message_t> parts;
      if (zmq::recv_multipart(sub_, std::back_inserter(parts))) ++n;
    }
    return n;
  }
  // True when a snapshot request is answered within the window.
  bool SnapshotAnswered(std::chrono::milliseconds window) {
    v1::SnapshotRequest req;
    req.set_request_id("curve");
    std::string body;
    req.SerializeToString(&body);
    if (!dealer_.send(zmq::buffer(body), zmq::send_flags::dontwait)) return false;
    zmq::pollitem_t item{dealer_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, window) <= 0) return false;
    zmq::message_t m;
    return dealer_.recv(m).has_value();
  }

 private:
  zmq::context_t ctx_{1};
  zmq::socket_t sub_, dealer_;
};

TEST(Curve, OnlySubscribersWithTheServerKeyReceiveAnything) {
  ASSERT_TRUE(zmq_has("curve")) << "libzmq without CURVE";
  KeyPair server = NewKeyPair(), client = NewKeyPair(), other = NewKeyPair();
  ASSERT_EQ(server.pub.size(), 40u);
  Workspace ws;
  ws.WritePlan("a", "1");
  TempDir keys;
  WriteFileText(keys / "server.pub", server.pub + "\n");
  WriteFileText(keys / "client.pub", client.pub + "\n");
  WriteFileText(keys / "client.key", client.sec + "\n");
  // The secret from the environment (WATCHER_CURVE_SECRET_KEY).
  Watcher watcher(ws.projects(), "tcp://127.0.0.1:*", "tcp://127.0.0.1:*", {},
                  {"WATCHER_CURVE_SECRET_KEY=" + server.sec});
  ASSERT_TRUE(watcher.started()) << watcher.proc().Log();
  EXPECT_EQ(watcher.proc().Log().find(server.sec), std::string::npos) << "the secret is never logged";

  Subscriber good(watcher.pub(), watcher.snapshot(), server.pub, client);
  Subscriber anon(watcher.pub(), watcher.snapshot(), "", {});
  Subscriber wrong(watcher.pub(), watcher.snapshot(), other.pub, client);
  EXPECT_GT(good.Receive(1500ms), 3) << "heartbeats every 100 ms";
  EXPECT_TRUE(good.SnapshotAnswered(5000ms));
  ws.WritePlan("b", "2");  // an event too
  EXPECT_EQ(anon.Receive(1000ms), 0) << "no key: nothing";
  EXPECT_EQ(wrong.Receive(500ms), 0) << "wrong server key: nothing";
  EXPECT_FALSE(anon.SnapshotAnswered(1000ms));
  EXPECT_FALSE(wrong.SnapshotAnswered(500ms));

  // Gateways: with the server key (from a file) it serves; without, it
  // never gets the state and says so.
  TempDir logs;
  GatewayProcess with_key, without_key;
  ASSERT_TRUE(with_key.Start(watcher.pub(), watcher.snapshot(), logs.path(), "gw-key",
                             {"--curve-server-key", keys / "server.pub", "--curve-public-key",
                              keys / "client.pub", "--curve-secret-key", keys / "client.key"}))
      << with_key.Log();
  ASSERT_TRUE(without_key.Start(watcher.pub(), watcher.snapshot(), logs.path(), "gw-nokey",
                                {"--watcher-timeout-ms", "500"}))
      << without_key.Log();
  ASSERT_TRUE(with_key.WaitReady(10000)) << with_key.Log();
  StreamClient c("curve-client");
  ASSERT_TRUE(c.Connect(with_key.port()));
  ws.WritePlan("c", "3");
  EXPECT_TRUE(WaitFor([&] { return RestPlans(with_key, "alpha") == DiskPlans(ws.root()); }, 10000ms));
  EXPECT_TRUE(c.ReadUntil([&] { return !c.seqs().empty(); }, 10000ms)) << "events over CURVE";
  EXPECT_EQ(c.violations(), "");
  EXPECT_EQ(without_key.Get("/readyz").status, 503);
  EXPECT_EQ(without_key.GetJson("/orchestrator/plans")["plans"].size(), 0u) << "no state without the key";
  EXPECT_EQ(with_key.Log().find(client.sec), std::string::npos) << "the secret is never logged";
  // Ephemeral client keys (only the server's public key given) work too.
  GatewayProcess ephemeral;
  ASSERT_TRUE(ephemeral.Start(watcher.pub(), watcher.snapshot(), logs.path(), "gw-eph",
                              {"--curve-server-key", server.pub}))
      << ephemeral.Log();
  EXPECT_TRUE(ephemeral.WaitReady(10000)) << ephemeral.Log();
  ExpectSanitizerClean(watcher.proc().Log(), "watcher");
  for (GatewayProcess* g : {&with_key, &without_key, &ephemeral}) ExpectSanitizerClean(g->Log(), "gateway");
}

TEST(Curve, BadKeysExitTwoNamingTheFlag) {
  TempDir dir;
  WriteFileText(dir / "short.key", "tooshort\n");
  Process w(WatcherBinary(), {"--curve-secret-key", dir / "short.key"});
  EXPECT_EQ(w.Wait(), 2);
  EXPECT_NE(w.Log().find("curve-secret-key"), std::string::npos) << w.Log();
  Process g(gateway::testing::GatewayBinary(), {"--curve-server-key", dir / "missing.key"});
  EXPECT_EQ(g.Wait(), 2);
  EXPECT_NE(g.Log().find("curve-server-key"), std::string::npos) << g.Log();
}

}  // namespace
}  // namespace coderef::faults
