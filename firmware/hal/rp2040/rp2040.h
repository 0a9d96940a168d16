/*
 * rp2040.h - internals shared by the files of the RP2040 port (not part of the HAL contract).
 *
 * The host link has two implementations behind the same internal hook: link_uart.c (UART0)
 * and usb/ (USB CDC), picked at build time by PICOD_FW_LINK. Each provides
 * rp2040_link_init() and the hal_link_* functions of hal.h.
 */
#ifndef PICOD_RP2040_H
#define PICOD_RP2040_H

#include <stdbool.h>
#include <stdint.h>

#include "hal.h"

/* Board wiring (override with -D at build time). */
#ifndef PICOD_PIN_LED
#define PICOD_PIN_LED 25u
#endif
#ifndef PICOD_PIN_BUTTON
#define PICOD_PIN_BUTTON 15u
#endif
#ifndef PICOD_PIN_I2C0_SDA
#define PICOD_PIN_I2C0_SDA 0u
#endif
#ifndef PICOD_PIN_I2C0_SCL
#define PICOD_PIN_I2C0_SCL 1u
#endif
#ifndef PICOD_PIN_LINK_TX /* UART0 TX when PICOD_FW_LINK=uart */
#define PICOD_PIN_LINK_TX 16u
#endif
#ifndef PICOD_PIN_LINK_RX
#define PICOD_PIN_LINK_RX 17u
#endif
#ifndef PICOD_PIN_DEBUG_TX /* UART1 TX: boot banner and fault text */
#define PICOD_PIN_DEBUG_TX 4u
#endif
#ifndef PICOD_LINK_BAUD
#define PICOD_LINK_BAUD 115200u
#endif

#define RP2040_CLK_SYS_HZ  125000000u
#define RP2040_CLK_PERI_HZ 125000000u
#define RP2040_XOSC_HZ     12000000u

/* Place a function in SRAM (copied by the reset handler): for code that runs while XIP is
 * off, and for the hottest paths (an XIP cache miss costs ~1 us with 03h reads). */
#define RP2040_RAMFUNC __attribute__((section(".time_critical"), noinline))

/* Interrupt handlers: the vector table (crt0.c) points at these; each one not defined by a
 * port file falls back to rp2040_isr_unexpected. */
void rp2040_isr_timer0(void);
void rp2040_isr_timer1(void); /* usb/usb_e5_rp2040.c: the RP2040-E5 fix's timing (ALARM1) */
void rp2040_isr_io_bank0(void);
void rp2040_isr_uart0(void);
void rp2040_isr_i2c0(void);
void rp2040_isr_usbctrl(void); /* usb/ */

/* crt0.c */
void rp2040_reset_handler(void);
void rp2040_isr_unexpected(void);
void rp2040_hardfault_c(const uint32_t *frame);

/* clocks.c: XOSC, PLL_SYS 125 MHz, PLL_USB 48 MHz, clk_ref/sys/peri/usb, 1 us tick; a real
 * fallback when a part fails (PROTO_CLK_* in rp2040_clock_faults). */
void rp2040_clocks_init(void);
/* The frequencies clk_sys and clk_peri were set to (125 MHz, or the fallback's): for divisors. */
uint32_t rp2040_clk_sys_hz(void);
uint32_t rp2040_clk_peri_hz(void);
uint8_t rp2040_clock_faults(void);
/* Measure clk_ref/sys/peri/usb and the ROSC with FC0 (needs the TIMER), fill hw's clock
 * fields and clock_faults (adds PROTO_CLK_MEASURE if a clock is off by more than 1 %). */
void rp2040_clocks_measure(proto_hw_info_t *hw);
/* Release peripherals in mask (RESETS bits) from reset and wait until they are out. */
void rp2040_unreset(uint32_t mask);

/* irq.c */
void rp2040_irq_enable(uint32_t irq, bool on);

/* Bytes of the main stack ever used (from the paint crt0 laid down at reset). */
uint32_t rp2040_stack_high_water(void);
/* One bounded step of the background stack high-water scan (crt0.c); idle path only. */
void rp2040_stack_scan_slice(void);

/* Optional HAL functions (core's hal_weak.c has defaults; declared here too so this port's
 * definitions have a prototype whichever hal.h revision is in the tree). */
uint16_t hal_stack_high_water(void);
void hal_ram_usage(uint32_t *used, uint32_t *total);
void hal_debug_fault(void);
bool hal_can_reboot(uint8_t mode);

/* Busy wait, bounded by the timer. Only for microsecond-scale waits (bus recovery). */
void rp2040_delay_us_blocking(uint32_t us);

/* The core's callbacks registered by hal_init (never NULL; members may be). */
extern const hal_events_t *rp2040_events;

/* gpio.c, i2c.c, system.c: per-block initialisation called by hal_init. */
void rp2040_gpio_init(void);
void rp2040_i2c_init(void);
void rp2040_system_init(void);
void rp2040_link_init(void);
void rp2040_timer_init(void);
/* IO_BANK0 function select for pin (GPIO_FUNC_*). */
void rp2040_gpio_set_function(uint32_t pin, uint32_t func);

/* system.c: a bootrom function by its two-letter code, or NULL when there is no bootrom. */
void *rp2040_rom_func(uint32_t code);
/* SYSINFO CHIP_ID revision: 1 = B0/B1, 2 = B2 (0 = not an RP2040). */
uint8_t rp2040_chip_revision(void);
/* Blink `code` long pulses, `rounds` times (blocking; docs/BRINGUP.md). */
void rp2040_fault_blink(uint8_t code, uint32_t rounds);
/* Optional HAL (hal.h): the silicon facts for HELLO and STATS. */
void hal_hw_info(proto_hw_info_t *out);

/* The link (usb_rp2040.c or link_uart.c): true when it cannot run without clk_usb 48 MHz. */
bool rp2040_link_needs_usb_clock(void);

/* board_id.c: read the flash unique ID once (before the link reports it). */
void rp2040_board_id_init(void);

/* usb/usb_e5_rp2040.c: how often the RP2040-E5 fix ran to its end (B0/B1 only). */
uint32_t rp2040_usb_e5_applied(void);

/* i2c.c: true when an I2C transfer has progressed and hal_i2c_poll has work to do. */
bool rp2040_i2c_needs_poll(void);

/* debug.c: UART1 text channel (polled, for boot banner and fault reports only). */
void rp2040_debug_init(void);
void rp2040_debug_puts(const char *s);
void rp2040_debug_hex(uint32_t v);

#endif /* PICOD_RP2040_H */
