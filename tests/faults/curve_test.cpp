// CURVE on the feed: the watcher with a server secret key (from the
// environment), subscribers and gateways with and without the server's
// public key (from a key file). A subscriber without the key, or with a
// wrong one, receives nothing: no heartbeat, no event, no snapshot. With
// --curve-allowed-clients, only the listed client keys get anything.
#include <signal.h>
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

// Occurrences of `needle` in `text`.
int Count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
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

// --curve-allowed-clients: only listed client keys get events and snapshots;
// an unlisted key and a subscriber without CURVE get nothing; the refused key
// is logged; SIGHUP and a change of the file reload it; a bad file on reload
// keeps the last good list.
TEST(Curve, AllowListAdmitsOnlyListedClients) {
  ASSERT_TRUE(zmq_has("curve")) << "libzmq without CURVE";
  KeyPair server = NewKeyPair(), listed = NewKeyPair(), unlisted = NewKeyPair(), later = NewKeyPair();
  ASSERT_EQ(server.pub.size(), 40u);
  Workspace ws;
  ws.WritePlan("a", "1");
  TempDir keys;
  std::string allow = keys / "allowed_clients";
  WriteFileText(allow, "# the gateways\n\n" + listed.pub + "   # gw-1\n");
  Watcher watcher(ws.projects(), "tcp://127.0.0.1:*", "tcp://127.0.0.1:*",
                  {"--curve-allowed-clients", allow}, {"WATCHER_CURVE_SECRET_KEY=" + server.sec});
  ASSERT_TRUE(watcher.started()) << watcher.proc().Log();
  EXPECT_NE(watcher.proc().Log().find("curve.allow_list_loaded"), std::string::npos) << watcher.proc().Log();

  Subscriber good(watcher.pub(), watcher.snapshot(), server.pub, listed);
  Subscriber refused(watcher.pub(), watcher.snapshot(), server.pub, unlisted);
  Subscriber anon(watcher.pub(), watcher.snapshot(), "", {});
  EXPECT_GT(good.Receive(1500ms), 3) << "heartbeats every 100 ms";
  EXPECT_TRUE(good.SnapshotAnswered(5000ms));
  ws.WritePlan("b", "2");  // an event too
  EXPECT_EQ(refused.Receive(1000ms), 0) << "unlisted client key: nothing";
  EXPECT_FALSE(refused.SnapshotAnswered(1000ms)) << "unlisted client key: no snapshot";
  EXPECT_EQ(anon.Receive(500ms), 0) << "no CURVE: nothing";
  EXPECT_FALSE(anon.SnapshotAnswered(500ms));
  EXPECT_TRUE(watcher.proc().WaitForLog("curve.client_refused", 5000ms)) << watcher.proc().Log();
  EXPECT_NE(watcher.proc().Log().find(unlisted.pub), std::string::npos) << "the refused key is named";
  EXPECT_EQ(watcher.proc().Log().find(listed.pub), std::string::npos) << "accepted keys are not logged at info";

  // A gateway with a listed key is served.
  TempDir logs;
  WriteFileText(keys / "server.pub", server.pub + "\n");
  GatewayProcess gw;
  ASSERT_TRUE(gw.Start(watcher.pub(), watcher.snapshot(), logs.path(), "gw-listed",
                       {"--curve-server-key", keys / "server.pub", "--curve-public-key", listed.pub,
                        "--curve-secret-key", listed.sec}))
      << gw.Log();
  EXPECT_TRUE(gw.WaitReady(10000)) << gw.Log();

  // SIGHUP re-reads the list: `unlisted` is now listed and gets in.
  int loaded = Count(watcher.proc().Log(), "curve.allow_list_loaded");
  WriteFileText(allow, listed.pub + "\n" + unlisted.pub + "\n");
  watcher.proc().Signal(SIGHUP);
  EXPECT_TRUE(watcher.proc().WaitForLog("watcher.reload", 5000ms)) << watcher.proc().Log();
  EXPECT_TRUE(WaitFor([&] { return Count(watcher.proc().Log(), "curve.allow_list_loaded") > loaded; }, 5000ms))
      << watcher.proc().Log();
  Subscriber now_listed(watcher.pub(), watcher.snapshot(), server.pub, unlisted);
  EXPECT_GT(now_listed.Receive(1500ms), 3);
  EXPECT_TRUE(now_listed.SnapshotAnswered(5000ms));
  EXPECT_TRUE(watcher.proc().Alive()) << "SIGHUP reloads, it does not stop the watcher";

  // A bad file is reported with its line, and the last good list stays.
  WriteFileText(allow, listed.pub + "\n" + "not-a-key\n");
  watcher.proc().Signal(SIGHUP);
  EXPECT_TRUE(watcher.proc().WaitForLog("curve.allow_list_error", 5000ms)) << watcher.proc().Log();
  EXPECT_NE(watcher.proc().Log().find(allow + ":2"), std::string::npos) << watcher.proc().Log();
  Subscriber still_listed(watcher.pub(), watcher.snapshot(), server.pub, unlisted);
  EXPECT_GT(still_listed.Receive(1500ms), 3) << "the last good list stays in force";

  // A change of the file is picked up without a signal (checked every second).
  loaded = Count(watcher.proc().Log(), "curve.allow_list_loaded");
  WriteFileText(allow, later.pub + "\n");
  EXPECT_TRUE(WaitFor([&] { return Count(watcher.proc().Log(), "curve.allow_list_loaded") > loaded; }, 5000ms))
      << watcher.proc().Log();
  Subscriber later_sub(watcher.pub(), watcher.snapshot(), server.pub, later);
  EXPECT_GT(later_sub.Receive(1500ms), 3);
  Subscriber dropped(watcher.pub(), watcher.snapshot(), server.pub, listed);
  EXPECT_EQ(dropped.Receive(1000ms), 0) << "a key removed from the list is refused on its next connection";
  ExpectSanitizerClean(watcher.proc().Log(), "watcher");
  ExpectSanitizerClean(gw.Log(), "gateway");
}

// A directory of key files: every regular, non-hidden file is read.
TEST(Curve, AllowListDirectory) {
  ASSERT_TRUE(zmq_has("curve")) << "libzmq without CURVE";
  KeyPair server = NewKeyPair(), a = NewKeyPair(), b = NewKeyPair(), c = NewKeyPair();
  Workspace ws;
  ws.WritePlan("a", "1");
  TempDir dir;
  WriteFileText(dir / "a.pub", a.pub + "\n");
  WriteFileText(dir / "b.pub", "# b\n" + b.pub + "\n");
  WriteFileText(dir / ".c.pub.swp", c.pub + "\n");  // hidden: not read
  Watcher watcher(ws.projects(), "tcp://127.0.0.1:*", "tcp://127.0.0.1:*",
                  {"--curve-allowed-clients", dir.path(), "--curve-secret-key", server.sec});
  ASSERT_TRUE(watcher.started()) << watcher.proc().Log();
  Subscriber sa(watcher.pub(), watcher.snapshot(), server.pub, a);
  Subscriber sb(watcher.pub(), watcher.snapshot(), server.pub, b);
  Subscriber sc(watcher.pub(), watcher.snapshot(), server.pub, c);
  EXPECT_GT(sa.Receive(1500ms), 3);
  EXPECT_GT(sb.Receive(500ms), 0);
  EXPECT_TRUE(sb.SnapshotAnswered(5000ms));
  EXPECT_EQ(sc.Receive(500ms), 0);
  EXPECT_FALSE(sc.SnapshotAnswered(500ms));
  ExpectSanitizerClean(watcher.proc().Log(), "watcher");
}

TEST(Curve, BadAllowListExitsTwoNamingFileAndLine) {
  KeyPair server = NewKeyPair(), client = NewKeyPair();
  TempDir dir;
  std::string bad = dir / "allowed";
  WriteFileText(bad, "# ok\n" + client.pub + "\n" + client.pub.substr(0, 30) + "\n");
  Process w(WatcherBinary(), {"--curve-allowed-clients", bad, "--curve-secret-key", server.sec});
  EXPECT_EQ(w.Wait(), 2);
  EXPECT_NE(w.Log().find("curve-allowed-clients"), std::string::npos) << w.Log();
  EXPECT_NE(w.Log().find(bad + ":3"), std::string::npos) << w.Log();
  Process missing(WatcherBinary(), {"--curve-allowed-clients", dir / "missing", "--curve-secret-key", server.sec});
  EXPECT_EQ(missing.Wait(), 2);
  EXPECT_NE(missing.Log().find(dir / "missing"), std::string::npos) << missing.Log();
  // Without CURVE there is nothing to allow.
  WriteFileText(bad, client.pub + "\n");
  Process no_curve(WatcherBinary(), {"--curve-allowed-clients", bad});
  EXPECT_EQ(no_curve.Wait(), 2);
  EXPECT_NE(no_curve.Log().find("curve-secret-key"), std::string::npos) << no_curve.Log();
}

}  // namespace
}  // namespace coderef::faults
