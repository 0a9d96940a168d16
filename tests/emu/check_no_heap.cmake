# check_no_heap.cmake - fail if a firmware ELF defines any allocator, sbrk or printf symbol.
# cmake -DNM=arm-none-eabi-nm -DELFS="a.elf;b.elf" -P check_no_heap.cmake
foreach(elf ${ELFS})
    execute_process(COMMAND ${NM} ${elf} OUTPUT_VARIABLE syms RESULT_VARIABLE rc)
    if(rc)
        message(FATAL_ERROR "${NM} failed on ${elf}")
    endif()
    string(REGEX MATCHALL
           "[0-9a-f]+ [TtWw] (_?(malloc|free|calloc|realloc|sbrk)(_r)?|_?[a-z]*printf(_r)?)\n"
           bad "${syms}")
    if(bad)
        message(FATAL_ERROR "${elf} contains forbidden symbols:\n${bad}")
    endif()
    message(STATUS "${elf}: no heap, no printf")
endforeach()
