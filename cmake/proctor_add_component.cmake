# proctor_add_component(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...] [INCLUDE_DIR dir])
#
# Creates the library target proctor_<name>, its alias proctor::<name>, installs it with its public
# headers and adds it to the proctorTargets export set, so that both add_subdirectory() and
# find_package(proctor) give users the same proctor::<name> target.
include_guard(GLOBAL)
include(GNUInstallDirs)

function(proctor_add_component name)
  cmake_parse_arguments(arg "" "INCLUDE_DIR" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  set(target proctor_${name})
  add_library(${target} ${arg_SOURCES})
  add_library(proctor::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME proctor_${name})
  target_compile_features(${target} PUBLIC cxx_std_20)
  if(arg_INCLUDE_DIR)
    target_include_directories(${target} PUBLIC
      $<BUILD_INTERFACE:${arg_INCLUDE_DIR}>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    install(DIRECTORY ${arg_INCLUDE_DIR}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  endif()
  target_link_libraries(${target} PUBLIC ${arg_PUBLIC_DEPS} PRIVATE ${arg_PRIVATE_DEPS})
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  install(TARGETS ${target} EXPORT proctorTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endfunction()
