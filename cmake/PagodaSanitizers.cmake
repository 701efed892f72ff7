# Sanitizer builds: PAGODA_SANITIZE=address gives ASan+UBSan, =thread gives TSan.
if(PAGODA_SANITIZE STREQUAL "address")
  set(_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
elseif(PAGODA_SANITIZE STREQUAL "thread")
  set(_san -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT PAGODA_SANITIZE STREQUAL "")
  message(FATAL_ERROR "PAGODA_SANITIZE must be '', 'address' or 'thread', not '${PAGODA_SANITIZE}'")
endif()
if(DEFINED _san)
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${_san}>")
  add_link_options(${_san})
endif()
# TSan does not model standalone fences (GCC says so with -Wtsan). Asio's
# handler "fenced blocks" are such fences around work its scheduler already
# hands over under a mutex, which TSan does see: the TSan build drops them.
if(PAGODA_SANITIZE STREQUAL "thread")
  add_compile_definitions(BOOST_ASIO_DISABLE_FENCED_BLOCK)
endif()

# Fuzzing build: every target is instrumented for coverage (fuzzer-no-link)
# with ASan+UBSan; the fuzzers themselves link libFuzzer's main.
if(PAGODA_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PAGODA_FUZZ=ON needs clang (CXX=clang++), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# pagoda_skip_fuzz_coverage(<target> <source>...): in the fuzzing build, compile
# these sources of <target> without libFuzzer's coverage instrumentation
# (ASan+UBSan stay). That instrumentation calls a hook at every comparison,
# which made the kernels' loops 4x slower in the unit tests sharing this build
# (EngineTest.SixtyFour... + PreemptionKeepsOutputsExact: 63 s with it, 16 s
# without), and no fuzzer reaches that code. Sources with their own compile
# options are never batched into unity files, so this only affects this build.
function(pagoda_skip_fuzz_coverage target)
  if(PAGODA_FUZZ)
    set_property(SOURCE ${ARGN} TARGET_DIRECTORY ${target} APPEND PROPERTY COMPILE_OPTIONS
                 -fno-sanitize=fuzzer-no-link)
  endif()
endfunction()
