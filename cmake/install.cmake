# What "make install" / "cmake --install" puts where, and liblull.so.
# Included from the top CMakeLists.txt after the `lull` engine library and
# the daemon (cmake/daemon.cmake) are defined.
#
#   bin/lull                        the daemon and CLI
#   lib/liblull.so.MAJOR(.MINOR.PATCH), liblull.so, liblull.a
#   include/lull.h
#   lib/pkgconfig/liblull.pc
#   share/man/man1/lull.1, man5/lull.conf.5, man3/liblull.3
#   lib/systemd/system/lull-server.service, lull-client@.service
#   lib/sysusers.d/lull.conf        the unprivileged user the units run as
#   share/doc/lull/examples/        example configs and embedding program
#
# Every installed file is listed in install_manifest.txt of the build
# directory; "make uninstall" removes exactly those.

# lib, not Debian's multiarch lib/x86_64-linux-gnu: the layout is the same
# for every prefix, and a packager can still pass -DLULL_INSTALL_LIBDIR.
# (GNUInstallDirs would switch to multiarch whenever the prefix becomes
# /usr; a normal variable shadows its cache entry.)
set(LULL_INSTALL_LIBDIR lib CACHE PATH "Libraries, relative to the install prefix")
set(CMAKE_INSTALL_LIBDIR ${LULL_INSTALL_LIBDIR})
include(GNUInstallDirs)
set(LULL_SYSTEMD_UNIT_DIR lib/systemd/system CACHE PATH
    "systemd unit directory, relative to the install prefix")

# The shared library: the engine's sources again, position independent,
# exporting only lull_* (the version script), with SONAME liblull.so.MAJOR.
add_library(lull_shared SHARED ${LULL_CORE_SOURCES})
target_include_directories(lull_shared PUBLIC ${CMAKE_SOURCE_DIR}/include
                           PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_compile_options(lull_shared PRIVATE ${LULL_WARNINGS})
target_link_libraries(lull_shared PRIVATE OpenSSL::Crypto)
target_link_options(lull_shared PRIVATE
                    -Wl,--version-script=${CMAKE_SOURCE_DIR}/dist/liblull.map
                    -Wl,--no-undefined)
# No -fvisibility=hidden: that would hide lull_* as well; the version
# script is the one list of what is exported.
set_target_properties(lull_shared PROPERTIES
                      OUTPUT_NAME lull
                      VERSION ${PROJECT_VERSION}
                      SOVERSION ${PROJECT_VERSION_MAJOR}
                      LINK_DEPENDS ${CMAKE_SOURCE_DIR}/dist/liblull.map)

file(RELATIVE_PATH LULL_PC_UP
     /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" LULL_PC_UP "${LULL_PC_UP}")
configure_file(${CMAKE_SOURCE_DIR}/dist/liblull.pc.in ${CMAKE_BINARY_DIR}/liblull.pc @ONLY)

install(TARGETS lull_shared
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev)
install(TARGETS lull ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(FILES ${CMAKE_SOURCE_DIR}/include/lull.h ${CMAKE_SOURCE_DIR}/include/lull_stream.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(FILES ${CMAKE_BINARY_DIR}/liblull.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
install(FILES ${CMAKE_SOURCE_DIR}/docs/liblull.3
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man3 COMPONENT dev OPTIONAL)
install(FILES ${CMAKE_SOURCE_DIR}/examples/lull-pair.c ${CMAKE_SOURCE_DIR}/examples/Makefile
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT dev)

if(TARGET lull_bin)
  install(TARGETS lull_bin RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT daemon)
  install(FILES ${CMAKE_SOURCE_DIR}/docs/lull.1
          DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT daemon)
  install(FILES ${CMAKE_SOURCE_DIR}/docs/lull.conf.5
          DESTINATION ${CMAKE_INSTALL_MANDIR}/man5 COMPONENT daemon OPTIONAL)
  # Units name the installed binary and config directory: configured for
  # the prefix (make install reconfigures with PREFIX).
  file(GLOB LULL_UNITS ${CMAKE_SOURCE_DIR}/dist/systemd/*.service.in)
  foreach(unit_in ${LULL_UNITS})
    get_filename_component(unit ${unit_in} NAME)
    string(REGEX REPLACE "\\.in$" "" unit "${unit}")
    configure_file(${unit_in} ${CMAKE_BINARY_DIR}/systemd/${unit} @ONLY)
    install(FILES ${CMAKE_BINARY_DIR}/systemd/${unit}
            DESTINATION ${LULL_SYSTEMD_UNIT_DIR} COMPONENT daemon)
  endforeach()
  install(FILES ${CMAKE_SOURCE_DIR}/dist/sysusers.d/lull.conf
          DESTINATION lib/sysusers.d COMPONENT daemon)
  file(GLOB LULL_EXAMPLE_CONFS ${CMAKE_SOURCE_DIR}/dist/*.conf)
  install(FILES ${LULL_EXAMPLE_CONFS}
          DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT daemon)
endif()
