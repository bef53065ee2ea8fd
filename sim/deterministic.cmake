# Same seed, same table, byte for byte.  Run by CTest (sim/sim.cmake):
#   cmake -DSIM=lull-sim -DGOLDEN=sim/golden -DOUT=dir -P sim/deterministic.cmake
# 1. Two runs of the three day-long traces give identical tables and CSV.
# 2. A small run (iot, trickle) matches the committed golden table.  When an
#    engine change moves a figure on purpose, regenerate it with
#      build/lull-sim --seed 1 --handshake-cost-us 500 --trace iot \
#        --trace trickle --table sim/golden/iot-trickle.txt
#    and say why in the commit.
foreach(var SIM GOLDEN OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "deterministic.cmake: -D${var}= is required")
  endif()
endforeach()
file(MAKE_DIRECTORY ${OUT})

set(args --seed 7 --handshake-cost-us 500
    --trace messaging-day --trace trickle --trace iot)
foreach(n 1 2)
  execute_process(COMMAND ${SIM} ${args} --table ${OUT}/table${n}.txt --csv ${OUT}/run${n}.csv
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "lull-sim run ${n} failed (${rc})")
  endif()
endforeach()
foreach(kind table1.txt:table2.txt run1.csv:run2.csv)
  string(REPLACE ":" ";" pair ${kind})
  list(GET pair 0 a)
  list(GET pair 1 b)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT}/${a} ${OUT}/${b}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "same seed, different output: ${OUT}/${a} vs ${OUT}/${b}")
  endif()
endforeach()

execute_process(COMMAND ${SIM} --seed 1 --handshake-cost-us 500 --trace iot --trace trickle
                        --table ${OUT}/golden.txt
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "lull-sim golden run failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${GOLDEN}/iot-trickle.txt
                        ${OUT}/golden.txt
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(READ ${OUT}/golden.txt got)
  message(FATAL_ERROR "output differs from ${GOLDEN}/iot-trickle.txt; got:\n${got}")
endif()
message(STATUS "lull-sim output is deterministic and matches the golden table")
