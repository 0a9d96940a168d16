/*
 * start.c - minimal start-up for the USB test firmware (not the product firmware: that is
 * hal/rp2040's). Vector table, .data/.bss, VTOR, and the few hal.h functions the USB stack
 * uses: time, interrupt masking, board ID.
 */
#include <stdint.h>

#include "hal.h"
#include "usb_port.h"

extern uint32_t __data_start[], __data_end[], __data_load[], __bss_start[], __bss_end[],
    __stack_top[];

void reset_handler(void);
int main(void);
static void default_handler(void);

static void default_handler(void)
{
    for (;;) {
        __asm volatile("bkpt #0");
    }
}

__attribute__((section(".vectors"), used)) static void (*const vectors[48])(void) = {
    (void (*)(void))__stack_top,
    reset_handler,
    default_handler, /* NMI */
    default_handler, /* HardFault */
    [16 + 5] = rp2040_isr_usbctrl,
};

void reset_handler(void)
{
    uint32_t data_words = ((uintptr_t)__data_end - (uintptr_t)__data_start) / 4;
    uint32_t bss_words = ((uintptr_t)__bss_end - (uintptr_t)__bss_start) / 4;
    for (uint32_t i = 0; i < data_words; i++) {
        __data_start[i] = __data_load[i];
    }
    for (uint32_t i = 0; i < bss_words; i++) {
        __bss_start[i] = 0;
    }
    *(volatile uint32_t *)0xe000ed08u = (uint32_t)vectors; /* SCB->VTOR */
    main();
    default_handler();
}

uint32_t hal_time_us(void)
{
    return *(volatile uint32_t *)0x40054028u; /* TIMER TIMERAWL */
}

uint32_t hal_irq_save(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    return primask;
}

void hal_irq_restore(uint32_t state)
{
    __asm volatile("msr primask, %0" ::"r"(state) : "memory");
}

void hal_board_id(uint8_t id[PROTO_BOARD_ID_LEN])
{
    static const uint8_t test_id[PROTO_BOARD_ID_LEN] = {0xe6, 0x61, 0x38, 0x52,
                                                        0x83, 0x2f, 0x1a, 0x2b};
    for (unsigned i = 0; i < PROTO_BOARD_ID_LEN; i++) {
        id[i] = test_id[i];
    }
}

/* The compiler emits these for struct copies; the test firmware links no libc. */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) {
        *d++ = *s++;
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    while (n--) {
        *d++ = (uint8_t)c;
    }
    return dst;
}
