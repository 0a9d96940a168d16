# size_report.cmake - static RAM and flash use of a firmware ELF, from the linker's own
# symbols, checked against the budgets. cmake -DSIZE=... -DNM=... -DELF=... -DOUT=... -P
# size_report.cmake
#
# The budgets are ours, not the chip's (264 KiB SRAM, 2 MiB flash on a Pico): they keep the
# image honest. RAM was 16 KiB until the exactly-once window (4 KiB) and the code that runs
# from SRAM (the USB interrupt path, the timer ISR, the scheduler's dispatch loop: ~3.7 KiB)
# took it; 20 KiB leaves room for one more deliberate user. Over budget fails the build.
set(ram_goal 20480)
set(flash_goal 49152)
execute_process(COMMAND ${SIZE} -B ${ELF} OUTPUT_VARIABLE berkeley RESULT_VARIABLE rc)
if(rc)
    message(FATAL_ERROR "${SIZE} failed on ${ELF}")
endif()
execute_process(COMMAND ${SIZE} -A ${ELF} OUTPUT_VARIABLE sections)
execute_process(COMMAND ${NM} ${ELF} OUTPUT_VARIABLE syms)
foreach(s __ram_used_end __flash_used_end __StackTop __stack_bottom __noinit_start __noinit_end
          __bss_start __bss_end __data_start __data_end __ram_text_start __ram_text_end)
    string(REGEX MATCH "([0-9a-f]+) [A-Za-z] ${s}\n" m "${syms}")
    if(NOT m)
        message(FATAL_ERROR "symbol ${s} missing from ${ELF}")
    endif()
    math(EXPR ${s} "0x${CMAKE_MATCH_1}")
endforeach()
math(EXPR ram "${__ram_used_end} - 0x20000000")
math(EXPR flash "${__flash_used_end} - 0x10000000")
math(EXPR stack "${__StackTop} - ${__stack_bottom}")
math(EXPR noinit "${__noinit_end} - ${__noinit_start}")
math(EXPR data "${__data_end} - ${__data_start}")
math(EXPR bss "${__bss_end} - ${__bss_start}")
math(EXPR ramtext "${__ram_text_end} - ${__ram_text_start}")
math(EXPR ram_kib_x10 "${ram} * 10 / 1024")
math(EXPR flash_kib_x10 "${flash} * 10 / 1024")
set(report "${berkeley}
static RAM total: ${ram} bytes (stack ${stack}, noinit ${noinit}, ram_text ${ramtext}, data ${data}, bss ${bss}); goal <= ${ram_goal}
flash total: ${flash} bytes (incl. boot2 256 and the .data/.ram_text load images); goal <= ${flash_goal}
heap: none (malloc/free/printf are link errors)

${sections}")
file(WRITE ${OUT} "${report}")
get_filename_component(name ${ELF} NAME)
message("${name}: static RAM ${ram} B (goal ${ram_goal}), flash ${flash} B (goal ${flash_goal})")
if(ram GREATER ram_goal OR flash GREATER flash_goal)
    message(FATAL_ERROR "${name} is over its budget (firmware/hal/rp2040/size_report.cmake)")
endif()
