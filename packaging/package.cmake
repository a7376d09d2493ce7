# The Debian packages, built by CPack (./scripts/package):
#   dataquality-server      vserver, libdqsdk, the bundled plugins, the systemd unit, docs, examples
#   dataquality-server-dev  the SDK for plugin authors: headers, CMake package, example plugin
# The systemd unit is only packaged (EXCLUDE_FROM_ALL): it names /usr/bin/vserver, which a
# `cmake --install --prefix P` tree does not have.
install(FILES ${CMAKE_CURRENT_LIST_DIR}/dataquality-server@.service
  DESTINATION lib/systemd/system COMPONENT systemd EXCLUDE_FROM_ALL)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/debian/copyright
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/dataquality-server COMPONENT systemd EXCLUDE_FROM_ALL)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/debian/copyright
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/dataquality-server-dev COMPONENT dev EXCLUDE_FROM_ALL)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/debian/lintian-overrides
  DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME dataquality-server
  COMPONENT systemd EXCLUDE_FROM_ALL)
# Debian wants the changelog compressed, with a fixed time stamp so builds repeat.
set(DQ_CHANGELOG ${CMAKE_BINARY_DIR}/packaging/changelog.gz)
add_custom_command(OUTPUT ${DQ_CHANGELOG}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/packaging
  COMMAND gzip -9nc ${CMAKE_CURRENT_LIST_DIR}/debian/changelog > ${DQ_CHANGELOG}
  DEPENDS ${CMAKE_CURRENT_LIST_DIR}/debian/changelog)
add_custom_target(dq_changelog ALL DEPENDS ${DQ_CHANGELOG})
install(FILES ${DQ_CHANGELOG}
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/dataquality-server COMPONENT systemd EXCLUDE_FROM_ALL)
install(FILES ${DQ_CHANGELOG}
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/dataquality-server-dev COMPONENT dev EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dataquality-server)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Set the real maintainer with -DDQ_PACKAGE_MAINTAINER="Name <address>".
set(DQ_PACKAGE_MAINTAINER "dataquality-server maintainers <maintainers@dataquality-server.example.org>"
  CACHE STRING "Maintainer field of the Debian packages")
set(CPACK_PACKAGE_CONTACT "${DQ_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_VENDOR "dataquality-server")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server systemd dev)
set(CPACK_COMPONENTS_GROUPING ONE_PER_GROUP)
set(CPACK_COMPONENT_SERVER_GROUP server)
set(CPACK_COMPONENT_SYSTEMD_GROUP server)
set(CPACK_COMPONENT_DEV_GROUP dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/vantage6/vantage6")
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME dataquality-server)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME dataquality-server-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# Depends: from the ELF files (dpkg-shlibdeps), plus what the maintainer scripts use.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libdqsdk.so.2 is a public library: a shlibs file for plugins packaged against it, and the
# ldconfig trigger.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# gzip: the packages build in seconds (xz takes minutes on debug-heavy binaries for little gain).
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR}/sdk)
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser")
# Swagger UI's files for /apidocs/ (swagger_ui_folder points at python3-flasgger's by default).
set(CPACK_DEBIAN_SERVER_PACKAGE_RECOMMENDS "python3-flasgger")
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "dataquality-server (= ${PROJECT_VERSION}), libpoco-dev, libboost-dev, cmake")
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)
set(CPACK_COMPONENT_SERVER_DESCRIPTION
  "federated-analysis server, wire-compatible with vantage6 3.x\n\
dataquality-server is a small kernel with plugins that speaks the REST API\n\
of the vantage6 3.x server: organizations, users, collaborations, nodes\n\
and tasks. Run one server per configuration with the systemd unit\n\
dataquality-server@NAME.")
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "plugin SDK for dataquality-server\n\
Headers, the CMake package (find_package(DqSdk)) and an example plugin,\n\
to build plugins for dataquality-server outside its source tree.")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
  ${CMAKE_CURRENT_LIST_DIR}/debian/postinst
  ${CMAKE_CURRENT_LIST_DIR}/debian/prerm
  ${CMAKE_CURRENT_LIST_DIR}/debian/postrm
  ${CMAKE_CURRENT_LIST_DIR}/debian/triggers)
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
