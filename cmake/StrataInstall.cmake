include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS strata EXPORT StrataTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The drop-in goes to a directory of its own so that it never shadows a
# system NCCL unless asked for (LD_LIBRARY_PATH=<prefix>/lib/strata-nccl).
install(TARGETS nccl_dropin LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/strata-nccl)
install(FILES include/nccl.h include/strata.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/strata)
install(EXPORT StrataTargets NAMESPACE Strata:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Strata)
configure_package_config_file(cmake/StrataConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/StrataConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Strata)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/StrataConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/StrataConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/StrataConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Strata)
# The .pc file locates the prefix relative to itself, so an install moved
# or made with `cmake --install --prefix` still resolves.
file(RELATIVE_PATH STRATA_PC_RELATIVE_PREFIX "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig"
  "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" STRATA_PC_RELATIVE_PREFIX "${STRATA_PC_RELATIVE_PREFIX}")
configure_file(cmake/strata.pc.in ${CMAKE_CURRENT_BINARY_DIR}/strata.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/strata.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
