# find_package(DqSdk): the dataquality-server plugin SDK.
include(CMakeFindDependencyMacro)
find_dependency(Poco COMPONENTS Foundation JSON)
find_dependency(Boost 1.74)
include(${CMAKE_CURRENT_LIST_DIR}/DqSdkTargets.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/DqPlugin.cmake)
