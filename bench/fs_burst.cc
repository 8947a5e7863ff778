// fs_burst: writes a burst of new tracked files as fast as the file system
// allows (the benchmarks' "git checkout"): --files files in new feature
// folders coderef/working/<prefix>-NNNNNN/ spread round-robin over the
// projects of --workspace/projects.json, each folder holding --kinds
// (plan, stub, communication). Logs "project<TAB>file_path<TAB>unix_us"
// per file (the time after close) to --saves, and prints one JSON line
// with the start and end times. Single-threaded; no dependencies beyond
// the standard library and POSIX.
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

int64_t NowUs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

// The "name" values of projects.json, in order (gen_workspace.py's layout:
// each project's folder is its name, next to projects.json).
std::vector<std::string> ProjectNames(const std::string& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::vector<std::string> out;
  const std::string key = "\"name\":";
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    size_t q1 = text.find('"', at + key.size());
    size_t q2 = text.find('"', q1 + 1);
    if (q1 == std::string::npos || q2 == std::string::npos) break;
    out.push_back(text.substr(q1 + 1, q2 - q1 - 1));
  }
  return out;
}

std::string Content(const std::string& kind, const std::string& feature, const std::string& project) {
  if (kind == "plan")
    return "{\"META_DOCUMENTATION\": {\"feature_name\": \"" + feature +
           "\", \"status\": \"planned\", \"project\": \"" + project + "\", \"workorder_id\": \"WO-" +
           feature + "\"}}";
  if (kind == "stub")
    return "{\"feature_name\": \"" + feature +
           "\", \"description\": \"burst\", \"category\": \"feature\", \"priority\": \"low\", "
           "\"created\": \"2026-11-26\", \"status\": \"stub\"}";
  return "{\"handoff\": {\"workorder_id\": \"WO-" + feature + "\", \"feature_name\": \"" + feature +
         "\", \"type\": \"implementation\", \"status\": \"pending\", \"from\": \"planner\", \"to\": "
         "\"coder\"}}";
}

int Usage() {
  std::fprintf(stderr,
               "usage: fs_burst --workspace DIR --files N [--kinds plan,stub,communication] "
               "[--prefix burst] --saves FILE\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string ws, saves, prefix = "burst", kinds_arg = "plan";
  long files = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--workspace") ws = v;
    else if (k == "--files") files = std::stol(v);
    else if (k == "--kinds") kinds_arg = v;
    else if (k == "--prefix") prefix = v;
    else if (k == "--saves") saves = v;
    else return Usage();
  }
  if (ws.empty() || files <= 0 || saves.empty()) return Usage();
  std::vector<std::string> kinds;
  std::stringstream ks(kinds_arg);
  for (std::string k; std::getline(ks, k, ',');)
    if (!k.empty()) kinds.push_back(k);
  std::vector<std::string> projects = ProjectNames(ws + "/projects.json");
  if (projects.empty() || kinds.empty()) return Usage();

  std::string log;
  log.reserve(static_cast<size_t>(files) * 80);
  int64_t start = NowUs();
  long written = 0;
  for (long folder = 0; written < files; ++folder) {
    const std::string& project = projects[static_cast<size_t>(folder) % projects.size()];
    char feat[64];
    std::snprintf(feat, sizeof feat, "%s-%06ld", prefix.c_str(), folder);
    std::string rel_dir = std::string("coderef/working/") + feat;
    std::string dir = ws + "/" + project + "/" + rel_dir;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      std::fprintf(stderr, "fs_burst: mkdir %s: %s\n", dir.c_str(), std::strerror(errno));
      return 1;
    }
    for (const std::string& kind : kinds) {
      if (written >= files) break;
      std::string name = (kind == "communication" ? std::string("communication") : kind) + ".json";
      std::string path = dir + "/" + name;
      std::string body = Content(kind, feat, project);
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0 || ::write(fd, body.data(), body.size()) != static_cast<ssize_t>(body.size())) {
        std::fprintf(stderr, "fs_burst: write %s: %s\n", path.c_str(), std::strerror(errno));
        return 1;
      }
      ::close(fd);
      log += project + "\t" + rel_dir + "/" + name + "\t" + std::to_string(NowUs()) + "\n";
      ++written;
    }
  }
  int64_t end = NowUs();
  std::ofstream(saves) << log;
  std::printf("{\"files\":%ld,\"start_unix_us\":%lld,\"end_unix_us\":%lld}\n", written,
              static_cast<long long>(start), static_cast<long long>(end));
  return 0;
}
