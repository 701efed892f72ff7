# pagoda_warnings: an interface target every Pagoda target links, carrying the
# warning set (and -Werror in CI) for host C++ code only.
add_library(pagoda_warnings INTERFACE)
target_compile_options(pagoda_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wimplicit-fallthrough>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${PAGODA_WERROR}>>:-Werror>
  $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${PAGODA_WERROR}>>:-Werror=all-warnings>)

# GCC's -Wmaybe-uninitialized is unreliable under the sanitizers' instrumentation
# (false positives inside std::optional/std::shared_ptr moves, as GCC's manual
# warns); it stays on, and an error, in the normal build.
if(NOT PAGODA_SANITIZE STREQUAL "" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(pagoda_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wno-maybe-uninitialized>)
endif()

# GCC warns when a class defined in an included file has a member of a type
# from an anonymous namespace (-Wsubobject-linkage): meant for headers, it
# fires on every .cc a unity build includes into its batch file.
if(CMAKE_UNITY_BUILD AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(pagoda_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wno-subobject-linkage>)
endif()
