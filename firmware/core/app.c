/*
 * app.c - the firmware's entry point, shared by every port: wire the HAL's interrupt
 * callbacks to the services, create the static tasks, start the watchdog and run.
 */
#include "board.h"
#include "button.h"
#include "hal.h"
#include "i2cbus.h"
#include "led.h"
#include "link.h"
#include "sched.h"
#include "sensors.h"

static const hal_events_t events = {
    .button_edge_cb = button_edge_isr,
    .link_rx_cb = link_rx_isr,
    .link_tx_cb = link_tx_isr,
    .link_state_cb = link_conn_isr,
    .i2c_cb = i2cbus_isr,
};

void app_main(void)
{
    hal_init(&events);
    sched_init();
    sched_set_fault_cb(board_fault_cb);
    led_init();
    link_init();
    button_init();
    sensors_init();
    hal_watchdog_start(CONFIG_WATCHDOG_MS);
    sched_run();
}
