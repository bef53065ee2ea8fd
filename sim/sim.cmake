# The policy simulator (sim/): lull-sim and its tests.  Included from the top
# CMakeLists.txt, which defines the `lull` engine library and LULL_WARNINGS.
# `make sim` runs scripts/sim.sh on the build directory.

# Everything but main(): linked by lull-sim and by the tests.
set(LULL_SIM_SOURCES
    ${CMAKE_SOURCE_DIR}/sim/gen.c
    ${CMAKE_SOURCE_DIR}/sim/policies.c
    ${CMAKE_SOURCE_DIR}/sim/report.c
    ${CMAKE_SOURCE_DIR}/sim/run.c
    ${CMAKE_SOURCE_DIR}/sim/svg.c
    ${CMAKE_SOURCE_DIR}/sim/trace.c)
add_library(lull_sim STATIC ${LULL_SIM_SOURCES})
# run.c reads engine internals (conn.h, policy.h) to measure what it did.
target_include_directories(lull_sim PUBLIC ${CMAKE_SOURCE_DIR}/sim
                           PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_compile_options(lull_sim PRIVATE ${LULL_WARNINGS})
target_link_libraries(lull_sim PUBLIC lull m)

add_executable(lull-sim ${CMAKE_SOURCE_DIR}/sim/main.c)
set_target_properties(lull-sim PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
target_compile_options(lull-sim PRIVATE ${LULL_WARNINGS})
target_link_libraries(lull-sim PRIVATE lull_sim)

if(LULL_SANITIZE)
  set(sim_timeout 900)
else()
  set(sim_timeout 300)
endif()

# Self-checking test programs: sim/test_*.c.
file(GLOB LULL_SIM_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/sim/test_*.c)
foreach(src ${LULL_SIM_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(sim_${name} ${src})
  target_include_directories(sim_${name} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
  target_compile_options(sim_${name} PRIVATE ${LULL_WARNINGS})
  target_link_libraries(sim_${name} PRIVATE lull_sim)
  add_test(NAME sim_${name} COMMAND sim_${name} ${CMAKE_SOURCE_DIR}/sim)
  set_tests_properties(sim_${name} PROPERTIES LABELS sim TIMEOUT ${sim_timeout})
endforeach()

# Same seed, same table, byte for byte: two runs compared with each other
# and with the committed golden output.
add_test(NAME sim_deterministic
         COMMAND ${CMAKE_COMMAND} -DSIM=$<TARGET_FILE:lull-sim>
                 -DGOLDEN=${CMAKE_SOURCE_DIR}/sim/golden
                 -DOUT=${CMAKE_BINARY_DIR}/sim-deterministic
                 -P ${CMAKE_SOURCE_DIR}/sim/deterministic.cmake)
set_tests_properties(sim_deterministic PROPERTIES LABELS sim TIMEOUT ${sim_timeout})
