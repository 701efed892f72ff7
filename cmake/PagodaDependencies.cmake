# Third-party libraries, all from Debian packages (scripts/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)

# The server's libraries. AUTO builds the server when all are present, so the
# engine and CUDA targets build on machines without gRPC.
set(PAGODA_HAVE_SERVER OFF)
if(NOT PAGODA_SERVER STREQUAL "OFF")
  if(PAGODA_SERVER STREQUAL "ON")
    set(_req REQUIRED)
  else()
    set(_req QUIET)
  endif()
  find_package(Protobuf ${_req})
  find_package(gRPC CONFIG ${_req})
  find_program(PAGODA_GRPC_CPP_PLUGIN grpc_cpp_plugin)
  find_package(spdlog ${_req})
  find_package(prometheus-cpp CONFIG ${_req})
  find_package(Boost 1.74 ${_req})
  find_package(OpenSSL ${_req})
  if(Protobuf_FOUND AND gRPC_FOUND AND PAGODA_GRPC_CPP_PLUGIN AND spdlog_FOUND
     AND prometheus-cpp_FOUND AND Boost_FOUND AND OpenSSL_FOUND)
    set(PAGODA_HAVE_SERVER ON)
  elseif(PAGODA_SERVER STREQUAL "ON")
    message(FATAL_ERROR "PAGODA_SERVER=ON but grpc_cpp_plugin (Debian: protobuf-compiler-grpc) was not found")
  else()
    message(STATUS "pagoda: server libraries not all found, building without the server")
  endif()
endif()

# The fuzz build (PAGODA_SERVER=OFF) still fuzzes the server's request parsers:
# it compiles only pagoda_server_requests and the pagoda.v1 messages, which need
# protobuf, gRPC's headers (grpc::Status) and Boost.Beast's headers.
set(PAGODA_HAVE_SERVER_REQUESTS ${PAGODA_HAVE_SERVER})
if(PAGODA_FUZZ AND NOT PAGODA_HAVE_SERVER)
  find_package(Protobuf QUIET)
  find_package(gRPC CONFIG QUIET)
  find_package(Boost 1.74 QUIET)
  if(Protobuf_FOUND AND gRPC_FOUND AND Boost_FOUND)
    set(PAGODA_HAVE_SERVER_REQUESTS ON)
  else()
    message(WARNING "pagoda: protobuf, gRPC or Boost not found; the server request fuzzers are not built")
  endif()
endif()

if(PAGODA_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
