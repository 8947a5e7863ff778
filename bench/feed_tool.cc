// feed_tool: the benchmarks' ZeroMQ side (docs/PROTOCOL.md section 1).
//
//   feed_tool pub    a synthetic watcher: PUB [topic, FeedMessage] with
//                    heartbeats, a ROUTER answering SnapshotRequest with
//                    SnapshotChunk; publishes --events plan updates at
//                    --rate (0: as fast as it can) once --go-file exists.
//   feed_tool sub    a feed checker: counts events, checks seq has no gaps,
//                    and that every added item is added once (exactly-once
//                    for the watcher-scale burst).
//   feed_tool probe  asks the snapshot ROUTER for a (filtered) snapshot and
//                    reports when the answer came: the watcher's start-up
//                    time, measured from outside.
//
// Each writes one JSON object (--out, default stdout). Single-threaded;
// each socket is owned by the main thread.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "coderef/v1/feed.pb.h"
#include "common/names.h"
#include "common/text.h"
#include "common/zmq_util.h"

namespace coderef::bench {
namespace {

std::atomic<bool> g_stop{false};

int64_t NowUs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

int64_t MonoUs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

bool FileExists(const std::string& p) { return !p.empty() && ::access(p.c_str(), F_OK) == 0; }

void WriteOut(const std::string& path, const nlohmann::json& j) {
  std::string text = j.dump(1);
  if (path.empty()) {
    std::printf("%s\n", text.c_str());
    std::fflush(stdout);
    return;
  }
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text << "\n";
  std::rename(tmp.c_str(), path.c_str());
}

void WriteReady(const std::string& path) {
  if (path.empty()) return;
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << "ready\n";
  std::rename(tmp.c_str(), path.c_str());
}

// ------------------------------------------------------------------ pub

struct PubOptions {
  std::string pub = "tcp://127.0.0.1:*";
  std::string snapshot = "tcp://127.0.0.1:*";
  std::string endpoints_file;  // writes {"pub":..., "snapshot":...}
  int projects = 100;
  int plans_per_project = 10;
  uint64_t events = 100000;
  double rate = 0;  // events/s; 0 = unlimited
  int hb_ms = 1000;
  std::string go_file;
  double linger_s = 600;  // heartbeats after publishing, until SIGTERM
  std::string out;
};

v1::Item PlanItem(int project, int plan, uint64_t version) {
  v1::Item item;
  std::string pid = "proj-" + std::to_string(10000 + project).substr(1);
  std::string feature = "feature-" + std::to_string(1000 + plan).substr(1);
  std::string path = "coderef/working/" + feature + "/plan.json";
  std::string text =
      "{\"META_DOCUMENTATION\":{\"feature_name\":\"" + feature +
      "\",\"status\":\"in_progress\",\"project\":\"" + pid + "\",\"workorder_id\":\"WO-" + pid +
      "-" + std::to_string(plan) + "\",\"version\":" + std::to_string(version) + "}}";
  item.set_kind(v1::KIND_PLAN);
  item.set_project(pid);
  item.set_key(path);
  item.set_file_path(path);
  item.set_feature_name(feature);
  item.set_location("working");
  item.set_last_modified_ms(NowUs() / 1000);
  item.set_valid(true);
  item.set_size_bytes(text.size());
  item.set_content_hash(Hash64(text));
  item.set_text(text);
  auto* d = item.mutable_plan();
  d->set_status("in_progress");
  d->set_workorder_id("WO-" + pid + "-" + std::to_string(plan));
  d->set_project_field(pid);
  return item;
}

v1::Item ProjectItem(int project) {
  v1::Item item;
  std::string pid = "proj-" + std::to_string(10000 + project).substr(1);
  item.set_kind(v1::KIND_PROJECT);
  item.set_project(pid);
  item.set_key(pid);
  item.set_valid(true);
  auto* d = item.mutable_project_info();
  d->set_name(pid);
  d->set_path("/srv/bench/" + pid);
  d->set_exists(true);
  d->set_has_coderef(true);
  item.set_content_hash(Hash64(pid));
  return item;
}

int RunPub(const PubOptions& o) {
  zmq::context_t ctx(1);
  zmq::socket_t pub(ctx, zmq::socket_type::pub);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  pub.set(zmq::sockopt::sndhwm, 0);  // never drop: the bench measures the gateway
  pub.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::sndhwm, 0);
  router.set(zmq::sockopt::linger, 0);
  std::string pub_ep = BindAndResolve(pub, o.pub);
  std::string snap_ep = BindAndResolve(router, o.snapshot);
  if (!o.endpoints_file.empty()) {
    nlohmann::json e;
    e["pub"] = pub_ep;
    e["snapshot"] = snap_ep;
    WriteOut(o.endpoints_file, e);
  }
  std::string epoch = RandomHex(16);
  uint64_t seq = 0;
  int total_plans = o.projects * o.plans_per_project;
  std::vector<uint64_t> versions(static_cast<size_t>(std::max(1, total_plans)), 0);

  auto heartbeat = [&] {
    v1::FeedMessage m;
    auto* hb = m.mutable_heartbeat();
    hb->set_epoch(epoch);
    hb->set_seq(seq);
    hb->set_sent_us(NowUs());
    hb->set_interval_ms(static_cast<uint32_t>(o.hb_ms));
    SendTopicMessage(pub, std::string(kHeartbeatTopic), m);
  };
  uint64_t snapshots = 0;
  auto serve = [&] {
    for (;;) {
      std::vector<zmq::message_t> parts;
      auto got = zmq::recv_multipart(router, std::back_inserter(parts), zmq::recv_flags::dontwait);
      if (!got || parts.empty()) return;
      bool delimiter = parts.size() >= 3 && parts[1].size() == 0;
      v1::SnapshotRequest req;
      if (parts.size() >= 2 && parts.back().size() > 0)
        req.ParseFromArray(parts.back().data(), static_cast<int>(parts.back().size()));
      std::vector<v1::Item> items;
      for (int p = 0; p < o.projects; ++p) items.push_back(ProjectItem(p));
      for (int i = 0; i < total_plans; ++i)
        items.push_back(PlanItem(i / o.plans_per_project, i % o.plans_per_project, versions[static_cast<size_t>(i)]));
      size_t per_chunk = 1000, index = 0;
      for (size_t at = 0; at < items.size() || at == 0; at += per_chunk) {
        v1::SnapshotChunk chunk;
        chunk.set_request_id(req.request_id());
        chunk.set_epoch(epoch);
        chunk.set_seq(seq);
        chunk.set_chunk_index(static_cast<uint32_t>(index++));
        chunk.set_total_items(items.size());
        for (size_t k = at; k < std::min(items.size(), at + per_chunk); ++k) *chunk.add_items() = items[k];
        bool last = at + per_chunk >= items.size();
        chunk.set_last(last);
        std::string body = chunk.SerializeAsString();
        router.send(zmq::buffer(parts[0].data(), parts[0].size()), zmq::send_flags::sndmore);
        if (delimiter) router.send(zmq::message_t(), zmq::send_flags::sndmore);
        router.send(zmq::buffer(body), zmq::send_flags::none);
        if (last) break;
      }
      ++snapshots;
    }
  };

  int64_t next_hb = MonoUs();
  int64_t publish_start_us = 0, publish_end_us = 0, publish_start_mono = 0;
  uint64_t sent = 0, failed = 0;
  int64_t linger_until = 0;
  v1::FeedMessage msg;
  std::string body;
  while (!g_stop.load()) {
    int64_t now = MonoUs();
    if (now >= next_hb) {
      heartbeat();
      next_hb = now + static_cast<int64_t>(o.hb_ms) * 1000;
    }
    zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0}};
    bool publishing = sent < o.events && snapshots > 0 && (o.go_file.empty() || FileExists(o.go_file));
    zmq::poll(items, 1, std::chrono::milliseconds(publishing ? 0 : 10));
    if (items[0].revents & ZMQ_POLLIN) serve();
    if (publishing) {
      if (publish_start_us == 0) {
        publish_start_us = NowUs();
        publish_start_mono = MonoUs();
      }
      // A slice of events (rate-limited when asked), then back to the loop
      // for heartbeats and snapshot requests.
      uint64_t target = o.events;
      if (o.rate > 0) {
        double elapsed_s = static_cast<double>(MonoUs() - publish_start_mono) / 1e6;
        target = std::min<uint64_t>(o.events, static_cast<uint64_t>(elapsed_s * o.rate) + 1);
      }
      target = std::min<uint64_t>(target, sent + 2000);
      if (target <= sent) ::usleep(200);
      for (; sent < target; ++sent) {
        size_t i = static_cast<size_t>(sent % static_cast<uint64_t>(std::max(1, total_plans)));
        int project = static_cast<int>(i) / o.plans_per_project;
        ++versions[i];
        v1::ChangeEvent* ev = msg.mutable_event();
        *ev->mutable_item() = PlanItem(project, static_cast<int>(i) % o.plans_per_project, versions[i]);
        ev->set_epoch(epoch);
        ev->set_seq(++seq);
        ev->set_type(v1::EVENT_TYPE_PLAN_UPDATED);
        ev->set_kind(v1::KIND_PLAN);
        ev->set_project(ev->item().project());
        ev->set_file_path(ev->item().file_path());
        ev->set_feature_name(ev->item().feature_name());
        ev->set_location("working");
        ev->set_key(ev->item().key());
        int64_t t = NowUs();
        ev->set_first_change_us(t);
        ev->set_published_us(t);
        if (!SendTopicMessage(pub, Topic(v1::KIND_PLAN, ev->project()), msg)) ++failed;
      }
      if (sent >= o.events) {
        publish_end_us = NowUs();
        linger_until = MonoUs() + static_cast<int64_t>(o.linger_s * 1e6);
        std::fprintf(stderr, "feed_tool pub: %llu events in %.3f s\n",
                     static_cast<unsigned long long>(sent),
                     static_cast<double>(publish_end_us - publish_start_us) / 1e6);
        nlohmann::json j;
        j["epoch"] = epoch;
        j["published"] = sent;
        j["send_failures"] = failed;
        j["publish_start_unix_us"] = publish_start_us;
        j["publish_end_unix_us"] = publish_end_us;
        j["snapshots_served"] = snapshots;
        WriteOut(o.out, j);
      }
    }
    if (linger_until && MonoUs() >= linger_until) break;
  }
  return 0;
}

// ------------------------------------------------------------------ sub

struct SubOptions {
  std::string feed;
  uint64_t expect = 0;
  double timeout_s = 300;
  double idle_timeout_s = 15;
  double linger_s = 1.0;
  std::string ready_file;
  std::string key_contains;  // count added items whose key contains this
  std::string out;
};

int RunSub(const SubOptions& o) {
  zmq::context_t ctx(1);
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::rcvhwm, 0);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::subscribe, "");
  sub.connect(o.feed);
  std::string epoch;
  uint64_t last_seq = 0, events = 0, gaps = 0, gap_events = 0, heartbeats = 0, hb_ahead = 0,
           duplicates_added = 0, matched_added = 0, decode_errors = 0;
  std::map<std::string, uint64_t> by_type;
  std::unordered_set<std::string> present;  // items added and not deleted
  int64_t first_rx = 0, last_rx = 0, first_change = 0, last_pub = 0;
  int64_t start = MonoUs(), last_activity = 0, done_at = 0;
  bool ready = false;
  std::vector<zmq::message_t> parts;
  while (!g_stop.load()) {
    int64_t now = MonoUs();
    if (now - start > static_cast<int64_t>(o.timeout_s * 1e6)) break;
    if (last_activity && o.expect && now - last_activity > static_cast<int64_t>(o.idle_timeout_s * 1e6)) break;
    if (done_at && now - done_at > static_cast<int64_t>(o.linger_s * 1e6)) break;
    zmq::pollitem_t items[] = {{sub.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(50));
    for (int n = 0; n < 10000; ++n) {
      parts.clear();
      auto got = zmq::recv_multipart(sub, std::back_inserter(parts), zmq::recv_flags::dontwait);
      if (!got) break;
      v1::FeedMessage m;
      if (parts.size() < 2 || !m.ParseFromArray(parts.back().data(), static_cast<int>(parts.back().size()))) {
        ++decode_errors;
        continue;
      }
      if (m.has_heartbeat()) {
        ++heartbeats;
        if (!ready) {
          ready = true;  // the subscription is live: a heartbeat came through
          if (epoch.empty()) {
            epoch = m.heartbeat().epoch();
            last_seq = m.heartbeat().seq();
          }
          WriteReady(o.ready_file);
        }
        if (m.heartbeat().epoch() == epoch && m.heartbeat().seq() > last_seq) ++hb_ahead;
        continue;
      }
      if (!m.has_event()) continue;
      const v1::ChangeEvent& ev = m.event();
      int64_t rx = NowUs();
      if (first_rx == 0) {
        first_rx = rx;
        first_change = ev.first_change_us();
      }
      last_rx = rx;
      last_pub = std::max(last_pub, ev.published_us());
      last_activity = MonoUs();
      if (epoch.empty()) epoch = ev.epoch();
      if (ev.epoch() == epoch && last_seq && ev.seq() != last_seq + 1) {
        ++gaps;
        if (ev.seq() > last_seq) gap_events += ev.seq() - last_seq - 1;
      }
      last_seq = ev.seq();
      ++events;
      by_type[std::string(EventTypeName(ev.type()))]++;
      std::string id = Topic(ev.kind(), ev.project()) + "\n" + ev.key();
      if (IsDeletion(ev.type())) {
        present.erase(id);
      } else if (ev.type() == v1::EVENT_TYPE_PLAN_ADDED || ev.type() == v1::EVENT_TYPE_STUB_ADDED ||
                 ev.type() == v1::EVENT_TYPE_WORKORDER_ADDED ||
                 ev.type() == v1::EVENT_TYPE_PROJECT_ADDED) {
        if (!present.insert(id).second) ++duplicates_added;
        if (o.key_contains.empty() || ev.key().find(o.key_contains) != std::string::npos) ++matched_added;
      }
      if (o.expect && !done_at && events >= o.expect) done_at = MonoUs();
    }
  }
  nlohmann::json j;
  j["epoch"] = epoch;
  j["events"] = events;
  j["expect"] = o.expect;
  j["by_type"] = by_type;
  j["distinct_added_items"] = present.size();
  j["matched_added"] = matched_added;
  j["duplicate_adds"] = duplicates_added;
  j["seq_gaps"] = gaps;
  j["gap_events"] = gap_events;
  j["heartbeats"] = heartbeats;
  j["heartbeats_ahead"] = hb_ahead;
  j["decode_errors"] = decode_errors;
  j["last_seq"] = last_seq;
  j["first_change_unix_us"] = first_change;
  j["first_receive_unix_us"] = first_rx;
  j["last_receive_unix_us"] = last_rx;
  j["last_published_unix_us"] = last_pub;
  WriteOut(o.out, j);
  return 0;
}

// ------------------------------------------------------------------ probe

int RunProbe(const std::string& endpoint, const std::string& prefix, double timeout_s,
             const std::string& out) {
  zmq::context_t ctx(1);
  zmq::socket_t d(ctx, zmq::socket_type::dealer);
  d.set(zmq::sockopt::linger, 0);
  d.connect(endpoint);
  v1::SnapshotRequest req;
  req.set_prefix(prefix);
  req.set_request_id("probe");
  std::string body = req.SerializeAsString();
  d.send(zmq::buffer(body), zmq::send_flags::none);
  int64_t start = MonoUs();
  nlohmann::json j;
  j["answered"] = false;
  while (!g_stop.load() && MonoUs() - start < static_cast<int64_t>(timeout_s * 1e6)) {
    zmq::pollitem_t items[] = {{d.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(20));
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    zmq::message_t m;
    if (!d.recv(m, zmq::recv_flags::dontwait)) continue;
    if (m.size() == 0) continue;
    v1::SnapshotChunk chunk;
    if (!chunk.ParseFromArray(m.data(), static_cast<int>(m.size()))) continue;
    if (!chunk.last()) continue;
    j["answered"] = true;
    j["answer_unix_us"] = NowUs();
    j["total_items"] = chunk.total_items();
    j["epoch"] = chunk.epoch();
    j["seq"] = chunk.seq();
    break;
  }
  WriteOut(out, j);
  return j["answered"].get<bool>() ? 0 : 1;
}

int Main(int argc, char** argv) {
  CLI::App app("feed_tool: synthetic publisher, feed checker and snapshot probe for the benchmarks");
  app.require_subcommand(1);
  PubOptions po;
  auto* pub = app.add_subcommand("pub", "synthetic watcher: PUB + snapshot ROUTER");
  pub->add_option("--pub", po.pub);
  pub->add_option("--snapshot", po.snapshot);
  pub->add_option("--endpoints-file", po.endpoints_file, "write the bound endpoints here (JSON)");
  pub->add_option("--projects", po.projects);
  pub->add_option("--plans-per-project", po.plans_per_project);
  pub->add_option("--events", po.events);
  pub->add_option("--rate", po.rate, "events/s (0: unlimited)");
  pub->add_option("--hb-ms", po.hb_ms);
  pub->add_option("--go-file", po.go_file, "publish once this file exists");
  pub->add_option("--linger-s", po.linger_s, "keep heartbeating this long after the last event");
  pub->add_option("--out", po.out);
  SubOptions so;
  auto* sub = app.add_subcommand("sub", "feed checker");
  sub->add_option("--feed", so.feed)->required();
  sub->add_option("--expect", so.expect);
  sub->add_option("--timeout-s", so.timeout_s);
  sub->add_option("--idle-timeout-s", so.idle_timeout_s);
  sub->add_option("--linger-s", so.linger_s);
  sub->add_option("--ready-file", so.ready_file, "written once a heartbeat came through");
  sub->add_option("--key-contains", so.key_contains);
  sub->add_option("--out", so.out);
  std::string probe_ep, probe_prefix = "project/", probe_out;
  double probe_timeout = 60;
  auto* probe = app.add_subcommand("probe", "snapshot round trip");
  probe->add_option("--snapshot", probe_ep)->required();
  probe->add_option("--prefix", probe_prefix);
  probe->add_option("--timeout-s", probe_timeout);
  probe->add_option("--out", probe_out);
  CLI11_PARSE(app, argc, argv);

  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = true; };
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  try {
    if (pub->parsed()) return RunPub(po);
    if (sub->parsed()) return RunSub(so);
    return RunProbe(probe_ep, probe_prefix, probe_timeout, probe_out);
  } catch (const zmq::error_t& e) {
    std::fprintf(stderr, "feed_tool: %s\n", e.what());
    return 1;
  }
}

}  // namespace
}  // namespace coderef::bench

int main(int argc, char** argv) { return coderef::bench::Main(argc, argv); }
