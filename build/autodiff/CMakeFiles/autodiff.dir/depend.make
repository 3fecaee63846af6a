# Empty dependencies file for autodiff.
# This may be replaced when dependencies are built.
