/*
 * button.h - button service: raw edges from the port's interrupt, debounced in a task, sent
 * to the host as BUTTON_EVENT (PRESS, RELEASE, LONG, DOUBLE) with microsecond timestamps.
 *
 * Debounce: a burst of raw edges is accepted once the level has been stable for
 * CONFIG_BUTTON_DEBOUNCE_US; the event's timestamp is the FIRST edge of the burst, i.e. when
 * the user actually pressed. LONG is sent once while held for CONFIG_BUTTON_LONG_US; DOUBLE
 * follows the PRESS that comes within CONFIG_BUTTON_DOUBLE_US of the previous press.
 */
#ifndef PICOD_CORE_BUTTON_H
#define PICOD_CORE_BUTTON_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"
#include "sched.h"

extern sched_task_t button_task;

void button_init(void);
/* HAL callback (interrupt context): a raw edge. */
void button_edge_isr(bool down, uint32_t t_us);
/* Debounced state and press count since reset. */
bool button_is_down(void);
uint32_t button_presses(void);

/* Optional listener for other tasks (called from the button task for every event it sends),
 * e.g. the seed example where the interval between presses sets the blink period. */
typedef void (*button_listener_t)(const proto_button_event_t *ev);
void button_set_listener(button_listener_t fn);

#endif /* PICOD_CORE_BUTTON_H */
