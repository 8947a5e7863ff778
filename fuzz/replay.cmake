# Regression replay of the fuzz targets in the ordinary build (any compiler,
# any sanitizer preset): one small driver per target runs every file of
# fuzz/regressions/<target>/ (crashes found and fixed) and
# fuzz/corpus/<target>/ (the seeds) through LLVMFuzzerTestOneInput.
# Included from tests/faults/CMakeLists.txt.
include(${PROJECT_SOURCE_DIR}/fuzz/targets.cmake)
foreach(t IN LISTS CODEREF_FUZZ_TARGETS)
  add_executable(fuzz_replay_${t} ${PROJECT_SOURCE_DIR}/fuzz/${t}_fuzzer.cc
                                  ${PROJECT_SOURCE_DIR}/fuzz/replay_main.cc)
  target_include_directories(fuzz_replay_${t} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(fuzz_replay_${t} PRIVATE ${fuzz_${t}_LIBS} coderef::options)
  add_test(NAME fuzz_replay.${t}
           COMMAND fuzz_replay_${t} ${PROJECT_SOURCE_DIR}/fuzz/regressions/${t}
                   ${PROJECT_SOURCE_DIR}/fuzz/corpus/${t})
  set_tests_properties(fuzz_replay.${t} PROPERTIES LABELS "unit;fuzz" TIMEOUT 120)
endforeach()
