# The rekey model (model/rekey.pml) checked by spin: every property, and one
# mutant that must yield a counterexample (so the check is known to bite).
# Skipped, loudly, when spin is not installed (scripts/deps.sh installs it).
find_program(LULL_SPIN spin)
if(LULL_SPIN)
  add_test(NAME model_rekey
           COMMAND sh ${CMAKE_SOURCE_DIR}/model/check.sh ${CMAKE_BINARY_DIR}/model/rekey)
  add_test(NAME model_rekey_mutant
           COMMAND sh ${CMAKE_SOURCE_DIR}/model/check.sh --mutant MUT_SERVER_ACCEPTS_AFTER_HB
                   ${CMAKE_BINARY_DIR}/model/mutant)
  set_tests_properties(model_rekey model_rekey_mutant PROPERTIES LABELS model TIMEOUT 300)
else()
  message(WARNING "spin not found: the rekey model is not checked (run scripts/deps.sh)")
endif()
