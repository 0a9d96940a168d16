/*
 * led.h - LED service: on/off/toggle, blink (period + duty), bit patterns, and the heartbeat
 * pattern that shows the link state while the host has not taken the LED over.
 *
 * Heartbeat patterns (100 ms steps, LSB first):
 *   WAITING   500 ms on / 500 ms off            (no host has said HELLO)
 *   ONLINE    two 100 ms blips, then 700 ms off  ("lub-dub")
 *   HOST_LOST 100 ms on / 100 ms off            (host watchdog expired, safe state)
 *   FAULT     three 100 ms blips, then 500 ms off (reset by watchdog/crash, no HELLO yet)
 */
#ifndef PICOD_CORE_LED_H
#define PICOD_CORE_LED_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"
#include "sched.h"

extern sched_task_t led_task;

void led_init(void);
/* Apply a SET_LED request. Returns 0 or -PROTO_E_ARG (nothing changed). */
int led_apply(const proto_set_led_req_t *req);
/* Give the LED back to the heartbeat (safe state, or SET_LED AUTO). */
void led_auto(void);
/* Tell the heartbeat which enum proto_link_state to show. */
void led_set_link_state(uint8_t state);
/* enum proto_led_op in force (AUTO while the heartbeat runs). */
uint8_t led_mode(void);

/* Heartbeat pattern of a link state: bits, length (steps of 100 ms). */
void led_heartbeat_pattern(uint8_t state, uint32_t *bits, uint8_t *len);

#endif /* PICOD_CORE_LED_H */
