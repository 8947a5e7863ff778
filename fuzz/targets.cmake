# The fuzz targets: <name>_fuzzer.cc defines LLVMFuzzerTestOneInput and links
# the libraries in fuzz_<name>_LIBS. Shared by fuzz/CMakeLists.txt (libFuzzer
# binaries, clang) and fuzz/replay.cmake (the regression replay, any compiler).
set(CODEREF_FUZZ_WATCHER_TARGETS registry item_parser workorder_log)
set(CODEREF_FUZZ_GATEWAY_TARGETS feed client_ws query ws_frames fan_out http_request)

# (the small libraries: the fuzz build then compiles neither the gateway's
# websocketpp server nor the CLI11 flags nor the watcher's loop)
set(fuzz_registry_LIBS coderef::watcher_parsers)
set(fuzz_item_parser_LIBS coderef::watcher_parsers)
set(fuzz_workorder_log_LIBS coderef::watcher_parsers)
set(fuzz_feed_LIBS coderef::gateway_core nlohmann_json::nlohmann_json)
set(fuzz_client_ws_LIBS coderef::gateway_core nlohmann_json::nlohmann_json)
set(fuzz_query_LIBS coderef::gateway_core nlohmann_json::nlohmann_json)
set(fuzz_ws_frames_LIBS coderef::gateway_core)
set(fuzz_fan_out_LIBS coderef::gateway_core)
set(fuzz_http_request_LIBS coderef::gateway_core)

set(CODEREF_FUZZ_TARGETS ${CODEREF_FUZZ_WATCHER_TARGETS})
if(TARGET coderef_gateway)
  list(APPEND CODEREF_FUZZ_TARGETS ${CODEREF_FUZZ_GATEWAY_TARGETS})
endif()
