# Benchmark tools (bench/), driven by scripts/bench.sh (make bench).
# Included OPTIONAL from the top CMakeLists.txt, which defines the `lull`
# engine library and LULL_WARNINGS.  The binaries land in the build
# directory's top, beside `lull`, where the script looks for them.

find_package(PkgConfig REQUIRED)
if(NOT TARGET PkgConfig::LIBUV)
  pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
endif()
find_package(Threads REQUIRED)

# Plain-socket tools: the application client, the target, the plain relay.
foreach(tool lull-bench-tcp lull-bench-target lull-bench-relay)
  add_executable(${tool} ${CMAKE_SOURCE_DIR}/bench/${tool}.c)
  set_target_properties(${tool} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  target_compile_options(${tool} PRIVATE ${LULL_WARNINGS})
  # epoll, accept4 and SOCK_NONBLOCK are Linux/GNU, beyond POSIX.
  target_compile_definitions(${tool} PRIVATE _GNU_SOURCE)
  target_link_libraries(${tool} PRIVATE Threads::Threads)
endforeach()

# What one X25519 operation costs through EVP (docs/performance.md).
add_executable(lull-bench-dh ${CMAKE_SOURCE_DIR}/bench/lull-bench-dh.c)
set_target_properties(lull-bench-dh PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
target_compile_options(lull-bench-dh PRIVATE ${LULL_WARNINGS})
target_link_libraries(lull-bench-dh PRIVATE OpenSSL::Crypto)

# The load generator: many lull client connections on the engine, libuv.
if(EXISTS ${CMAKE_SOURCE_DIR}/bench/lull-bench-load.c)
  add_executable(lull-bench-load ${CMAKE_SOURCE_DIR}/bench/lull-bench-load.c)
  set_target_properties(lull-bench-load PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  target_compile_options(lull-bench-load PRIVATE ${LULL_WARNINGS})
  target_link_libraries(lull-bench-load PRIVATE lull PkgConfig::LIBUV OpenSSL::Crypto)
endif()
