# Fuzz targets (fuzz/fuzz_*.c, one LLVMFuzzerTestOneInput each).
#
# LULL_FUZZ=ON (scripts/fuzz.sh, clang, with the sanitizer and
# -fsanitize=fuzzer-no-link flags in CMAKE_C_FLAGS): libFuzzer binaries.
# Otherwise: each target linked with fuzz/replay_main.c and registered as the
# CTest test fuzz_replay_<target>, which replays its committed corpus
# fuzz/corpus/<target>/ - so every seed and every regression input runs in
# `make test` and under ASan.
option(LULL_FUZZ "Build libFuzzer targets (clang only; see scripts/fuzz.sh)" OFF)

set(LULL_FUZZ_ENGINE_TARGETS fuzz_frame fuzz_server_engine fuzz_client_engine fuzz_noise_read
    fuzz_stream)
# The CLI parsers live in lull_daemon (cmake/daemon.cmake).
set(LULL_FUZZ_CLI_TARGETS fuzz_keyfile fuzz_config fuzz_authfile)
# The PROXY header parser is the engine library's (src/proxy_proto.c).
list(APPEND LULL_FUZZ_ENGINE_TARGETS fuzz_proxy_proto)

set(LULL_FUZZ_TARGETS)
foreach(t ${LULL_FUZZ_ENGINE_TARGETS})
  if(EXISTS ${CMAKE_SOURCE_DIR}/fuzz/${t}.c)
    list(APPEND LULL_FUZZ_TARGETS ${t})
  endif()
endforeach()
if(TARGET lull_daemon)
  foreach(t ${LULL_FUZZ_CLI_TARGETS})
    if(EXISTS ${CMAKE_SOURCE_DIR}/fuzz/${t}.c)
      list(APPEND LULL_FUZZ_TARGETS ${t})
    endif()
  endforeach()
endif()

function(lull_fuzz_link target src)
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/src
                             ${CMAKE_SOURCE_DIR}/tests ${CMAKE_SOURCE_DIR}/fuzz)
  target_compile_options(${target} PRIVATE ${LULL_WARNINGS})
  if(src IN_LIST LULL_FUZZ_CLI_TARGETS)
    target_link_libraries(${target} PRIVATE lull_daemon)
  else()
    target_link_libraries(${target} PRIVATE lull)
  endif()
endfunction()

foreach(t ${LULL_FUZZ_TARGETS})
  if(LULL_FUZZ)
    add_executable(${t} ${CMAKE_SOURCE_DIR}/fuzz/${t}.c)
    lull_fuzz_link(${t} ${t})
    target_link_options(${t} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${t}_replay ${CMAKE_SOURCE_DIR}/fuzz/${t}.c
                   ${CMAKE_SOURCE_DIR}/fuzz/replay_main.c)
    lull_fuzz_link(${t}_replay ${t})
    add_test(NAME fuzz_replay_${t}
             COMMAND ${t}_replay ${CMAKE_SOURCE_DIR}/fuzz/corpus/${t})
    set_tests_properties(fuzz_replay_${t} PROPERTIES LABELS fuzz TIMEOUT 300)
  endif()
endforeach()

# The seed corpus generator (fuzz/make_corpus runs it).  Not a test.
if(NOT LULL_FUZZ AND TARGET lull_daemon)
  add_executable(fuzz_make_corpus ${CMAKE_SOURCE_DIR}/fuzz/make_corpus.c)
  target_include_directories(fuzz_make_corpus PRIVATE ${CMAKE_SOURCE_DIR}/src
                             ${CMAKE_SOURCE_DIR}/tests ${CMAKE_SOURCE_DIR}/fuzz)
  target_compile_options(fuzz_make_corpus PRIVATE ${LULL_WARNINGS})
  target_link_libraries(fuzz_make_corpus PRIVATE lull_daemon)
endif()
