/*
 * hal_attrs.h - placement attributes the core may put on its hottest functions; each port says
 * what they mean (portable code stays free of sections and addresses).
 *
 * HAL_TIME_CRITICAL: run this function from RAM. On the RP2040 that is the .time_critical
 * section, which crt0 copies to SRAM at reset: boot2 reads flash with plain 03h commands, so an
 * XIP cache miss costs ~3 us, and the 16 KiB XIP cache is smaller than the image. Use it for the
 * scheduler's dispatch loop and other code every wake-up runs; a call between SRAM and flash
 * goes through a long-branch veneer (a few cycles), so tag a hot path as a whole, not a single
 * leaf. Elsewhere (picosim, unit tests) it expands to nothing.
 */
#ifndef PICOD_HAL_ATTRS_H
#define PICOD_HAL_ATTRS_H

#if defined(PICOD_TARGET_RP2040)
#define HAL_TIME_CRITICAL __attribute__((section(".time_critical"), noinline))
#else
#define HAL_TIME_CRITICAL
#endif

#endif /* PICOD_HAL_ATTRS_H */
