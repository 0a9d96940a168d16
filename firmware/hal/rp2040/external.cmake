# Included by firmware/CMakeLists.txt (host build) when PICOD_FIRMWARE is ON: cross-builds the
# RP2040 firmware as a separate CMake project (this directory) with cmake/arm-none-eabi.cmake,
# because one build tree has one C compiler. Artifacts land in <build>/firmware/:
# firmware.elf/.bin/.uf2/.map/.size.txt (and firmware-uart.* when the main link is not uart).
include(ExternalProject)

find_program(PICOD_ARM_GCC arm-none-eabi-gcc)
if(NOT PICOD_ARM_GCC)
    message(STATUS "picod: arm-none-eabi-gcc not found, skipping the RP2040 firmware "
                   "(apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)")
    return()
endif()

set(PICOD_FW_LINK "usb" CACHE STRING "Host link of the RP2040 firmware: uart or usb")
set_property(CACHE PICOD_FW_LINK PROPERTY STRINGS uart usb)
option(PICOD_FW_STUB_APP "RP2040 firmware: link a stub app_main instead of firmware/core" OFF)
# I2C0 bus speed. 400000 needs external pull-ups (docs/BRINGUP.md): the pads' are 50-80 kOhm.
set(PICOD_FW_I2C_HZ "100000" CACHE STRING "RP2040 firmware: I2C0 SCL frequency in Hz")
# Double-buffered bulk endpoints: modelled and tested in the emulator, not yet seen on silicon
# (docs/USB.md); single-buffered, as TinyUSB ships on the RP2040, by default.
option(PICOD_FW_USB_DOUBLE_BUFFER "RP2040 firmware: double-buffered USB bulk endpoints" OFF)

if(NOT TARGET picod-uf2)
    add_subdirectory(${PROJECT_SOURCE_DIR}/tools/uf2 ${PROJECT_BINARY_DIR}/tools/uf2)
endif()

set(PICOD_FW_OUTPUT_DIR ${PROJECT_BINARY_DIR}/firmware CACHE INTERNAL "RP2040 artifacts")
ExternalProject_Add(picod_firmware
    SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR}
    BINARY_DIR ${PROJECT_BINARY_DIR}/firmware/rp2040-build
    CMAKE_ARGS
        -DCMAKE_TOOLCHAIN_FILE=${PROJECT_SOURCE_DIR}/cmake/arm-none-eabi.cmake
        -DCMAKE_BUILD_TYPE=MinSizeRel
        -DPICOD_ROOT=${PROJECT_SOURCE_DIR}
        -DPICOD_FW_LINK=${PICOD_FW_LINK}
        -DPICOD_FW_STUB_APP=${PICOD_FW_STUB_APP}
        -DPICOD_FW_I2C_HZ=${PICOD_FW_I2C_HZ}
        -DPICOD_FW_USB_DOUBLE_BUFFER=${PICOD_FW_USB_DOUBLE_BUFFER}
        -DPICOD_FW_OUTPUT_DIR=${PICOD_FW_OUTPUT_DIR}
        -DPICOD_UF2_TOOL=$<TARGET_FILE:picod-uf2>
        -DPICOD_VERSION=${PROJECT_VERSION}
    BUILD_ALWAYS ON
    INSTALL_COMMAND ""
    DEPENDS picod-uf2)

# What a user flashes (firmware.uf2) and debugs with (firmware.elf), installed where picoctl
# doctor's fixes and picod(8) name it: share/picod/firmware/.
include(GNUInstallDirs)
install(FILES ${PICOD_FW_OUTPUT_DIR}/firmware.uf2 ${PICOD_FW_OUTPUT_DIR}/firmware.elf
        DESTINATION ${CMAKE_INSTALL_DATADIR}/picod/firmware)
