// The project registry: parsing projects.json (PROTOCOL §0).
// Pure function plus a FileSystem for "is this a folder" checks.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "watcher-svc/file_system.h"

namespace coderef::watcher {

struct ProjectEntry {
  std::string id;    // given, or Slugify(name)
  std::string name;
  std::string path;  // absolute and normalised (relative paths resolved
                     // against the folder holding projects.json)
  bool operator==(const ProjectEntry& o) const {
    return id == o.id && name == o.name && path == o.path;
  }
};

struct RegistryParse {
  bool ok = false;
  std::string error;  // when !ok: names the problem, e.g.
                      // "projects[2]: duplicate id \"noted\""
  std::vector<ProjectEntry> projects;  // when ok, in file order
};

// Parses the text of projects.json located at `registry_path` (absolute).
// Errors (the whole file is rejected, so the caller keeps its last good
// registry): not valid JSON (with line/column), not an object with a
// "projects" array, an entry that is not an object, a missing or non-string
// "name" or "path", an empty name, an id that slugifies to "", an id with
// characters outside [a-z0-9._-], duplicate ids, a path that exists but is
// not a folder, a path that is the filesystem root "/". A path that does not
// exist yet is fine (the project is picked up when it appears).
// Also rejected: an empty or blank "path", a non-string "id" ("id": null is
// the same as no id), a path under a regular file (ENOTDIR). Only the first
// error is reported. "~" is not expanded. Other members are ignored.
RegistryParse ParseRegistry(std::string_view text, const std::string& registry_path,
                            FileSystem& fs);

}  // namespace coderef::watcher
