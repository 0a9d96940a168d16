/*
 * hal_port_inline.h - inline versions of the HAL calls on the scheduler's dispatch path
 * (firmware/core/sched.c includes this when PICOD_HAL_PORT_INLINE is defined). Each must
 * behave exactly like its hal.h function; the out-of-line ones in irq.c stay for everyone else.
 */
#ifndef PICOD_RP2040_HAL_PORT_INLINE_H
#define PICOD_RP2040_HAL_PORT_INLINE_H

#include <stdint.h>

#include "rp2040_regs.h"

/* hal_time_us: TIMERAWL, the raw low word of the 1 us counter (no latching needed). */
static inline uint32_t rp2040_time_us_inline(void)
{
    return REG(TIMER_TIMERAWL);
}
#define HAL_TIME_US_INLINE() rp2040_time_us_inline()

/* hal_irq_save / hal_irq_restore: PRIMASK. Inline, so the dispatch loop running from SRAM does
 * not pay a long-branch veneer into flash for two instructions. */
static inline uint32_t rp2040_irq_save_inline(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    return primask;
}

static inline void rp2040_irq_restore_inline(uint32_t state)
{
    __asm volatile("msr primask, %0" ::"r"(state) : "memory");
}
#define HAL_IRQ_SAVE_INLINE()         rp2040_irq_save_inline()
#define HAL_IRQ_RESTORE_INLINE(state) rp2040_irq_restore_inline(state)

#endif /* PICOD_RP2040_HAL_PORT_INLINE_H */
