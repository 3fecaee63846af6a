# CMake generated Testfile for 
# Source directory: /work/main/tests
# Build directory: /work/main/build/tests
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test([=[test_scalar_conventions]=] "/work/main/build/tests/test_scalar_conventions")
set_tests_properties([=[test_scalar_conventions]=] PROPERTIES  _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;16;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[test_scalar_ops]=] "/work/main/build/tests/test_scalar_ops")
set_tests_properties([=[test_scalar_ops]=] PROPERTIES  _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;16;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[test_scalar_tape]=] "/work/main/build/tests/test_scalar_tape")
set_tests_properties([=[test_scalar_tape]=] PROPERTIES  _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;16;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[test_smoke]=] "/work/main/build/tests/test_smoke")
set_tests_properties([=[test_smoke]=] PROPERTIES  _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;16;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[consumer_install]=] "/usr/bin/cmake" "--install" "/work/main/build" "--prefix" "/work/main/build/consumer-prefix")
set_tests_properties([=[consumer_install]=] PROPERTIES  FIXTURES_SETUP "consumer_installed" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;24;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[consumer_configure]=] "/usr/bin/cmake" "-S" "/work/main/tests/consumer" "-B" "/work/main/build/consumer-build" "-DCMAKE_PREFIX_PATH=/work/main/build/consumer-prefix" "-DCMAKE_BUILD_TYPE=Release")
set_tests_properties([=[consumer_configure]=] PROPERTIES  FIXTURES_REQUIRED "consumer_installed" FIXTURES_SETUP "consumer_configured" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;26;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[consumer_build]=] "/usr/bin/cmake" "--build" "/work/main/build/consumer-build")
set_tests_properties([=[consumer_build]=] PROPERTIES  FIXTURES_REQUIRED "consumer_configured" FIXTURES_SETUP "consumer_built" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;29;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[consumer_run]=] "/work/main/build/consumer-build/consumer")
set_tests_properties([=[consumer_run]=] PROPERTIES  FIXTURES_REQUIRED "consumer_built" PASS_REGULAR_EXPRESSION "consumer: ok" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;30;add_test;/work/main/tests/CMakeLists.txt;0;")
