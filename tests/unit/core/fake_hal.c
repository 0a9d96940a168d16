/*
 * fake_hal.c - see fake_hal.h.
 */
#include "fake_hal.h"

#include <string.h>

#include "sched.h"

uint32_t fake_now;
bool fake_led;
bool fake_button;
uint8_t fake_tx[65536];
size_t fake_tx_len;
size_t fake_tx_space;
uint32_t fake_feeds;
uint32_t fake_idle_calls;
int (*fake_i2c_fn)(const hal_i2c_xfer_t *x);
uint32_t fake_i2c_duration_us;

static uint8_t rx[8192];
static size_t rx_len, rx_pos;
static const hal_events_t *events;
static struct {
    bool active;
    int result;
    uint32_t done;
} i2c;
static proto_crash_t crash;

void fake_hal_reset(uint32_t start_us)
{
    fake_now = start_us;
    fake_led = fake_button = false;
    fake_tx_len = 0;
    fake_tx_space = SIZE_MAX;
    fake_feeds = fake_idle_calls = 0;
    fake_tx_pending = 0;
    fake_reboots = fake_reboot_us = 0;
    fake_i2c_fn = NULL;
    fake_i2c_duration_us = 100;
    rx_len = rx_pos = 0;
    memset(&i2c, 0, sizeof(i2c));
    memset(&crash, 0, sizeof(crash));
}

void fake_link_push(const uint8_t *data, size_t len)
{
    memcpy(rx + rx_len, data, len);
    rx_len += len;
}

void hal_init(const hal_events_t *ev)
{
    events = ev;
}

uint32_t hal_time_us(void)
{
    return fake_now;
}

void hal_idle_until(uint32_t deadline_us, bool has_deadline)
{
    fake_idle_calls++;
    if (has_deadline && sched_time_before(fake_now, deadline_us))
        fake_now = deadline_us;
}

uint32_t hal_irq_save(void)
{
    return 0;
}

void hal_irq_restore(uint32_t state)
{
    (void)state;
}

void hal_led_set(bool on)
{
    fake_led = on;
}

bool hal_led_get(void)
{
    return fake_led;
}

bool hal_button_is_down(void)
{
    return fake_button;
}

size_t hal_link_read(uint8_t *buf, size_t cap)
{
    size_t n = rx_len - rx_pos;
    if (n > cap)
        n = cap;
    memcpy(buf, rx + rx_pos, n);
    rx_pos += n;
    if (rx_pos == rx_len)
        rx_pos = rx_len = 0;
    return n;
}

size_t hal_link_write(const uint8_t *buf, size_t len)
{
    if (len > fake_tx_space)
        len = fake_tx_space;
    if (len > sizeof(fake_tx) - fake_tx_len)
        len = sizeof(fake_tx) - fake_tx_len;
    memcpy(fake_tx + fake_tx_len, buf, len);
    fake_tx_len += len;
    if (fake_tx_space != SIZE_MAX)
        fake_tx_space -= len;
    return len;
}

size_t hal_link_tx_space(void)
{
    return fake_tx_space;
}

bool hal_link_is_connected(void)
{
    return true;
}

int hal_i2c_start(const hal_i2c_xfer_t *x)
{
    if (i2c.active)
        return -HAL_E_BUSY;
    i2c.result = fake_i2c_fn ? fake_i2c_fn(x) : -HAL_E_NACK_ADDR;
    i2c.done = fake_now + fake_i2c_duration_us;
    i2c.active = true;
    return 0;
}

int hal_i2c_poll(void)
{
    if (!i2c.active)
        return 0;
    if (sched_time_before(fake_now, i2c.done))
        return -HAL_E_BUSY;
    i2c.active = false;
    return i2c.result;
}

void hal_watchdog_start(uint32_t timeout_ms)
{
    (void)timeout_ms;
}

void hal_watchdog_feed(void)
{
    fake_feeds++;
}

void hal_board_id(uint8_t id[PROTO_BOARD_ID_LEN])
{
    for (int i = 0; i < PROTO_BOARD_ID_LEN; i++)
        id[i] = (uint8_t)(0xa0 + i);
}

uint8_t hal_reset_cause(void)
{
    return PROTO_RESET_POWER_ON;
}

proto_crash_t *hal_crash_record(void)
{
    return &crash;
}

uint8_t hal_platform(void)
{
    return PROTO_PLATFORM_HOST_SIM;
}

size_t fake_tx_pending;
uint32_t fake_reboots;
uint32_t fake_reboot_us;

size_t hal_link_tx_pending(void)
{
    return fake_tx_pending;
}

bool hal_can_reboot(uint8_t mode)
{
    return mode == PROTO_REBOOT_NORMAL;
}

/* A reboot is recorded, not done: the test looks at when it would have happened. */
int hal_reboot(uint8_t mode)
{
    if (mode != PROTO_REBOOT_NORMAL)
        return -HAL_E_UNSUPPORTED;
    fake_reboots++;
    fake_reboot_us = fake_now;
    return 0;
}

void fake_run_until(uint32_t end)
{
    for (int guard = 0; guard < 1000000; guard++) {
        if (sched_poll() || sched_has_work())
            continue;
        uint32_t dl;
        if (!sched_next_deadline(&dl) || !sched_time_before(dl, end)) {
            if (sched_time_before(fake_now, end))
                fake_now = end;
            /* one more pass for deadlines exactly at end */
            while (sched_poll() || sched_has_work())
                ;
            return;
        }
        uint32_t irq = hal_irq_save(); /* the hal.h idle contract, as sched_run does it */
        hal_idle_until(dl, true);
        hal_irq_restore(irq);
    }
}

void fake_run_for(uint32_t us)
{
    fake_run_until(fake_now + us);
}
