#include "watcher-svc/registry.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <map>
#include <optional>

#include "common/text.h"

namespace coderef::watcher {
namespace {

using nlohmann::json;

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

// A value quoted for an error message (one line, printable).
std::string Quote(std::string_view s) { return "\"" + EscapeForDisplay(s) + "\""; }

std::string TypeName(const json& v) { return v.type_name(); }

RegistryParse Fail(std::string error) {
  RegistryParse r;
  r.error = std::move(error);
  return r;
}

// nlohmann's message without its "[json.exception.parse_error.101] " tag.
std::string DescribeJsonError(const json::exception& e) {
  std::string_view what = e.what();
  if (!what.empty() && what.front() == '[') {
    auto close = what.find("] ");
    if (close != std::string_view::npos) what.remove_prefix(close + 2);
  }
  return EscapeForDisplay(what);
}

// Reads a required string member; on failure returns the error text.
std::optional<std::string> RequiredString(const json& entry, const char* field,
                                          const std::string& where, std::string* value) {
  auto it = entry.find(field);
  if (it == entry.end()) return where + ": missing \"" + field + "\"";
  if (!it->is_string())
    return where + ": \"" + field + "\" must be a string, not " + TypeName(*it);
  *value = it->get<std::string>();
  if (Trim(*value).empty()) return where + ": \"" + field + "\" is empty";
  return std::nullopt;
}

}  // namespace

RegistryParse ParseRegistry(std::string_view text, const std::string& registry_path,
                            FileSystem& fs) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    return Fail("not valid JSON: " + DescribeJsonError(e));
  }
  if (!doc.is_object())
    return Fail("expected a JSON object with a \"projects\" array, not " + TypeName(doc));
  auto projects = doc.find("projects");
  if (projects == doc.end()) return Fail("missing the \"projects\" array");
  if (!projects->is_array())
    return Fail("\"projects\" must be an array, not " + TypeName(*projects));

  const std::string base_dir = DirName(NormalizePath(registry_path));
  RegistryParse out;
  std::map<std::string, size_t> index_of_id;
  for (size_t i = 0; i < projects->size(); ++i) {
    const json& entry = (*projects)[i];
    const std::string where = "projects[" + std::to_string(i) + "]";
    if (!entry.is_object()) return Fail(where + ": expected an object, not " + TypeName(entry));

    ProjectEntry p;
    if (auto err = RequiredString(entry, "name", where, &p.name)) return Fail(*err);
    std::string raw_path;
    if (auto err = RequiredString(entry, "path", where, &raw_path)) return Fail(*err);

    auto id = entry.find("id");
    if (id == entry.end() || id->is_null()) {
      p.id = Slugify(p.name);
      if (p.id.empty())
        return Fail(where + ": name " + Quote(p.name) +
                    " gives an empty id; set \"id\" ([a-z0-9._-])");
    } else {
      if (!id->is_string())
        return Fail(where + ": \"id\" must be a string, not " + TypeName(*id));
      p.id = id->get<std::string>();
      if (p.id.empty()) return Fail(where + ": \"id\" is empty");
      for (char c : p.id) {
        if (!IsIdChar(c))
          return Fail(where + ": id " + Quote(p.id) + " has characters outside [a-z0-9._-]");
      }
    }
    auto [seen, inserted] = index_of_id.emplace(p.id, i);
    if (!inserted) {
      return Fail(where + ": duplicate id " + Quote(p.id) + " (also projects[" +
                  std::to_string(seen->second) + "])");
    }

    // "~" is not expanded: the service does not run in a shell.
    p.path = NormalizePath(raw_path.front() == '/' ? raw_path : JoinPath(base_dir, raw_path));
    if (p.path == "/")
      return Fail(where + ": path " + Quote(raw_path) + " is the filesystem root");
    FileStat st;
    int err = 0;
    if (fs.Stat(p.path, &st, &err)) {
      if (!st.is_dir)
        return Fail(where + ": path " + Quote(p.path) + " exists but is not a folder");
    } else if (err == ENOTDIR) {
      return Fail(where + ": path " + Quote(p.path) + " is under a file, not a folder");
    }
    // Any other stat failure (ENOENT, EACCES...) is a project that is not
    // there yet: it is picked up when it appears.
    out.projects.push_back(std::move(p));
  }
  out.ok = true;
  return out;
}

}  // namespace coderef::watcher
