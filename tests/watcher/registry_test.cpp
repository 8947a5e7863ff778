#include "watcher-svc/registry.h"

#include <gtest/gtest.h>

#include "tests/watcher/fake_file_system.h"

namespace coderef::watcher {
namespace {

const std::string kRegistry = "/etc/coderef/projects.json";

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_.MkDir("/srv/projects/next");
    fs_.MkDir("/etc/noted");
    fs_.AddFile("/srv/projects/readme.txt", "not a folder");
  }
  RegistryParse Parse(const std::string& text) { return ParseRegistry(text, kRegistry, fs_); }
  // Expects a rejection whose message contains every one of `parts`.
  void ExpectError(const std::string& text, std::initializer_list<const char*> parts) {
    RegistryParse r = Parse(text);
    EXPECT_FALSE(r.ok) << text;
    EXPECT_TRUE(r.projects.empty()) << text;
    for (const char* p : parts)
      EXPECT_NE(r.error.find(p), std::string::npos) << "'" << r.error << "' lacks '" << p << "'";
  }

  FakeFileSystem fs_;
};

TEST_F(RegistryTest, GoodFile) {
  RegistryParse r = Parse(R"({"projects": [
      {"name": "scriptboard", "path": "/srv/projects/next"},
      {"name": "noted", "path": "../noted", "id": "noted"}]})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.projects.size(), 2u);
  EXPECT_EQ(r.projects[0], (ProjectEntry{"scriptboard", "scriptboard", "/srv/projects/next"}));
  EXPECT_EQ(r.projects[1], (ProjectEntry{"noted", "noted", "/etc/noted"}));
}

TEST_F(RegistryTest, EmptyListIsValid) {
  RegistryParse r = Parse(R"({"projects": []})");
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.projects.empty());
}

TEST_F(RegistryTest, RelativePathsAreResolvedAndNormalised) {
  RegistryParse r = Parse(R"({"projects": [
      {"name": "a", "path": "."},
      {"name": "b", "path": "sub/./dir/"},
      {"name": "c", "path": "../../srv/projects/next/"},
      {"name": "d", "path": "/srv//projects/x/../next"}]})");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.projects.size(), 4u);
  EXPECT_EQ(r.projects[0].path, "/etc/coderef");
  EXPECT_EQ(r.projects[1].path, "/etc/coderef/sub/dir");
  EXPECT_EQ(r.projects[2].path, "/srv/projects/next");
  EXPECT_EQ(r.projects[3].path, "/srv/projects/next");
}

TEST_F(RegistryTest, IdDefaultsToSlugOfName) {
  RegistryParse r = Parse(R"json({"projects": [
      {"name": "My Project (v2)", "path": "/srv/a"},
      {"name": "Scriptboard", "path": "/srv/b", "id": null},
      {"name": "x", "path": "/srv/c", "id": "custom.id_1-a"}]})json");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.projects[0].id, "my-project-v2");
  EXPECT_EQ(r.projects[0].name, "My Project (v2)");
  EXPECT_EQ(r.projects[1].id, "scriptboard");
  EXPECT_EQ(r.projects[2].id, "custom.id_1-a");
}

TEST_F(RegistryTest, NonexistentPathIsAllowed) {
  RegistryParse r = Parse(R"({"projects": [{"name": "later", "path": "/srv/not/yet"}]})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.projects[0].path, "/srv/not/yet");
}

TEST_F(RegistryTest, ExtraMembersAreIgnored) {
  RegistryParse r = Parse(R"({"version": 2, "projects": [
      {"name": "a", "path": "/srv/a", "color": "red"}]})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.projects.size(), 1u);
}

TEST_F(RegistryTest, InvalidJsonNamesThePosition) {
  ExpectError("{\"projects\": [\n  {\"name\": \"a\", \"path\": \"/x\"},\n", {"not valid JSON", "line"});
  ExpectError("{\"projects\": [\n  {\"name\": \"a\" \"path\": \"/x\"}]}", {"line 2, column"});
  ExpectError("", {"not valid JSON"});
  ExpectError("{\"projects\": [{\"name\": \"\xff\"}]}", {"not valid JSON"});
}

TEST_F(RegistryTest, InvalidJsonErrorIsPrintable) {
  RegistryParse r = Parse("{\"projects\": [{\"name\": \"\xff\x01\"}]}");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.find('\xff'), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find('\x01'), std::string::npos) << r.error;
}

TEST_F(RegistryTest, NotAnObjectWithProjectsArray) {
  ExpectError(R"([{"name": "a", "path": "/x"}])", {"object", "\"projects\""});
  ExpectError(R"("projects")", {"object"});
  ExpectError(R"({})", {"missing", "\"projects\""});
  ExpectError(R"({"project": []})", {"missing", "\"projects\""});
  ExpectError(R"({"projects": {"a": {}}})", {"\"projects\" must be an array", "object"});
  ExpectError(R"({"projects": null})", {"\"projects\" must be an array"});
}

TEST_F(RegistryTest, EntryNotAnObject) {
  ExpectError(R"({"projects": [{"name": "a", "path": "/x"}, "b"]})",
              {"projects[1]", "expected an object", "string"});
  ExpectError(R"({"projects": [null]})", {"projects[0]", "expected an object"});
}

TEST_F(RegistryTest, MissingOrNonStringName) {
  ExpectError(R"({"projects": [{"path": "/x"}]})", {"projects[0]", "missing \"name\""});
  ExpectError(R"({"projects": [{"name": 3, "path": "/x"}]})",
              {"projects[0]", "\"name\" must be a string", "number"});
  ExpectError(R"({"projects": [{"name": null, "path": "/x"}]})",
              {"projects[0]", "\"name\" must be a string"});
}

TEST_F(RegistryTest, EmptyName) {
  ExpectError(R"({"projects": [{"name": "", "path": "/x"}]})", {"projects[0]", "\"name\" is empty"});
  ExpectError(R"({"projects": [{"name": "  ", "path": "/x"}]})", {"\"name\" is empty"});
}

TEST_F(RegistryTest, MissingOrNonStringPath) {
  ExpectError(R"({"projects": [{"name": "a", "path": "/x"}, {"name": "b"}]})",
              {"projects[1]", "missing \"path\""});
  ExpectError(R"({"projects": [{"name": "a", "path": ["/x"]}]})",
              {"projects[0]", "\"path\" must be a string", "array"});
  ExpectError(R"({"projects": [{"name": "a", "path": ""}]})", {"projects[0]", "\"path\" is empty"});
}

TEST_F(RegistryTest, NameThatSlugifiesToNothing) {
  ExpectError(R"({"projects": [{"name": "!!!", "path": "/x"}]})",
              {"projects[0]", "\"!!!\"", "empty id"});
  // An explicit id makes it fine.
  RegistryParse r = Parse(R"({"projects": [{"name": "!!!", "path": "/x", "id": "bang"}]})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.projects[0].id, "bang");
}

TEST_F(RegistryTest, BadIds) {
  ExpectError(R"({"projects": [{"name": "a", "path": "/x", "id": "Noted"}]})",
              {"projects[0]", "\"Noted\"", "[a-z0-9._-]"});
  ExpectError(R"({"projects": [{"name": "a", "path": "/x", "id": "a/b"}]})",
              {"projects[0]", "[a-z0-9._-]"});
  ExpectError(R"({"projects": [{"name": "a", "path": "/x", "id": "a b"}]})", {"[a-z0-9._-]"});
  ExpectError(R"({"projects": [{"name": "a", "path": "/x", "id": ""}]})",
              {"projects[0]", "\"id\" is empty"});
  ExpectError(R"({"projects": [{"name": "a", "path": "/x", "id": 7}]})",
              {"projects[0]", "\"id\" must be a string"});
}

TEST_F(RegistryTest, DuplicateIds) {
  ExpectError(R"({"projects": [
      {"name": "noted", "path": "/a"},
      {"name": "other", "path": "/b"},
      {"name": "x", "path": "/c", "id": "noted"}]})",
              {"projects[2]", "duplicate id \"noted\"", "projects[0]"});
  // Also when both come from names.
  ExpectError(R"({"projects": [{"name": "Noted", "path": "/a"}, {"name": "noted", "path": "/b"}]})",
              {"projects[1]", "duplicate id \"noted\""});
}

TEST_F(RegistryTest, PathThatIsNotAFolder) {
  ExpectError(R"({"projects": [{"name": "a", "path": "/srv/projects/readme.txt"}]})",
              {"projects[0]", "/srv/projects/readme.txt", "not a folder"});
  ExpectError(R"({"projects": [{"name": "a", "path": "/srv/projects/readme.txt/sub"}]})",
              {"projects[0]", "not a folder"});
}

TEST_F(RegistryTest, FilesystemRoot) {
  ExpectError(R"({"projects": [{"name": "a", "path": "/"}]})", {"projects[0]", "root"});
  ExpectError(R"({"projects": [{"name": "a", "path": "/srv/.."}]})", {"projects[0]", "root"});
  ExpectError(R"({"projects": [{"name": "a", "path": "../../../.."}]})", {"root"});
}

TEST_F(RegistryTest, SymlinkToAFolderIsAFolder) {
  fs_.Symlink("/srv/projects/next", "/srv/link");
  RegistryParse r = Parse(R"({"projects": [{"name": "a", "path": "/srv/link"}]})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.projects[0].path, "/srv/link");
}

TEST_F(RegistryTest, UnreadablePathIsTreatedAsNotThereYet) {
  fs_.InjectError("/srv/secret", EACCES);
  RegistryParse r = Parse(R"({"projects": [{"name": "a", "path": "/srv/secret"}]})");
  EXPECT_TRUE(r.ok) << r.error;
}

}  // namespace
}  // namespace coderef::watcher
