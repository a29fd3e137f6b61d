# Optional dependencies switch on by themselves when found (AUTO), can be
# required (ON) or refused (OFF). Each found one adds a STRATA_HAVE_* define.
set(STRATA_FEATURE_DEFINES "")
set(STRATA_FEATURES "")

macro(strata_feature var name found)
  if(${var} STREQUAL "OFF")
    set(STRATA_HAVE_${name} FALSE)
  elseif(${found})
    set(STRATA_HAVE_${name} TRUE)
    list(APPEND STRATA_FEATURE_DEFINES STRATA_HAVE_${name}=1)
    list(APPEND STRATA_FEATURES ${name})
  elseif(${var} STREQUAL "ON")
    message(FATAL_ERROR "${name} was required (${var}=ON) but not found")
  else()
    set(STRATA_HAVE_${name} FALSE)
  endif()
endmacro()

# CUDA: the toolkit (headers, cudart_static) and a working nvcc. Kernels are
# built for CMAKE_CUDA_ARCHITECTURES (default 90, the H100/H200 generation);
# pass -DCMAKE_CUDA_ARCHITECTURES="80;90" or similar for more. The CUDA
# runtime is linked statically: it opens the driver (libcuda.so.1) only when
# a CUDA call is made, so the libraries load and run host collectives on a
# machine with no GPU and no driver.
set(_cuda_found FALSE)
if(NOT STRATA_WITH_CUDA STREQUAL "OFF")
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
      set(CMAKE_CUDA_ARCHITECTURES 90 CACHE STRING "CUDA architectures to build kernels for")
    endif()
    if(NOT CMAKE_CUDA_COMPILER AND EXISTS "${CUDAToolkit_BIN_DIR}/nvcc")
      set(CMAKE_CUDA_COMPILER "${CUDAToolkit_BIN_DIR}/nvcc")
    endif()
    include(CheckLanguage)
    check_language(CUDA)
    if(CMAKE_CUDA_COMPILER AND TARGET CUDA::cudart_static)
      enable_language(CUDA)
      set(_cuda_found TRUE)
    else()
      message(STATUS "CUDA toolkit found but nvcc or cudart_static is missing: CUDA off")
    endif()
  endif()
endif()
strata_feature(STRATA_WITH_CUDA CUDA _cuda_found)
if(STRATA_HAVE_CUDA)
  message(STATUS "CUDA ${CUDAToolkit_VERSION}, kernels for sm ${CMAKE_CUDA_ARCHITECTURES}")
endif()

find_path(HWLOC_INCLUDE_DIR hwloc.h)
find_library(HWLOC_LIBRARY hwloc)
set(_hwloc_found FALSE)
if(HWLOC_INCLUDE_DIR AND HWLOC_LIBRARY)
  set(_hwloc_found TRUE)
endif()
strata_feature(STRATA_WITH_HWLOC HWLOC _hwloc_found)

find_path(UCX_INCLUDE_DIR ucp/api/ucp.h)
set(_ucx_found FALSE)
if(UCX_INCLUDE_DIR)
  set(_ucx_found TRUE)
endif()
strata_feature(STRATA_WITH_UCX UCX _ucx_found)

find_path(VERBS_INCLUDE_DIR infiniband/verbs.h)
set(_verbs_found FALSE)
if(VERBS_INCLUDE_DIR)
  set(_verbs_found TRUE)
endif()
strata_feature(STRATA_WITH_VERBS VERBS _verbs_found)

# TLS on tcp connections (STRATA_TLS=1): OpenSSL's libssl, linked by the
# core library only when found.
if(NOT STRATA_WITH_OPENSSL STREQUAL "OFF")
  find_package(OpenSSL 1.1.1 QUIET COMPONENTS SSL Crypto)
endif()
strata_feature(STRATA_WITH_OPENSSL OPENSSL OPENSSL_FOUND)

message(STATUS "Strata optional features found: ${STRATA_FEATURES}")
