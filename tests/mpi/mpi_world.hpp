// The Environment of the MPI test programs (mpi_main.cpp).
#pragma once

#include <dist/distributed.hpp>

nn::distributed::Environment& world();
