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
