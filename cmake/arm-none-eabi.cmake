# Toolchain file for the RP2040 firmware: Debian's gcc-arm-none-eabi + libnewlib-arm-none-eabi.
# Used by the cross project in firmware/hal/rp2040 (configured as an ExternalProject from the
# host build, see firmware/hal/rp2040/external.cmake). Bare metal: no OS, no executables can run
# at configure time, so CMake's compiler check builds a static library instead.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR cortex-m0plus)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

find_program(PICOD_ARM_GCC arm-none-eabi-gcc REQUIRED)
get_filename_component(_picod_arm_bin ${PICOD_ARM_GCC} DIRECTORY)

set(CMAKE_C_COMPILER ${PICOD_ARM_GCC})
set(CMAKE_ASM_COMPILER ${PICOD_ARM_GCC})
set(CMAKE_OBJCOPY ${_picod_arm_bin}/arm-none-eabi-objcopy CACHE FILEPATH "objcopy")
set(CMAKE_SIZE ${_picod_arm_bin}/arm-none-eabi-size CACHE FILEPATH "size")
set(CMAKE_NM ${_picod_arm_bin}/arm-none-eabi-nm CACHE FILEPATH "nm")

set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m0plus -mthumb")
set(CMAKE_ASM_FLAGS_INIT "-mcpu=cortex-m0plus -mthumb")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-mcpu=cortex-m0plus -mthumb")

# Never pick up host libraries or headers.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
