
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/autodiff/src/op_code.cpp" "autodiff/CMakeFiles/autodiff.dir/src/op_code.cpp.o" "gcc" "autodiff/CMakeFiles/autodiff.dir/src/op_code.cpp.o.d"
  "/work/main/autodiff/src/shape.cpp" "autodiff/CMakeFiles/autodiff.dir/src/shape.cpp.o" "gcc" "autodiff/CMakeFiles/autodiff.dir/src/shape.cpp.o.d"
  "/work/main/autodiff/src/sweep.cpp" "autodiff/CMakeFiles/autodiff.dir/src/sweep.cpp.o" "gcc" "autodiff/CMakeFiles/autodiff.dir/src/sweep.cpp.o.d"
  "/work/main/autodiff/src/tape.cpp" "autodiff/CMakeFiles/autodiff.dir/src/tape.cpp.o" "gcc" "autodiff/CMakeFiles/autodiff.dir/src/tape.cpp.o.d"
  "/work/main/autodiff/src/tensor.cpp" "autodiff/CMakeFiles/autodiff.dir/src/tensor.cpp.o" "gcc" "autodiff/CMakeFiles/autodiff.dir/src/tensor.cpp.o.d"
  "/work/main/autodiff/src/tensor_elementwise.cpp" "autodiff/CMakeFiles/autodiff.dir/src/tensor_elementwise.cpp.o" "gcc" "autodiff/CMakeFiles/autodiff.dir/src/tensor_elementwise.cpp.o.d"
  "/work/main/autodiff/src/tensor_tape.cpp" "autodiff/CMakeFiles/autodiff.dir/src/tensor_tape.cpp.o" "gcc" "autodiff/CMakeFiles/autodiff.dir/src/tensor_tape.cpp.o.d"
  "/work/main/autodiff/src/var.cpp" "autodiff/CMakeFiles/autodiff.dir/src/var.cpp.o" "gcc" "autodiff/CMakeFiles/autodiff.dir/src/var.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
