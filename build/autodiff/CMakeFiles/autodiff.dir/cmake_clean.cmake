file(REMOVE_RECURSE
  "CMakeFiles/autodiff.dir/src/op_code.cpp.o"
  "CMakeFiles/autodiff.dir/src/op_code.cpp.o.d"
  "CMakeFiles/autodiff.dir/src/shape.cpp.o"
  "CMakeFiles/autodiff.dir/src/shape.cpp.o.d"
  "CMakeFiles/autodiff.dir/src/sweep.cpp.o"
  "CMakeFiles/autodiff.dir/src/sweep.cpp.o.d"
  "CMakeFiles/autodiff.dir/src/tape.cpp.o"
  "CMakeFiles/autodiff.dir/src/tape.cpp.o.d"
  "CMakeFiles/autodiff.dir/src/tensor.cpp.o"
  "CMakeFiles/autodiff.dir/src/tensor.cpp.o.d"
  "CMakeFiles/autodiff.dir/src/tensor_elementwise.cpp.o"
  "CMakeFiles/autodiff.dir/src/tensor_elementwise.cpp.o.d"
  "CMakeFiles/autodiff.dir/src/tensor_tape.cpp.o"
  "CMakeFiles/autodiff.dir/src/tensor_tape.cpp.o.d"
  "CMakeFiles/autodiff.dir/src/var.cpp.o"
  "CMakeFiles/autodiff.dir/src/var.cpp.o.d"
  "libad_autodiff.a"
  "libad_autodiff.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/autodiff.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
