# Gateway side of PROTOCOL §1 (restarts): gaps and resumes served from the
# watcher's history.
coderef_test(history_fetcher_test SOURCES history_fetcher_test.cpp LIBS coderef::gateway_core)
coderef_test(durable_e2e_test SOURCES durable_e2e_test.cpp
  LIBS coderef::testsupport nlohmann_json::nlohmann_json LABELS e2e)
add_dependencies(durable_e2e_test gateway-svc watcher-svc)
# slow: 40 s of changes with 8 kill -9 of the watcher (CI runs it; the
# default test command may skip the label).
coderef_test(durable_crash_loop_test SOURCES durable_crash_loop_test.cpp
  LIBS coderef::testsupport nlohmann_json::nlohmann_json LABELS e2e slow)
add_dependencies(durable_crash_loop_test gateway-svc watcher-svc)
