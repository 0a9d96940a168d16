/*
 * app_stub.c - a stand-in app_main, linked ONLY while firmware/core/app.c does not exist (the
 * cross build checks), so the port builds and boots before the core lands: blink the LED at
 * 1 Hz, echo the host link, feed the watchdog.
 */
#include "hal.h"

void app_main(void);

void app_main(void)
{
    static const hal_events_t ev = {0};
    hal_init(&ev);
    hal_watchdog_start(1000);
    uint32_t next = hal_time_us();
    for (;;) {
        uint8_t buf[64];
        size_t n = hal_link_read(buf, sizeof(buf));
        if (n > 0) {
            (void)hal_link_write(buf, n);
        }
        if ((int32_t)(hal_time_us() - next) >= 0) {
            hal_led_set(!hal_led_get());
            next += 500000u;
        }
        hal_watchdog_feed();
        uint32_t irq = hal_irq_save(); /* hal.h idle contract */
        hal_idle_until(next, true);
        hal_irq_restore(irq);
    }
}
