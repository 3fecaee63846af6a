# Where bench_scalar's source-only peers (CoDiPack, Adept 2) come from.
# Included by bench/peers/codipack.cmake and adept.cmake. The peers are never
# a dependency of the project and their sources are never kept in it (their
# licences: CoDiPack GPL-3.0, Adept Apache-2.0): a user points the build at
# them, or they are not built.
include_guard(GLOBAL)

set(AD_SCALAR_PEERS_ARCHIVES "" CACHE PATH
    "A folder holding source tarballs of bench_scalar's peers (codipack*.tar.gz, adept*.tar.gz), unpacked into the build folder; empty: none")

# ad_bench_peer_sources(<result> <dir variable> <archive pattern> <probe>)
# sets <result> to the peer's source tree: the folder the cache variable
# <dir variable> names when it is set (it must hold <probe>), else the tree
# unpacked from the one tarball in AD_SCALAR_PEERS_ARCHIVES matching
# <archive pattern> (into <build>/scalar_peers/, again only when the tarball
# changed), else "".
function(ad_bench_peer_sources result dir_variable archive_pattern probe)
  set(${result} "" PARENT_SCOPE)
  if(${dir_variable})
    if(NOT EXISTS "${${dir_variable}}/${probe}")
      message(FATAL_ERROR "${dir_variable}=${${dir_variable}} is not the peer's source tree: ${probe} is missing there")
    endif()
    set(${result} "${${dir_variable}}" PARENT_SCOPE)
    return()
  endif()
  if(NOT AD_SCALAR_PEERS_ARCHIVES)
    return()
  endif()
  if(NOT IS_DIRECTORY "${AD_SCALAR_PEERS_ARCHIVES}")
    message(FATAL_ERROR "AD_SCALAR_PEERS_ARCHIVES=${AD_SCALAR_PEERS_ARCHIVES} is not a folder")
  endif()
  file(GLOB archives "${AD_SCALAR_PEERS_ARCHIVES}/${archive_pattern}")
  list(LENGTH archives count)
  if(count EQUAL 0)
    return()
  elseif(count GREATER 1)
    message(FATAL_ERROR "AD_SCALAR_PEERS_ARCHIVES: several tarballs match ${archive_pattern}: ${archives}")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${archives}")
  file(SHA256 "${archives}" hash)
  string(REGEX REPLACE "[*?].*" "" name "${archive_pattern}")
  set(destination "${CMAKE_BINARY_DIR}/scalar_peers/${name}")
  set(stamp "${destination}/unpacked-from.sha256")
  set(previous "")
  if(EXISTS "${stamp}")
    file(READ "${stamp}" previous)
  endif()
  if(NOT previous STREQUAL hash)
    file(REMOVE_RECURSE "${destination}")
    file(ARCHIVE_EXTRACT INPUT "${archives}" DESTINATION "${destination}")
    file(WRITE "${stamp}" "${hash}")
  endif()
  file(GLOB trees "${destination}/${probe}" "${destination}/*/${probe}")
  list(LENGTH trees count)
  if(NOT count EQUAL 1)
    message(FATAL_ERROR "${archives} does not unpack to one source tree holding ${probe}")
  endif()
  string(REPLACE "/${probe}" "" tree "${trees}")
  set(${result} "${tree}" PARENT_SCOPE)
endfunction()
