#!/usr/bin/env python3
"""Generates a synthetic workspace for the watcher scale benchmark.

  gen_workspace.py DIR --projects 1000 --folders-per-project 10 --files-per-folder 10

Each feature folder gets plan.json, stub.json, communication.json (tracked)
and untracked notes, so that projects*folders*files files exist in all.
"""
import argparse, json, os

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--projects", type=int, default=1000)
    ap.add_argument("--folders-per-project", type=int, default=10)
    ap.add_argument("--files-per-folder", type=int, default=10)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    projects = []
    for p in range(a.projects):
        name = f"proj-{p:04d}"
        projects.append({"name": name, "path": name})
        for f in range(a.folders_per_project):
            loc = "archived" if f % 5 == 4 else "working"
            d = os.path.join(a.dir, name, "coderef", loc, f"feature-{f:03d}")
            os.makedirs(d, exist_ok=True)
            files = {
                "plan.json": json.dumps({"META_DOCUMENTATION": {"feature_name": f"feature-{f:03d}", "status": "in_progress", "project": name, "workorder_id": f"WO-{p:04d}-{f:03d}"}}),
                "stub.json": json.dumps({"feature_name": f"feature-{f:03d}", "description": "synthetic", "category": "feature", "priority": "medium", "created": "2026-11-01", "status": "stub"}),
                "communication.json": json.dumps({"handoff": {"workorder_id": f"WO-{p:04d}-{f:03d}", "feature_name": f"feature-{f:03d}", "type": "implementation", "status": "pending", "initiated_at": "2026-11-01T10:00:00Z", "from": "planner", "to": "coder"}}),
            }
            for i in range(max(0, a.files_per_folder - 3)):
                files[f"notes-{i}.md"] = "# notes\n"
            for fn, text in list(files.items())[: a.files_per_folder]:
                with open(os.path.join(d, fn), "w") as fh:
                    fh.write(text)
    with open(os.path.join(a.dir, "projects.json"), "w") as fh:
        json.dump({"projects": projects}, fh)

if __name__ == "__main__":
    main()
