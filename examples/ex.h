/*
 * ex.h - what the examples share: text output on the UART0 link (the emulator tests read it;
 * a USB-serial adapter on GP16 shows it on a real Pico), without printf or heap.
 */
#ifndef PICOD_EXAMPLES_EX_H
#define PICOD_EXAMPLES_EX_H

#include <stdint.h>

#include "hal.h"
#include "sched.h"

/* Queue text for the UART (never blocks: what does not fit the port's 512-byte ring is
 * dropped and counted in ex_dropped). */
void ex_puts(const char *s);
/* Decimal, with an optional sign. */
void ex_putd(int32_t v);
/* One line: s, then v in decimal (if with_value), then "\r\n". */
void ex_line(const char *s, int32_t v, int with_value);
extern uint32_t ex_dropped;

/* Bring up the board (no core services: no host protocol on the link) and the scheduler. */
void ex_init(void);
/* Start the watchdog and run the scheduler forever. */
void ex_run(void) __attribute__((noreturn));

#endif
