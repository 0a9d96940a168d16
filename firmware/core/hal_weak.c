/*
 * hal_weak.c - defaults for the optional HAL functions (declared in hal.h under "optional").
 * A port overrides any of them by defining a function of the same name.
 */
#include "hal.h"

__attribute__((weak)) uint16_t hal_stack_high_water(void)
{
    return 0; /* unknown */
}

__attribute__((weak)) void hal_ram_usage(uint32_t *used, uint32_t *total)
{
    *used = 0; /* unknown */
    *total = 0;
}

__attribute__((weak)) bool hal_can_reboot(uint8_t mode)
{
    return mode == PROTO_REBOOT_NORMAL;
}

__attribute__((weak)) size_t hal_link_tx_pending(void)
{
    return 0; /* e.g. picosim: a write to the pty is with the host at once */
}

__attribute__((weak)) void hal_hw_info(proto_hw_info_t *out)
{
    *out = (proto_hw_info_t){0}; /* unknown (picosim) */
}

__attribute__((weak)) void hal_debug_fault(void)
{
    /* Call through a null function pointer, as a real bug would: a HardFault on the M0+
     * (branch to an even address), SIGSEGV on a host. */
    void (*volatile fn)(void) = 0;
    // cppcheck-suppress nullPointer ; the crash is the point
    fn(); // NOLINT(clang-analyzer-core.CallAndMessage): the crash is the point
}
