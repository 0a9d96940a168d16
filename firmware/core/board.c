/*
 * board.c - 64-bit uptime and the fault hook.
 */
#include "board.h"

#include "hal.h"
#include "link.h"
#include "proto.h"

static uint32_t last_us;
static uint64_t total_us;

void board_uptime_tick(void)
{
    uint32_t now = hal_time_us();
    total_us += (uint32_t)(now - last_us);
    last_us = now;
}

uint32_t board_uptime_ms(void)
{
    board_uptime_tick();
    return (uint32_t)(total_us / 1000u); /* a 64-bit division: ~600 cycles on the M0+ */
}

uint64_t board_uptime_us(void)
{
    board_uptime_tick();
    return total_us;
}

void board_fault_cb(uint8_t kind, uint8_t task, uint32_t detail)
{
    proto_fault_event_t fe = {kind, task, detail};
    uint8_t b[16];
    int n = proto_fault_event_encode(&fe, b, sizeof(b));
    if (n >= 0)
        (void)link_send_event(PROTO_MSG_FAULT, b, (size_t)n);
}

void board_hw_hello(uint8_t *chip_rev, uint8_t *clock_faults)
{
    proto_hw_info_t hw;
    hal_hw_info(&hw);
    *chip_rev = hw.chip_rev;
    *clock_faults = hw.clock_faults;
}
