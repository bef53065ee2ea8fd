# The lull daemon and CLI (src/io, src/cli), their unit tests (tests/cli)
# and integration tests (tests/integration).  Included from the top
# CMakeLists.txt, which defines the `lull` engine library and LULL_WARNINGS.

find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
# sd_notify(3): READY/RELOADING/STOPPING and the watchdog (Type=notify).
pkg_check_modules(LIBSYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
# The --status HTTP server: /metrics, /status, /healthz.
pkg_check_modules(LIBMICROHTTPD REQUIRED IMPORTED_TARGET libmicrohttpd)
find_package(Threads REQUIRED)

# Everything but main(): linked by the binary and by the parser unit tests.
file(GLOB LULL_DAEMON_SOURCES CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/src/io/*.c ${CMAKE_SOURCE_DIR}/src/support/*.c
     ${CMAKE_SOURCE_DIR}/src/cli/*.c)
list(REMOVE_ITEM LULL_DAEMON_SOURCES ${CMAKE_SOURCE_DIR}/src/cli/main.c)
add_library(lull_daemon STATIC ${LULL_DAEMON_SOURCES})
target_compile_options(lull_daemon PRIVATE ${LULL_WARNINGS})
target_link_libraries(lull_daemon PUBLIC lull PkgConfig::LIBUV PkgConfig::LIBSYSTEMD
                      PkgConfig::LIBMICROHTTPD
                      Threads::Threads)

# The target name `lull` is the engine library; the binary is still `lull`.
add_executable(lull_bin ${CMAKE_SOURCE_DIR}/src/cli/main.c)
set_target_properties(lull_bin PROPERTIES OUTPUT_NAME lull
                      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
target_compile_options(lull_bin PRIVATE ${LULL_WARNINGS})
target_link_libraries(lull_bin PRIVATE lull_daemon)

# Unit tests of the parsers: tests/cli/test_*.c, one program each.
file(GLOB LULL_CLI_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/cli/test_*.c)
foreach(src ${LULL_CLI_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(cli_${name} ${src})
  target_include_directories(cli_${name} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
  target_compile_options(cli_${name} PRIVATE ${LULL_WARNINGS})
  target_link_libraries(cli_${name} PRIVATE lull_daemon)
  add_test(NAME cli_${name} COMMAND cli_${name} ${CMAKE_SOURCE_DIR})
  set_tests_properties(cli_${name} PROPERTIES LABELS unit TIMEOUT 60)
endforeach()

# Test tools: an echo/source/sink target and a load generator, in C so the
# tests need no python, socat or nc.
foreach(tool lull-echo lull-load lull-pp-target)
  add_executable(${tool} ${CMAKE_SOURCE_DIR}/tests/integration/${tool}.c)
  set_target_properties(${tool} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  target_compile_options(${tool} PRIVATE ${LULL_WARNINGS})
  target_link_libraries(${tool} PRIVATE OpenSSL::Crypto)
endforeach()

# Integration tests: real lull processes on 127.0.0.1, ephemeral ports,
# stopped by PID.  Each script is one test: tests/integration/it_*.sh.
file(GLOB LULL_IT_SCRIPTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/integration/it_*.sh)
foreach(script ${LULL_IT_SCRIPTS})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME ${name} COMMAND sh ${script} ${CMAKE_BINARY_DIR})
  # Under ASan everything is several times slower.
  if(LULL_SANITIZE)
    set(it_timeout 600)
  else()
    set(it_timeout 180)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS integration TIMEOUT ${it_timeout}
                       SKIP_RETURN_CODE 77 RESOURCE_LOCK lull_integration)
endforeach()
