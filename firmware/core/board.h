/*
 * board.h - board-wide helpers: 64-bit uptime, the fault hook, optional HAL extensions.
 */
#ifndef PICOD_CORE_BOARD_H
#define PICOD_CORE_BOARD_H

#include <stdint.h>

/* Milliseconds since boot (board_uptime_tick, then a 64-bit division). */
uint32_t board_uptime_ms(void);
/* Microseconds since boot, 64-bit (board_uptime_tick first): HEARTBEAT_ACK's uptime_us. */
uint64_t board_uptime_us(void);
/* Fold the wrapping 32-bit microsecond counter into the 64-bit uptime, without computing
 * milliseconds. Must run at least once per wrap (~71 min): the link task calls it every time
 * it runs (at least once a second: it waits with a timeout of at most 1 s). */
void board_uptime_tick(void);

/* HELLO's silicon facts (chip revision, PROTO_CLK_* faults) from hal_hw_info. */
void board_hw_hello(uint8_t *chip_rev, uint8_t *clock_faults);

/* Scheduler fault hook: turns task overruns into FAULT events. */
void board_fault_cb(uint8_t kind, uint8_t task, uint32_t detail);

#endif /* PICOD_CORE_BOARD_H */
