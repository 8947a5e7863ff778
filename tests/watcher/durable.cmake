# Durable state (--state-dir, PROTOCOL §1 (restarts)): the store over LevelDB
# with a fault-injecting Env, and the restart tests with real processes.
coderef_test(state_db_test SOURCES state_db_test.cpp durable_state_test.cpp LIBS coderef::watcher)
coderef_test(durable_restart_test SOURCES durable_restart_test.cpp
  LIBS coderef::proto coderef::common cppzmq ${CODEREF_LEVELDB} LABELS integration)
add_dependencies(durable_restart_test watcher-svc)
