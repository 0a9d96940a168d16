/*
 * irq.c - NVIC, critical sections, the 1 us time base (TIMER) and the WFI idle.
 *
 * Sleeping without losing a wake-up (hal.h idle contract): the core masks interrupts, finds
 * nothing to do and calls hal_idle_until(), which executes WFI with PRIMASK still set. An
 * interrupt that became pending after the mask was taken ends WFI at once; its handler runs
 * when the core restores PRIMASK, and the core's next loop sees the event it set. No
 * port-side flag is needed, and no ISR has to remember to set one.
 */
#include "rp2040.h"
#include "rp2040_regs.h"

void rp2040_irq_enable(uint32_t irq, bool on)
{
    if (on) {
        REG(NVIC_ICPR) = 1u << irq;
        REG(NVIC_ISER) = 1u << irq;
    } else {
        REG(NVIC_ICER) = 1u << irq;
    }
}

uint32_t hal_irq_save(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    return primask;
}

void hal_irq_restore(uint32_t state)
{
    __asm volatile("msr primask, %0" ::"r"(state) : "memory");
}

/* In flash, next to its callers (the scheduler): a call from flash into SRAM goes through a
 * long-branch veneer that costs as much as the read itself. */
uint32_t hal_time_us(void)
{
    return REG(TIMER_TIMERAWL);
}

void rp2040_delay_us_blocking(uint32_t us)
{
    uint32_t start = hal_time_us();
    while (hal_time_us() - start < us) {
    }
}

/* Only reached if ALARM0 fires while interrupts are enabled (hal_idle_until normally takes
 * the alarm itself, see there). */
RP2040_RAMFUNC void rp2040_isr_timer0(void)
{
    REG(TIMER_INTR) = 1u; /* write-1-to-clear ALARM0: the wake-up itself was the point */
}

/* In flash like its caller (sched_run) and rp2040_i2c_needs_poll: SRAM would put a veneer
 * on both calls, and the loop around it stays in the XIP cache. */
#define STACK_SCAN_MIN_IDLE_US 20

void hal_idle_until(uint32_t deadline_us, bool has_deadline)
{
    if (has_deadline) {
        REG(TIMER_ALARM0) = deadline_us; /* arms the alarm */
        /* An alarm set in the past would only fire after the counter wraps (~71 min). */
        if ((int32_t)(deadline_us - hal_time_us()) <= 0) {
            REG(TIMER_ARMED) = 1u; /* write-1-to-disarm */
            return;
        }
    }
    if (rp2040_i2c_needs_poll()) {
        /* rp2040js never raises the I2C interrupt: deliver the completion from here. */
        if (rp2040_events->i2c_cb) {
            rp2040_events->i2c_cb();
        }
        if (has_deadline) {
            REG(TIMER_ARMED) = 1u;
        }
        return;
    }
    /* Nothing due for a while: one slice of the stack high-water scan (~1 us, interrupts
     * masked) costs no task any lateness. */
    if (!has_deadline || (int32_t)(deadline_us - hal_time_us()) > STACK_SCAN_MIN_IDLE_US) {
        rp2040_stack_scan_slice();
    }
    /* PRIMASK is set by the caller: a pending interrupt still ends WFI (ARMv6-M B1.5.19). */
    __asm volatile("dsb\n\twfi" ::: "memory");
    if (has_deadline) {
        /* The alarm only had to end WFI: disarm it, acknowledge it and drop its NVIC pending
         * bit, so no exception entry/exit (~30 cycles) is spent on the timer ISR. */
        REG(TIMER_ARMED) = 1u;
        REG(TIMER_INTR) = 1u;
        REG(NVIC_ICPR) = 1u << IRQ_TIMER0;
    }
}

void rp2040_timer_init(void)
{
    rp2040_unreset(RESET_TIMER);
    REG(TIMER_ARMED) = 0xfu;
    REG(TIMER_INTR) = 0xfu;
    REG(TIMER_INTE) = 1u; /* ALARM0 */
    rp2040_irq_enable(IRQ_TIMER0, true);
}
