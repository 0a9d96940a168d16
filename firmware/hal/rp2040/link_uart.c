/*
 * link_uart.c - the host link on UART0 (TX GP16, RX GP17, 115200 8N1), used when the
 * firmware is built with PICOD_FW_LINK=uart (a USB-serial adapter on a real Pico, and the
 * emulator harness's protocol channel). GP0/GP1 carry I2C0, hence UART0's alternate pins.
 *
 * Interrupts only move bytes: RX drains the FIFO into a ring and tells the core; TX refills
 * the FIFO from a ring and masks itself when the ring is empty. A UART has no DTR, so the
 * link counts as connected from boot.
 */
#include "rp2040.h"
#include "rp2040_regs.h"

#define LINK_RX_RING 512u /* powers of two */
#define LINK_TX_RING 512u
#define U(off)       REG(UART0_BASE + (off))

struct ring {
    uint16_t head; /* written by the producer only */
    uint16_t tail; /* written by the consumer only */
};

static uint8_t rx_buf[LINK_RX_RING];
static uint8_t tx_buf[LINK_TX_RING];
static volatile struct ring rx, tx;
static volatile uint32_t rx_overruns;

static uint32_t ring_used(const volatile struct ring *r, uint32_t size)
{
    return (uint32_t)(r->head - r->tail) & (size - 1u);
}

void rp2040_link_init(void)
{
    rp2040_unreset(RESET_UART0);
    uint32_t div64 = (8u * rp2040_clk_peri_hz() / PICOD_LINK_BAUD + 1u) / 2u;
    U(UART_IBRD) = div64 >> 6;
    U(UART_FBRD) = div64 & 0x3fu;
    U(UART_LCR_H) = UART_LCR_H_WLEN8 | UART_LCR_H_FEN;
    U(UART_IFLS) = 0; /* interrupt at 1/8 full: low latency for short frames */
    U(UART_CR) = UART_CR_UARTEN | UART_CR_TXE | UART_CR_RXE;
    U(UART_IMSC) = UART_INT_RX | UART_INT_RT;
    rp2040_gpio_set_function(PICOD_PIN_LINK_TX, GPIO_FUNC_UART);
    rp2040_gpio_set_function(PICOD_PIN_LINK_RX, GPIO_FUNC_UART);
    REG(PADS_GPIO(PICOD_PIN_LINK_RX)) = PADS_IE | PADS_PUE | PADS_SCHMITT | PADS_DRIVE_4MA;
    rp2040_irq_enable(IRQ_UART0, true);
    if (rp2040_events->link_state_cb) {
        rp2040_events->link_state_cb(true);
    }
}

bool rp2040_link_needs_usb_clock(void)
{
    return false;
}

/* Move bytes from the TX ring into the FIFO; true when the ring ran empty. */
static bool tx_pump(void)
{
    while (tx.head != tx.tail) {
        if (U(UART_FR) & UART_FR_TXFF) {
            return false;
        }
        U(UART_DR) = tx_buf[tx.tail];
        tx.tail = (uint16_t)((tx.tail + 1u) & (LINK_TX_RING - 1u));
    }
    return true;
}

RP2040_RAMFUNC void rp2040_isr_uart0(void)
{
    bool got = false;
    while (!(U(UART_FR) & UART_FR_RXFE)) {
        uint8_t b = (uint8_t)U(UART_DR);
        uint16_t next = (uint16_t)((rx.head + 1u) & (LINK_RX_RING - 1u));
        if (next == rx.tail) {
            rx_overruns++; /* the core is not keeping up: drop, the CRC catches it */
            continue;
        }
        rx_buf[rx.head] = b;
        rx.head = next;
        got = true;
    }
    U(UART_ICR) = UART_INT_RX | UART_INT_RT;
    bool tx_done = false;
    if (U(UART_MIS) & UART_INT_TX) {
        if (tx_pump()) {
            hw_clear_bits(UART0_BASE + UART_IMSC, UART_INT_TX);
            tx_done = true;
        }
        U(UART_ICR) = UART_INT_TX;
    }
    if (got && rp2040_events->link_rx_cb) {
        rp2040_events->link_rx_cb();
    }
    if (tx_done && rp2040_events->link_tx_cb) {
        rp2040_events->link_tx_cb();
    }
}

size_t hal_link_read(uint8_t *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap && rx.tail != rx.head) {
        buf[n++] = rx_buf[rx.tail];
        rx.tail = (uint16_t)((rx.tail + 1u) & (LINK_RX_RING - 1u));
    }
    return n;
}

size_t hal_link_tx_space(void)
{
    return LINK_TX_RING - 1u - ring_used(&tx, LINK_TX_RING);
}

size_t hal_link_tx_pending(void)
{
    /* The ring, plus whatever the UART still shifts out of its FIFO. */
    size_t n = ring_used(&tx, LINK_TX_RING);
    return n + ((U(UART_FR) & UART_FR_BUSY) ? 1u : 0u);
}

size_t hal_link_write(const uint8_t *buf, size_t len)
{
    size_t space = hal_link_tx_space();
    size_t n = len < space ? len : space;
    for (size_t i = 0; i < n; i++) {
        tx_buf[tx.head] = buf[i];
        tx.head = (uint16_t)((tx.head + 1u) & (LINK_TX_RING - 1u));
    }
    if (n > 0) {
        /* Prime the FIFO ourselves (the TX interrupt only fires on a level crossing), with the
         * ISR masked so the two pumps never interleave. */
        uint32_t irq = hal_irq_save();
        if (!tx_pump()) {
            hw_set_bits(UART0_BASE + UART_IMSC, UART_INT_TX);
        }
        hal_irq_restore(irq);
    }
    return n;
}

bool hal_link_is_connected(void)
{
    return true;
}
