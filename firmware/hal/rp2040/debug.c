/*
 * debug.c - a write-only text channel on UART1 (TX on PICOD_PIN_DEBUG_TX, 115200 8N1) for the
 * boot banner and fault reports. Polled and bounded: it never waits more than a FIFO's worth
 * of characters, and it drops text rather than stall when nobody is listening.
 */
#include "rp2040.h"
#include "rp2040_regs.h"

#define DEBUG_BAUD 115200u

void rp2040_debug_init(void)
{
    rp2040_unreset(RESET_UART1);
    /* divisor = clk_peri / (16 * baud) in 16.6 fixed point */
    uint32_t div64 = (8u * rp2040_clk_peri_hz() / DEBUG_BAUD + 1u) / 2u;
    REG(UART1_BASE + UART_IBRD) = div64 >> 6;
    REG(UART1_BASE + UART_FBRD) = div64 & 0x3fu;
    REG(UART1_BASE + UART_LCR_H) = UART_LCR_H_WLEN8 | UART_LCR_H_FEN;
    REG(UART1_BASE + UART_CR) = UART_CR_UARTEN | UART_CR_TXE;
    rp2040_gpio_set_function(PICOD_PIN_DEBUG_TX, GPIO_FUNC_UART);
}

static void debug_putc(char c)
{
    /* ~90 us per character at 115200: bound the wait to a little over that. */
    uint32_t start = hal_time_us();
    while (REG(UART1_BASE + UART_FR) & UART_FR_TXFF) {
        if (hal_time_us() - start > 200u) {
            return;
        }
    }
    REG(UART1_BASE + UART_DR) = (uint8_t)c;
}

void rp2040_debug_puts(const char *s)
{
    while (*s) {
        debug_putc(*s++);
    }
}

void rp2040_debug_hex(uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int shift = 28; shift >= 0; shift -= 4) {
        debug_putc(digits[(v >> shift) & 0xfu]);
    }
}
