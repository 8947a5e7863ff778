#include "watcher-svc/watcher_core.h"

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/names.h"
#include "common/text.h"
#include "watcher-svc/item_parser.h"

namespace coderef::watcher {

namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

WatcherMetrics WatcherMetrics::Register(MetricsRegistry& reg) {
  WatcherMetrics m;
  m.raw_events = reg.Counter("coderef_watcher_raw_events_total", "Raw notifications read from the backend");
  m.overflows = reg.Counter("coderef_watcher_overflows_total", "Kernel queue overflows (IN_Q_OVERFLOW)");
  m.rescans = reg.Counter("coderef_watcher_rescans_total", "Full rescans (overflow, lost watches)");
  m.watch_errors = reg.Counter("coderef_watcher_watch_errors_total", "Directories that could not be watched");
  m.watch_limit_errors = reg.Counter("coderef_watcher_watch_limit_errors_total",
                                     "Watches refused because the inotify watch limit was reached (ENOSPC)");
  m.watches = reg.Gauge("coderef_watcher_watches", "Directories currently watched");
  m.unwatched_dirs = reg.Gauge("coderef_watcher_unwatched_dirs", "Directories whose watch failed (retried, rescanned)");
  m.registry_errors = reg.Counter("coderef_watcher_registry_errors_total", "projects.json loads rejected");
  m.files_read = reg.Counter("coderef_watcher_files_read_total", "Tracked files read");
  m.items = reg.Gauge("coderef_watcher_items", "Items in the published state");
  m.projects = reg.Gauge("coderef_watcher_projects", "Projects in the registry");
  m.bad_names = reg.Counter("coderef_watcher_bad_names_total", "Files skipped: name not valid UTF-8");
  return m;
}

WatcherCore::WatcherCore(WatcherOptions options, FileSystem& fs, WatchBackend& backend,
                         WatcherMetrics metrics)
    : options_(std::move(options)),
      fs_(fs),
      backend_(backend),
      metrics_(metrics),
      loaders_(options_.load_threads),
      dirty_files_(options_.max_hold),
      watch_plan_(backend_, fs_,
                  WatchPlan::Metrics{metrics_.watch_errors, metrics_.watch_limit_errors, metrics_.unwatched_dirs},
                  DirName(NormalizePath(options_.projects_file))) {
  options_.projects_file = NormalizePath(options_.projects_file);
  registry_dir_ = DirName(options_.projects_file);
  registry_name_ = BaseName(options_.projects_file);
  for (const auto& l : options_.workorder_logs) global_logs_.insert(NormalizePath(l));
}

bool WatcherCore::Start(SteadyTime now) {
  registry_dirty_ = true;
  for (const auto& l : global_logs_) MarkFile(l);
  // The initial state is published as state (what a snapshot at seq 0
  // shows), not as events.
  FlushBatch(now, /*emit=*/false);
  return registry_loaded_;
}

bool WatcherCore::dirty() const {
  return registry_dirty_ || full_rescan_ || !dirty_files_.empty() || !dirty_dirs_.empty() ||
         !rescan_projects_.empty();
}

bool WatcherCore::ready(SteadyTime now) const {
  return registry_dirty_ || full_rescan_ || dirty_files_.HasReady(now) || !dirty_dirs_.empty() ||
         !rescan_projects_.empty();
}

bool WatcherCore::batch_complete() const {
  // A new folder (dirty_dirs_) does not count against it: it was scanned
  // when it appeared, and its files are dirty with their own completion
  // (unknown when found by the scan). A folder that went away does.
  return !registry_dirty_ && !full_rescan_ && rescan_projects_.empty() &&
         dirty_files_.AllComplete();
}

void WatcherCore::ScheduleRescan(const std::string& reason) {
  LogWarn("rescan.scheduled").Kv("reason", reason);
  if (metrics_.rescans) metrics_.rescans->Add();
  full_rescan_ = true;
}

// ---------------------------------------------------------------- watches

bool WatcherCore::RetryFailedWatches() {
  if (!watch_plan_.has_failed()) return false;
  // Whether or not the watch succeeds now, rescan: changes in an unwatched
  // folder are only seen this way.
  for (auto& d : watch_plan_.TakeRetries()) dirty_dirs_.insert(std::move(d));
  return true;
}

void WatcherCore::EnsureBaseWatches() {
  watch_plan_.Watch(registry_dir_, false);
  for (const auto& l : global_logs_) watch_plan_.Watch(DirName(l), false);
}

void WatcherCore::ScanProject(const ProjectEntry& p, std::vector<Scanner::Deferred>* defer) {
  for (const auto& s : state_.SourcesUnder(p.path)) MarkFile(s);
  std::string coderef = JoinPath(p.path, "coderef");
  FileStat st;
  int err = 0;
  if (fs_.Stat(coderef, &st, &err) && st.is_dir && !st.is_symlink) {
    scanner_.Scan(coderef, "coderef", 0, defer);
  }
}

// ---------------------------------------------------------------- registry

const ProjectEntry* WatcherCore::ProjectById(const std::string& id) const {
  for (const auto& p : projects_)
    if (p.id == id) return &p;
  return nullptr;
}

const ProjectEntry* WatcherCore::ProjectFor(const std::string& abs_path, std::string* rel) const {
  // Walk up from the path: the deepest project root wins (nested projects).
  std::string dir = abs_path;
  while (dir.size() > 1) {
    dir = DirName(dir);
    auto it = root_index_.find(dir);
    if (it != root_index_.end()) {
      if (rel) *rel = abs_path.substr(dir == "/" ? 1 : dir.size() + 1);
      return &projects_[it->second];
    }
  }
  return nullptr;
}

v1::Item WatcherCore::ProjectItem(const ProjectEntry& p) {
  v1::Item item;
  item.set_kind(v1::KIND_PROJECT);
  item.set_project(p.id);
  item.set_key(p.id);
  item.set_valid(true);
  auto* d = item.mutable_project_info();
  d->set_name(p.name);
  d->set_path(EscapeInvalidUtf8(p.path));
  FileStat st;
  int err = 0;
  bool exists = fs_.Stat(p.path, &st, &err) && st.is_dir;
  bool has_coderef = exists && fs_.Stat(JoinPath(p.path, "coderef"), &st, &err) && st.is_dir;
  d->set_exists(exists);
  d->set_has_coderef(has_coderef);
  item.set_content_hash(Hash64(p.name + '\0' + p.path + '\0' + (exists ? "1" : "0") +
                               (has_coderef ? "1" : "0")));
  return item;
}

void WatcherCore::ReloadRegistry(std::vector<v1::ChangeEvent>* events,
                                 std::vector<v1::ChangeEvent>* trailing) {
  const std::string& file = options_.projects_file;
  FileStat st;
  int err = 0;
  std::string text;
  std::string problem;
  if (!fs_.Stat(file, &st, &err)) {
    problem = "cannot read: " + ErrnoText(err);
  } else if (!st.is_file) {
    problem = "not a regular file";
  } else if (st.size > (16u << 20)) {
    problem = "larger than 16 MiB";
  } else if (!fs_.Read(file, 0, st.size, &text, &err)) {
    problem = "cannot read: " + ErrnoText(err);
  }
  RegistryParse parsed;
  if (problem.empty()) {
    parsed = ParseRegistry(text, file, fs_);
    if (!parsed.ok) problem = parsed.error;
  }
  if (!problem.empty()) {
    if (metrics_.registry_errors) metrics_.registry_errors->Add();
    LogError("registry.rejected")
        .Kv("file", EscapeForDisplay(file))
        .Kv("error", problem)
        .Kv("kept_projects", static_cast<uint64_t>(projects_.size()))
        .Kv("note", registry_loaded_ ? "the last good registry stays in force"
                                     : "no registry yet; waiting for a valid file");
    return;
  }

  std::map<std::string, ProjectEntry> old_by_id;
  for (const auto& p : projects_) old_by_id[p.id] = p;
  std::map<std::string, ProjectEntry> new_by_id;
  for (const auto& p : parsed.projects) new_by_id[p.id] = p;

  std::vector<ProjectEntry> removed, added, moved;
  for (const auto& [id, p] : old_by_id)
    if (!new_by_id.count(id)) removed.push_back(p);
  for (const auto& [id, p] : new_by_id) {
    auto o = old_by_id.find(id);
    if (o == old_by_id.end()) added.push_back(p);
    else if (o->second.path != p.path) moved.push_back(o->second);
  }

  for (const auto& p : removed) watch_plan_.DropProject(p, state_.SourcesUnder(JoinPath(p.path, "coderef")));
  for (const auto& p : moved) watch_plan_.DropProject(p, state_.SourcesUnder(JoinPath(p.path, "coderef")));
  projects_ = parsed.projects;
  root_index_.clear();
  for (size_t i = 0; i < projects_.size(); ++i) root_index_.emplace(projects_[i].path, i);
  registry_loaded_ = true;
  if (metrics_.projects) metrics_.projects->Set(static_cast<int64_t>(projects_.size()));

  // Sources of removed or moved projects are re-evaluated (they now belong
  // to no project, or to the new path).
  for (const auto& p : removed)
    for (const auto& s : state_.SourcesUnder(p.path)) MarkFile(s);
  for (const auto& p : moved)
    for (const auto& s : state_.SourcesUnder(p.path)) MarkFile(s);
  // Hand-offs of any project may name it; global logs resolve project
  // columns through the registry: re-read them.
  for (const auto& l : global_logs_) MarkFile(l);

  for (const auto& p : removed) {
    differ_.RemoveItem(StateStore::ItemId(ProjectItem(p)), v1::EVENT_TYPE_PROJECT_REMOVED, trailing);
    LogInfo("project.removed").Kv("project", p.id);
  }
  for (const auto& p : projects_) {
    switch (differ_.PutItem(ProjectItem(p), v1::EVENT_TYPE_PROJECT_ADDED, v1::EVENT_TYPE_PROJECT_UPDATED,
                            events)) {
      case Differ::Put::kAdded:
        LogInfo("project.added").Kv("project", p.id).Kv("path", EscapeForDisplay(p.path));
        break;
      case Differ::Put::kUpdated:
        LogInfo("project.updated").Kv("project", p.id).Kv("path", EscapeForDisplay(p.path));
        break;
      case Differ::Put::kUnchanged:
        break;
    }
  }
  for (const auto& p : added) rescan_projects_.insert(p.id);
  for (const auto& p : moved) rescan_projects_.insert(p.id);
  LogInfo("registry.loaded")
      .Kv("file", EscapeForDisplay(file))
      .Kv("projects", static_cast<uint64_t>(projects_.size()))
      .Kv("added", static_cast<uint64_t>(added.size()))
      .Kv("removed", static_cast<uint64_t>(removed.size()));
}

// ---------------------------------------------------------------- events in

bool WatcherCore::IsTrackedFileEvent(const std::string& abs_path, bool is_dir) const {
  std::string rel;
  const ProjectEntry* p = ProjectFor(abs_path, &rel);
  if (!p) return false;
  if (is_dir) return WatchPlan::ModeFor(rel) != 0;
  return ClassifyPath(rel).has_value();
}

bool WatcherCore::OnRawEvents(const std::vector<RawEvent>& events, SteadyTime now) {
  bool relevant = false;
  for (const auto& ev : events) {
    if (metrics_.raw_events) metrics_.raw_events->Add();
    if (ev.type == RawEvent::Type::kOverflow) {
      if (metrics_.overflows) metrics_.overflows->Add();
      ScheduleRescan("IN_Q_OVERFLOW");
      relevant = true;
      continue;
    }
    if (ev.type == RawEvent::Type::kSelfGone) {
      const std::string& dir = ev.dir;
      if (dir == registry_dir_) registry_dirty_ = true;
      for (const auto& l : global_logs_)
        if (DirName(l) == dir) MarkFile(l);
      if (const auto* anchors = watch_plan_.AnchorsIn(dir)) {
        for (const auto& an : *anchors) rescan_projects_.insert(an.project_id);
      }
      std::string rel;
      if (const ProjectEntry* p = ProjectFor(dir, &rel)) {
        dirty_dirs_.insert(dir);
        if (rel == "coderef") rescan_projects_.insert(p->id);
      }
      for (const auto& p : projects_)
        if (p.path == dir) rescan_projects_.insert(p.id);
      dirty_files_.NoteRemoval();
      LogDebug("watch.dir_gone").Kv("dir", EscapeForDisplay(dir));
      relevant = true;
      continue;
    }
    std::string path = JoinPath(ev.dir, ev.name);
    if (ev.dir == registry_dir_ && ev.name == registry_name_) {
      registry_dirty_ = true;
      relevant = true;
    }
    if (global_logs_.count(path)) {
      // A log is tailed by whole lines: never held, but a writer that keeps
      // it open leaves the batch incomplete (it waits the settle window).
      dirty_files_.Mark(path, ev.completion, false, false, now);
      relevant = true;
    }
    if (const auto* anchors = watch_plan_.AnchorsIn(ev.dir)) {
      for (const auto& an : *anchors) {
        if (an.child == ev.name) {
          rescan_projects_.insert(an.project_id);
          relevant = true;
        }
      }
    }
    std::string rel;
    const ProjectEntry* p = ProjectFor(path, &rel);
    if (!p) continue;
    if (ev.is_dir) {
      if (WatchPlan::ModeFor(rel) == 0) continue;
      if (ev.type == RawEvent::Type::kCreated) {
        // Close the race: watch and scan the new folder now, before more
        // files land in it unseen. Files already closed in it count as
        // complete (their close came before the watch).
        scanner_.ScanNew(path, rel, now);
        dirty_dirs_.insert(path);
        relevant = true;
      } else if (ev.type == RawEvent::Type::kDeleted) {
        dirty_dirs_.insert(path);
        dirty_files_.NoteRemoval();
        relevant = true;
      }
    } else if (auto info = ClassifyPath(rel)) {
      dirty_files_.Mark(path, ev.completion, ev.type == RawEvent::Type::kDeleted, !info->is_log, now);
      relevant = true;
    }
  }
  return relevant;
}

// ---------------------------------------------------------------- flush

WatcherCore::LoadedFile WatcherCore::LoadFile(const std::string& source,
                                              const std::string& project_id,
                                              const std::string& rel, const PathInfo& info,
                                              bool hold_if_open) const {
  LoadedFile out;
  FileStat st;
  std::string data;
  bool read = false;
  int read_err = 0, err = 0;
  if (!fs_.StatAndRead(source, options_.max_parse_bytes, &st, &data, &read, &read_err, &err)) {
    // ENOENT: gone (a deletion). Anything else (ELOOP from a symlink loop,
    // EACCES from a folder we may not search) is published as absent too,
    // but never silently.
    if (err != ENOENT && err != ENOTDIR) out.skip_reason = "cannot stat: " + ErrnoText(err);
    return out;
  }
  if (!st.is_file) {
    out.skip_reason = st.is_dir ? "a folder, not a file" : "not a regular file (FIFO, device)";
    return out;
  }
  if (st.open_for_writing) {
    // Closed as far as the events said, but a writer opened it again and
    // its IN_MODIFY is not queued yet (the kernel queues it after the
    // truncate is visible): held as a new write, never read half-written.
    if (hold_if_open) {
      out.open_for_writing = true;
      return out;
    }
    if (st.size <= options_.max_parse_bytes) read = fs_.Read(source, 0, options_.max_parse_bytes, &data, &read_err);
  }
  FileFacts facts;
  facts.project_id = project_id;
  facts.rel_path = rel;
  facts.mtime_ms = st.mtime_ns / 1'000'000;
  facts.size = st.size;
  std::optional<std::string> content;
  if (read) {
    facts.size = data.size();
    facts.content_hash = Hash64(data);
    content = std::move(data);
  } else if (read_err != 0) {
    if (read_err == ENOENT) return out;
    out.read_error = "cannot read file: " + ErrnoText(read_err);
    facts.content_hash = Hash64(out.read_error);
  } else {
    // Too large to read: identity from size, mtime and inode.
    facts.content_hash = Hash64(std::to_string(st.size) + ':' + std::to_string(st.mtime_ns) +
                                ':' + std::to_string(st.ino));
  }
  out.counted = true;
  out.item = ParseFileItem(info, facts, content, options_.max_file_bytes);
  if (out.item && !out.read_error.empty()) {
    out.item->set_valid(false);
    out.item->set_parse_error(out.read_error);
  }
  return out;
}

WatcherCore::SourceClass WatcherCore::ClassifySource(const std::string& source,
                                                     const ProjectEntry** project,
                                                     std::string* rel,
                                                     std::optional<PathInfo>* info) const {
  if (global_logs_.count(source)) return SourceClass::kGlobalLog;
  *project = ProjectFor(source, rel);
  if (!*project) return SourceClass::kNoProject;
  *info = ClassifyPath(*rel);
  if (!*info) return SourceClass::kUntracked;
  if (!IsValidUtf8(*rel)) return SourceClass::kBadName;
  return (*info)->is_log ? SourceClass::kLog : SourceClass::kFile;
}

std::map<std::string, v1::Item> WatcherCore::ComputeItems(const std::string& source,
                                                          LoadedFile* preloaded) {
  std::map<std::string, v1::Item> out;
  auto take = [&](LoadedFile&& loaded) {
    if (loaded.counted && metrics_.files_read) metrics_.files_read->Add();
    if (!loaded.skip_reason.empty())
      LogWarn("file.skipped")
          .Kv("path", EscapeForDisplay(source))
          .Kv("reason", loaded.skip_reason)
          .Kv("note", "not published");
    if (!loaded.item) return;
    if (!loaded.read_error.empty())
      LogWarn("file.unreadable")
          .Kv("project", loaded.item->project())
          .Kv("path", loaded.item->file_path())
          .Kv("error", loaded.read_error);
    out.emplace(StateStore::ItemId(*loaded.item), std::move(*loaded.item));
  };
  if (preloaded) {  // classified and loaded by LoadFilesInParallel
    take(std::move(*preloaded));
    return out;
  }
  auto tail = [&](const std::map<std::string, v1::Item>& entries) {
    for (const auto& [key, item] : entries) out.emplace(StateStore::ItemId(item), item);
  };
  const ProjectEntry* p = nullptr;
  std::string rel;
  std::optional<PathInfo> info;
  switch (ClassifySource(source, &p, &rel, &info)) {
    case SourceClass::kGlobalLog:
      tail(logs_.Tail(source, EscapeInvalidUtf8(source), ""));
      return out;
    case SourceClass::kNoProject:
      logs_.Forget(source);
      return out;
    case SourceClass::kUntracked:
      return out;
    case SourceClass::kBadName:
      if (metrics_.bad_names) metrics_.bad_names->Add();
      LogWarn("file.bad_name")
          .Kv("project", p->id)
          .Kv("path", EscapeForDisplay(rel))
          .Kv("reason", "file name is not valid UTF-8; skipped");
      return out;
    case SourceClass::kLog:
      tail(logs_.Tail(source, rel, p->id));
      return out;
    case SourceClass::kFile:
      break;
  }
  take(LoadFile(source, p->id, rel, *info, /*hold_if_open=*/false));
  return out;
}

std::vector<WatcherCore::LoadedFile> WatcherCore::LoadFilesInParallel(
    const std::vector<const std::string*>& sources, const std::set<std::string>& expired) {
  // Reading and parsing dominate a large batch (the initial scan, a
  // rescan, a checkout); they touch nothing but the file system, so a few
  // threads share them. Everything else stays on the loop thread.
  std::vector<LoadedFile> out(sources.size());
  // Classifying is a read of the registry (const), so it runs on the
  // workers too; sources that are not plain files stay for the loop thread.
  loaders_.ForEach(sources.size(), LoaderPool::kMinItemsPerThread, [&](size_t k) {
    const ProjectEntry* p = nullptr;
    std::string rel;
    std::optional<PathInfo> info;
    if (ClassifySource(*sources[k], &p, &rel, &info) != SourceClass::kFile) return;
    out[k] = LoadFile(*sources[k], p->id, rel, *info, expired.count(*sources[k]) == 0);
    out[k].preloaded = true;
  });
  return out;
}

void WatcherCore::DiffSource(const std::string& source, LoadedFile* preloaded,
                             std::vector<v1::ChangeEvent>* events) {
  differ_.DiffSource(source, ComputeItems(source, preloaded), events);
}

void WatcherCore::DrainLateEvents(SteadyTime now) {
  if (backend_.fd() < 0) return;
  std::vector<RawEvent> late;
  backend_.ReadEvents(&late);
  if (!late.empty()) OnRawEvents(late, now);
}

std::vector<v1::ChangeEvent> WatcherCore::Flush(SteadyTime now) { return FlushBatch(now, true); }

std::vector<v1::ChangeEvent> WatcherCore::FlushBatch(SteadyTime now, bool emit) {
  std::vector<v1::ChangeEvent> out, trailing_out;
  std::vector<v1::ChangeEvent>* events = emit ? &out : nullptr;
  std::vector<v1::ChangeEvent>* trailing = emit ? &trailing_out : nullptr;
  if (full_rescan_) {
    full_rescan_ = false;
    registry_dirty_ = true;
    for (const auto& p : projects_) rescan_projects_.insert(p.id);
    for (const auto& s : state_.AllSources()) MarkFile(s);
    for (const auto& l : global_logs_) MarkFile(l);
  }
  if (registry_dirty_) {
    registry_dirty_ = false;
    EnsureBaseWatches();
    ReloadRegistry(events, trailing);
  }
  std::set<std::string> rescan;
  rescan.swap(rescan_projects_);
  // Many projects to scan (start-up, a full rescan): feature folders are
  // watched in order but listed together on several threads.
  std::vector<Scanner::Deferred> deferred;
  std::vector<Scanner::Deferred>* defer = loaders_.threads() > 1 && rescan.size() >= 16 ? &deferred : nullptr;
  for (const auto& id : rescan) {
    const ProjectEntry* p = ProjectById(id);
    if (!p) continue;
    watch_plan_.AnchorProject(*p);
    ScanProject(*p, defer);
    // Its folder or coderef/ may have appeared or gone (exists, has_coderef).
    differ_.PutItem(ProjectItem(*p), v1::EVENT_TYPE_PROJECT_ADDED, v1::EVENT_TYPE_PROJECT_UPDATED, events);
  }
  if (!deferred.empty()) scanner_.ListDeferred(&deferred);
  std::set<std::string> dirs;
  dirs.swap(dirty_dirs_);
  for (const auto& d : dirs) {
    for (const auto& s : state_.SourcesUnder(d)) MarkFile(s);
    std::string rel;
    if (ProjectFor(d, &rel)) {
      FileStat st;
      int err = 0;
      if (fs_.Stat(d, &st, &err) && st.is_dir && !st.is_symlink) scanner_.Scan(d, rel);
    }
  }
  std::vector<std::string> expired;
  std::vector<std::string> files = dirty_files_.Take(now, &expired);
  const std::set<std::string> expired_set(expired.begin(), expired.end());
  for (const auto& f : expired)
    LogInfo("file.hold_expired")
        .Kv("path", EscapeForDisplay(f))
        .Kv("note", "still open for writing after --max-hold-ms; published as it is");
  last_flush_files_ = files.size();
  // Read first, then diff. Between the two, the backend is drained: a file
  // touched again while it was read (truncated and rewritten in place) may
  // have been read half-written, so that read is dropped and the file,
  // dirty again, goes out with a later batch. In chunks, so a rescan of
  // every file holds a few thousand freshly read items at a time, not a
  // second copy of the whole state.
  const size_t chunk = loaders_.threads() > 1 && files.size() >= 2 * LoaderPool::kMinItemsPerThread
                           ? size_t{4096}
                           : std::max<size_t>(files.size(), 1);
  std::vector<const std::string*> list;
  list.reserve(std::min(files.size(), chunk));
  for (size_t at = 0; at < files.size(); at += chunk) {
    list.clear();
    for (size_t i = at; i < files.size() && list.size() < chunk; ++i) list.push_back(&files[i]);
    std::vector<LoadedFile> loaded = LoadFilesInParallel(list, expired_set);
    DrainLateEvents(now);
    for (size_t i = 0; i < list.size(); ++i) {
      if (!loaded[i].preloaded) {
        DiffSource(*list[i], nullptr, events);  // logs and oddities: read here
      } else if (dirty_files_.Contains(*list[i])) {
        LogDebug("file.reread").Kv("path", EscapeForDisplay(*list[i])).Kv("reason", "changed while read");
      } else if (loaded[i].open_for_writing) {
        // A new write began before its first event: held from now.
        dirty_files_.Mark(*list[i], Completion::kInProgress, false, true, now);
        LogDebug("file.held").Kv("path", EscapeForDisplay(*list[i])).Kv("reason", "open for writing");
      } else {
        DiffSource(*list[i], &loaded[i], events);
      }
    }
  }
  for (auto& ev : trailing_out) out.push_back(std::move(ev));
  if (metrics_.items) metrics_.items->Set(static_cast<int64_t>(state_.size()));
  if (metrics_.watches) metrics_.watches->Set(static_cast<int64_t>(backend_.watch_count()));
  return out;
}

}  // namespace coderef::watcher
