/*
 * crt0.c - vector table and reset handler for the RP2040 (no pico-sdk, no libc start files).
 *
 * boot2 (or the emulator harness) sets VTOR = 0x10000100 and loads SP/PC from here. The reset
 * handler sets VTOR again (so a debugger "reset and run" works too), selects what a watchdog
 * reset restarts (PSM_WDSEL is 0 after power-on: a fault before that would reset nothing),
 * lights the LED (boot stage 1, docs/BRINGUP.md: it stays lit if the boot dies before hal_init
 * finishes), copies .ram_text (.time_critical: ISRs and hot paths, run from SRAM because XIP
 * misses over 03h reads cost ~3 us each) and .data from flash, zeroes .bss, leaves .noinit
 * (the crash record) alone, brings up the clocks and calls the core's app_main(), which never
 * returns.
 */
#include <stdint.h>

#include "rp2040.h"
#include "rp2040_regs.h"

void app_main(void);

extern uint32_t __StackTop;
extern uint32_t __stack_bottom;
extern uint32_t __data_start, __data_end, __data_load;
extern uint32_t __ram_text_start, __ram_text_end, __ram_text_load;
extern uint32_t __bss_start, __bss_end;
extern uint32_t __vectors_start;

/* Stack paint: lets the benchmarks and STATS measure the stack high-water mark. */
#define STACK_PAINT 0x57a5c0deu

#define WEAK_ISR __attribute__((weak, alias("rp2040_isr_unexpected")))
void rp2040_isr_timer0(void) WEAK_ISR;
void rp2040_isr_timer1(void) WEAK_ISR;
void rp2040_isr_io_bank0(void) WEAK_ISR;
void rp2040_isr_uart0(void) WEAK_ISR;
void rp2040_isr_i2c0(void) WEAK_ISR;
void rp2040_isr_usbctrl(void) WEAK_ISR;
void rp2040_isr_hardfault(void);

typedef void (*vector_t)(void);

#define UNEXPECTED rp2040_isr_unexpected

/* 16 system exceptions + 32 IRQs; the table is 192 bytes, VTOR needs 256-byte alignment. */
__attribute__((section(".vectors"), used)) static const vector_t vector_table[16 + IRQ_COUNT] = {
    (vector_t)&__StackTop, rp2040_reset_handler, UNEXPECTED,              /* NMI */
    rp2040_isr_hardfault, UNEXPECTED, UNEXPECTED, UNEXPECTED, UNEXPECTED, /* 4..10 reserved */
    UNEXPECTED, UNEXPECTED, UNEXPECTED, UNEXPECTED,                       /* SVCall */
    UNEXPECTED, UNEXPECTED,                                               /* reserved */
    UNEXPECTED,                                                           /* PendSV */
    UNEXPECTED,                                                           /* SysTick */
    /* IRQ 0..31 */
    rp2040_isr_timer0, rp2040_isr_timer1, UNEXPECTED, UNEXPECTED, /* TIMER_IRQ_0..3 */
    UNEXPECTED,                                                   /* PWM */
    rp2040_isr_usbctrl,                                           /* USBCTRL */
    UNEXPECTED, UNEXPECTED, UNEXPECTED, UNEXPECTED,               /* XIP, PIO0 x2, PIO1 */
    UNEXPECTED, UNEXPECTED, UNEXPECTED,                           /* PIO1, DMA x2 */
    rp2040_isr_io_bank0,                                          /* IO_BANK0 */
    UNEXPECTED, UNEXPECTED, UNEXPECTED, UNEXPECTED,               /* IO_QSPI, SIO x2, CLOCKS */
    UNEXPECTED, UNEXPECTED,                                       /* SPI0, SPI1 */
    rp2040_isr_uart0, UNEXPECTED,                                 /* UART0, UART1 */
    UNEXPECTED,                                                   /* ADC_FIFO */
    rp2040_isr_i2c0, UNEXPECTED,                                  /* I2C0, I2C1 */
    UNEXPECTED,                                                   /* RTC */
    UNEXPECTED, UNEXPECTED, UNEXPECTED, UNEXPECTED, UNEXPECTED, UNEXPECTED, /* 26..31 */
};
_Static_assert(sizeof(vector_table) == (16 + IRQ_COUNT) * sizeof(vector_t), "vector table size");

static void copy_words(uint32_t *dst, const uint32_t *end, const uint32_t *src)
{
    while (dst < end) {
        *dst++ = *src++;
    }
}

static void paint_stack(void)
{
    /* Paint from the bottom up to a little below the current SP (we are using the top). */
    uint32_t *p = &__stack_bottom;
    uint32_t *sp = (uint32_t *)__builtin_frame_address(0) - 16;
    while (p < sp) {
        *p++ = STACK_PAINT;
    }
}

/* Boot stage 1 on the LED: SIO output high, before anything that could hang. */
static void led_early_on(void)
{
    rp2040_unreset(RESET_IO_BANK0 | RESET_PADS_BANK0);
    REG(SIO_GPIO_OE_CLR) = 1u << PICOD_PIN_LED;
    REG(PADS_GPIO(PICOD_PIN_LED)) = PADS_DRIVE_4MA | PADS_IE;
    REG(IO_GPIO_CTRL(PICOD_PIN_LED)) = GPIO_FUNC_SIO;
    REG(SIO_GPIO_OUT_SET) = 1u << PICOD_PIN_LED;
    REG(SIO_GPIO_OE_SET) = 1u << PICOD_PIN_LED;
}

__attribute__((noreturn, used)) void rp2040_reset_handler(void)
{
    REG(SCB_VTOR) = (uint32_t)(uintptr_t)&__vectors_start;
    __asm volatile("cpsid i" ::: "memory");
    REG(PSM_WDSEL) = PSM_WDSEL_ALL_BUT_OSC;
    led_early_on();

    copy_words(&__ram_text_start, &__ram_text_end, &__ram_text_load);
    copy_words(&__data_start, &__data_end, &__data_load);
    for (uint32_t *p = &__bss_start; p < &__bss_end; p++) {
        *p = 0;
    }
    paint_stack();

    rp2040_clocks_init();
    __asm volatile("cpsie i" ::: "memory");
    app_main();
    for (;;) {
        __asm volatile("wfi");
    }
}

/* Anything unexpected is a fault: record it like a HardFault so it is reported in HELLO. */
__attribute__((naked)) void rp2040_isr_unexpected(void)
{
    __asm volatile("mrs r0, msp\n\t"
                   "ldr r1, =rp2040_hardfault_c\n\t"
                   "bx r1\n\t"
                   ".ltorg\n\t");
}

/* HardFault: find the exception frame (MSP or PSP, from EXC_RETURN bit 2) and hand it to C. */
__attribute__((naked)) void rp2040_isr_hardfault(void)
{
    __asm volatile("movs r0, #4\n\t"
                   "mov r1, lr\n\t"
                   "tst r0, r1\n\t"
                   "beq 1f\n\t"
                   "mrs r0, psp\n\t"
                   "b 2f\n\t"
                   "1:\n\t"
                   "mrs r0, msp\n\t"
                   "2:\n\t"
                   "ldr r1, =rp2040_hardfault_c\n\t" /* may be out of reach of a b */
                   "bx r1\n\t"
                   ".ltorg\n\t");
}

/* The stack's high-water mark: the lowest word no longer holding the paint. A whole scan of
 * the unused part is ~4000 cycles (30 us), too long for the task run that answers GET_TASK_STATS,
 * so it is measured STACK_SCAN_SLICE words at a time while the core idles
 * (rp2040_stack_scan_slice from hal_idle_until) and a question gets the last complete pass.
 * The paint is never restored, so each pass can only find the mark lower (the value only
 * grows) and the answer lags the truth by at most one pass. */
#define STACK_SCAN_SLICE     16u
#define STACK_SCAN_PERIOD_US 1000000u  /* a new pass at most this often: idle stays cheap */
static const uint32_t *stack_scan_pos; /* next word of the current pass, NULL = none started */
static uint32_t stack_hwm_bytes;       /* result of the last complete pass, 0 = none yet */
static uint32_t stack_scan_done_us;    /* when the last pass completed */

static uint32_t stack_used_from(const uint32_t *p)
{
    return (uint32_t)((uintptr_t)&__StackTop - (uintptr_t)p);
}

void rp2040_stack_scan_slice(void)
{
    if (!stack_scan_pos && hal_time_us() - stack_scan_done_us < STACK_SCAN_PERIOD_US) {
        return;
    }
    const uint32_t *p = stack_scan_pos ? stack_scan_pos : &__stack_bottom;
    for (uint32_t n = 0; n < STACK_SCAN_SLICE; n++, p++) {
        if (p >= &__StackTop || *p != STACK_PAINT) {
            uint32_t used = stack_used_from(p);
            if (used > stack_hwm_bytes) {
                stack_hwm_bytes = used;
            }
            stack_scan_pos = NULL; /* the next pass starts at the bottom again */
            stack_scan_done_us = hal_time_us();
            return;
        }
    }
    stack_scan_pos = p;
}

uint32_t rp2040_stack_high_water(void)
{
    if (stack_hwm_bytes == 0) {
        /* Asked before the first pass finished: measure once, in full. */
        const uint32_t *p = &__stack_bottom;
        while (p < &__StackTop && *p == STACK_PAINT) {
            p++;
        }
        stack_hwm_bytes = stack_used_from(p);
        stack_scan_done_us = hal_time_us();
    }
    return stack_hwm_bytes;
}
