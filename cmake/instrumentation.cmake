# Instrumentation flags as INTERFACE targets, chosen by the preset's cache
# variables (CMakePresets.json) and linked by coderef::options, so every
# target gets them and no folder rewrites another's flags:
#
#   coderef::sanitizers   -fsanitize=${CODEREF_SANITIZE}  (dev: address,undefined;
#                         tsan: thread; fuzz: address,undefined)
#   coderef::fuzzing      libFuzzer coverage (-fsanitize=fuzzer-no-link) when
#                         CODEREF_FUZZ is on (dev and fuzz presets, clang)
#   coderef::warnings_as_errors  -Werror when CODEREF_WERROR is on (ci preset,
#                         the build stage of scripts/test.sh)
#
# Test code (targets with CODEREF_TEST_CODE set, see tests/CMakeLists.txt) is
# not instrumented by ASan/UBSan or for coverage: the product's code is what
# they check, and instrumented -O0 test TUs doubled the sanitizer build's
# time. It still links the runtime. TSan instruments everything:
# synchronisation in uninstrumented code would be invisible to it and cause
# false reports.
set(CODEREF_SANITIZE "" CACHE STRING "Sanitizers: address,undefined | thread | empty")
option(CODEREF_FUZZ "Build libFuzzer targets (clang only)" OFF)
option(CODEREF_WERROR "Treat compiler warnings as errors" OFF)

set(product_code "$<NOT:$<BOOL:$<TARGET_PROPERTY:CODEREF_TEST_CODE>>>")

add_library(coderef_sanitizers INTERFACE)
add_library(coderef::sanitizers ALIAS coderef_sanitizers)
if(CODEREF_SANITIZE)
  if(CODEREF_SANITIZE MATCHES "thread")
    target_compile_options(coderef_sanitizers INTERFACE -fsanitize=${CODEREF_SANITIZE})
  else()
    target_compile_options(coderef_sanitizers INTERFACE $<${product_code}:-fsanitize=${CODEREF_SANITIZE}>)
    # clang's vptr check reports Asio's std::error_category objects (whose
    # type info lives in gcc-built libstdc++) as "invalid vptr" on the first
    # error_code::message() call: a false positive of mixing compilers.
    if(CMAKE_CXX_COMPILER_ID MATCHES "Clang" AND CODEREF_SANITIZE MATCHES "undefined")
      target_compile_options(coderef_sanitizers INTERFACE -fno-sanitize=vptr)
    endif()
  endif()
  target_compile_options(coderef_sanitizers INTERFACE -fno-omit-frame-pointer)
  target_link_options(coderef_sanitizers INTERFACE -fsanitize=${CODEREF_SANITIZE})
endif()

add_library(coderef_fuzzing INTERFACE)
add_library(coderef::fuzzing ALIAS coderef_fuzzing)
if(CODEREF_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "CODEREF_FUZZ needs clang (cmake --preset fuzz or dev)")
  endif()
  if(NOT CODEREF_SANITIZE MATCHES "address")
    message(FATAL_ERROR "CODEREF_FUZZ needs CODEREF_SANITIZE=address,undefined (the fuzz and dev presets set both)")
  endif()
  # The coverage libFuzzer steers by, on the product's code; a fuzzer that
  # finds undefined behaviour stops there.
  target_compile_options(coderef_fuzzing INTERFACE
    $<${product_code}:-fsanitize=fuzzer-no-link> -fno-sanitize-recover=undefined)
endif()

add_library(coderef_warnings_as_errors INTERFACE)
add_library(coderef::warnings_as_errors ALIAS coderef_warnings_as_errors)
if(CODEREF_WERROR)
  target_compile_options(coderef_warnings_as_errors INTERFACE -Werror)
endif()
unset(product_code)
