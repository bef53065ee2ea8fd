# Attack and load tools of issue 6, built next to lull so the integration
# scripts in tests/tools/it_*.sh (registered by the top CMakeLists.txt) find
# them in the build directory:
#   lull-mitm    scripted man in the middle (tests/tools/mitm*.c: proxy,
#                rule language, actions)
#   lull-soak    bursty many-connection client of the soak (soak_client.c)
#   lull-flood   unique message 1s from many sources, as fast as it can (lull_flood.c)
# Included from the top CMakeLists.txt; needs the daemon's targets.
if(TARGET lull_daemon)
  add_executable(lull-mitm ${CMAKE_SOURCE_DIR}/tests/tools/mitm.c
                 ${CMAKE_SOURCE_DIR}/tests/tools/mitm_rules.c
                 ${CMAKE_SOURCE_DIR}/tests/tools/mitm_actions.c)
  set_target_properties(lull-mitm PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  # wire.h only: the proxy parses headers, it never touches a key.
  target_include_directories(lull-mitm PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_compile_options(lull-mitm PRIVATE ${LULL_WARNINGS})
  target_link_libraries(lull-mitm PRIVATE lull)

  add_executable(lull-flood ${CMAKE_SOURCE_DIR}/tests/tools/lull_flood.c)
  set_target_properties(lull-flood PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  target_include_directories(lull-flood PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_compile_options(lull-flood PRIVATE ${LULL_WARNINGS})
  target_link_libraries(lull-flood PRIVATE lull)

  if(EXISTS ${CMAKE_SOURCE_DIR}/tests/tools/soak_client.c)
    add_executable(lull-soak ${CMAKE_SOURCE_DIR}/tests/tools/soak_client.c)
    set_target_properties(lull-soak PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
    target_include_directories(lull-soak PRIVATE ${CMAKE_SOURCE_DIR}/tests/integration)
    target_compile_options(lull-soak PRIVATE ${LULL_WARNINGS})
    target_link_libraries(lull-soak PRIVATE OpenSSL::Crypto)
  endif()
endif()
