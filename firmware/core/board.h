/*
 * board.h - board-wide helpers: 64-bit uptime, the fault hook, optional HAL extensions.
 */
#ifndef PICOD_CORE_BOARD_H
#define PICOD_CORE_BOARD_H

#include <stdint.h>

/* Milliseconds since boot. Extends the wrapping 32-bit HAL clock; must be called at least
 * once per wrap (~71 min): the link task does so every time it runs (at least every
 * second or so, since it waits with the host-watchdog timeout or is woken by I/O). */
uint32_t board_uptime_ms(void);
/* Fold the 32-bit microsecond counter into the 64-bit uptime without computing milliseconds:
 * call at least once per counter wrap (~71 min); cheap enough for every link run. */
void board_uptime_tick(void);

/* Scheduler fault hook: turns task overruns into FAULT events. */
void board_fault_cb(uint8_t kind, uint8_t task, uint32_t detail);

#endif /* PICOD_CORE_BOARD_H */
