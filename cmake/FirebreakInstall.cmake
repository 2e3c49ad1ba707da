include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS firebreak EXPORT firebreakTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/firebreak DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT firebreakTargets NAMESPACE firebreak::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/firebreak)
configure_package_config_file(cmake/firebreakConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/firebreakConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/firebreak)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/firebreakConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/firebreakConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/firebreakConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/firebreak)
