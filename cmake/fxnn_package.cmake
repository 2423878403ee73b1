# The installed package (docs/package.md): `cmake --install build --prefix DIR` puts the public
# headers, the static libraries, the fxnn command and fxnnConfig.cmake / fxnnConfigVersion.cmake with
# the exported targets under DIR, so that a user's project can say
#   find_package(fxnn 0.1 REQUIRED COMPONENTS torch)
#   target_link_libraries(app PRIVATE fxnn::torch)
# The targets come in three export sets, one per set of dependencies: fxnn::base and fxnn::runtime
# (no LibTorch), fxnn::synth (ONNX, COIN-OR), fxnn::data and fxnn::torch (LibTorch).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(FXNN_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/fxnn)
set(FXNN_INSTALL_PYTHONDIR ${CMAKE_INSTALL_LIBDIR}/python3/dist-packages)
configure_file(${PROJECT_SOURCE_DIR}/cmake/version.h.in ${PROJECT_BINARY_DIR}/generated/fxnn/version.h @ONLY)

# A library's public headers: the source tree when fxnn is built, the installed include directory
# when it is used from an install. The generated fxnn/version.h is installed with them; in the build
# tree only the command line includes it (fxnn_version_header), so the libraries do not depend on it.
function(fxnn_public_headers target)
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endfunction()

function(fxnn_version_header target)
  target_include_directories(${target} PRIVATE ${PROJECT_BINARY_DIR}/generated)
endfunction()

function(fxnn_install_export set)
  install(TARGETS ${ARGN} EXPORT ${set}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT ${set} NAMESPACE fxnn:: DESTINATION ${FXNN_INSTALL_CMAKEDIR})
endfunction()

function(fxnn_install_package)
  set_target_properties(fxnn_base PROPERTIES EXPORT_NAME base)
  set_target_properties(fxnn_runtime PROPERTIES EXPORT_NAME runtime)
  set_target_properties(fxnn_synth PROPERTIES EXPORT_NAME synth)
  fxnn_install_export(fxnnTargets fxnn_base fxnn_runtime)
  fxnn_install_export(fxnnSynthTargets fxnn_synth)
  if(FXNN_WITH_TORCH)
    set_target_properties(fxnn_data PROPERTIES EXPORT_NAME data)
    set_target_properties(fxnn_torch PROPERTIES EXPORT_NAME torch)
    fxnn_install_export(fxnnTorchTargets fxnn_data fxnn_torch)
    install(TARGETS fxnn RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
    # The Python package (docs/python.md) with its operator library inside: PYTHONPATH=DIR/lib/python3/dist-packages.
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/python/fxnn DESTINATION ${FXNN_INSTALL_PYTHONDIR}
            FILES_MATCHING PATTERN "*.py")
    install(TARGETS fxnn_ops LIBRARY DESTINATION ${FXNN_INSTALL_PYTHONDIR}/fxnn/_lib)
  endif()
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/fxnn DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(FILES ${PROJECT_BINARY_DIR}/generated/fxnn/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/fxnn)

  configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/fxnnConfig.cmake.in
                                ${PROJECT_BINARY_DIR}/fxnnConfig.cmake INSTALL_DESTINATION ${FXNN_INSTALL_CMAKEDIR})
  # 0.x: a minor version may change the interface, so only the same major.minor is compatible.
  write_basic_package_version_file(${PROJECT_BINARY_DIR}/fxnnConfigVersion.cmake COMPATIBILITY SameMinorVersion)
  install(FILES ${PROJECT_BINARY_DIR}/fxnnConfig.cmake ${PROJECT_BINARY_DIR}/fxnnConfigVersion.cmake
          DESTINATION ${FXNN_INSTALL_CMAKEDIR})
endfunction()
