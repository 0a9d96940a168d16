/*
 * fake_hal.h - a HAL for unit tests of firmware/core: time is a variable the test moves,
 * the link is a pair of buffers, I2C transfers are answered by a test-supplied function.
 */
#ifndef FAKE_HAL_H
#define FAKE_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal.h"

extern uint32_t fake_now; /* hal_time_us() */
extern bool fake_led;
extern bool fake_button;
extern uint8_t fake_tx[65536]; /* what the core wrote to the link */
extern size_t fake_tx_len;
extern size_t fake_tx_space; /* bytes hal_link_write accepts now (SIZE_MAX = unlimited) */
extern uint32_t fake_feeds;  /* hal_watchdog_feed calls */
extern uint32_t fake_idle_calls;
extern size_t fake_tx_pending;  /* hal_link_tx_pending(): bytes the "host" has not taken */
extern uint32_t fake_reboots;   /* hal_reboot(NORMAL) calls */
extern uint32_t fake_reboot_us; /* fake_now at the last one */

/* I2C: the test's device model; returns 0 or a negative hal_err. */
extern int (*fake_i2c_fn)(const hal_i2c_xfer_t *x);
extern uint32_t fake_i2c_duration_us;

void fake_hal_reset(uint32_t start_us);
/* Bytes for hal_link_read. */
void fake_link_push(const uint8_t *data, size_t len);
/* Run the scheduler until fake time reaches end (tasks run, time jumps to deadlines). */
void fake_run_until(uint32_t end);
void fake_run_for(uint32_t us);

#endif
