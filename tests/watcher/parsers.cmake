# Unit tests of watcher-svc's pure parsers (item_parser, workorder_log,
# registry), over the in-memory FakeFileSystem (fake_file_system.h).
coderef_test(watcher_parsers_test
  SOURCES item_parser_test.cpp workorder_log_test.cpp registry_test.cpp
  LIBS coderef::watcher)
