file(REMOVE_RECURSE
  "libad_autodiff.a"
)
