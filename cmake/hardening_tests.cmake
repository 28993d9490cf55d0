# ctest registrations for the short fuzz runs (label `fuzz`) and the ThreadSanitizer protocol
# tests (label `tsan`). Both need a build of their own (clang + libFuzzer, -fsanitize=thread),
# which a setup test makes once with a script before the tests that need it (ctest fixtures).

# ---- fuzz/: each target for FUZZ_SECONDS (default 60) seconds.
set(PARLEY_CI_FUZZ_SECONDS 60 CACHE STRING "Seconds each fuzz target runs under ctest")
file(STRINGS "${CMAKE_SOURCE_DIR}/fuzz/targets.txt" _fuzz_targets REGEX "^[a-z_]+$")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${CMAKE_SOURCE_DIR}/fuzz/targets.txt")
add_test(NAME fuzz/build COMMAND "${CMAKE_SOURCE_DIR}/fuzz/run.sh" --build-only)
set_tests_properties(fuzz/build PROPERTIES
  LABELS fuzz FIXTURES_SETUP fuzz_build RESOURCE_LOCK build_cpu TIMEOUT 1800)
foreach(t IN LISTS _fuzz_targets)
  add_test(NAME fuzz/${t} COMMAND "${CMAKE_SOURCE_DIR}/fuzz/run.sh" ${t} ${PARLEY_CI_FUZZ_SECONDS})
  set_tests_properties(fuzz/${t} PROPERTIES
    LABELS fuzz FIXTURES_REQUIRED fuzz_build TIMEOUT 900)
endforeach()

# ---- ThreadSanitizer: protocol tests that spread connections over 4 shards.
execute_process(COMMAND "${CMAKE_SOURCE_DIR}/scripts/tsan-tests" --list
                OUTPUT_VARIABLE _tsan_files OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE _tsan_rc)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${CMAKE_SOURCE_DIR}/scripts/tsan-tests")
if(NOT _tsan_rc EQUAL 0)
  message(FATAL_ERROR "scripts/tsan-tests --list failed")
endif()
string(REPLACE "\n" ";" _tsan_files "${_tsan_files}")
add_test(NAME tsan/build COMMAND "${CMAKE_SOURCE_DIR}/scripts/tsan-tests" --build-only)
set_tests_properties(tsan/build PROPERTIES
  LABELS tsan FIXTURES_SETUP tsan_build RESOURCE_LOCK build_cpu TIMEOUT 2400)
foreach(f IN LISTS _tsan_files)
  get_filename_component(name "${f}" NAME_WE)
  add_test(NAME tsan/${name} COMMAND "${CMAKE_SOURCE_DIR}/scripts/tsan-tests" "${f}")
  set_tests_properties(tsan/${name} PROPERTIES
    LABELS tsan FIXTURES_REQUIRED tsan_build TIMEOUT 900)
endforeach()
