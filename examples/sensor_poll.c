/*
 * sensor_poll.c - seed "Pre-Allocated Sensor Read Buffer Pattern": scan the I2C bus once at
 * start, then poll a sensor every 2 s into fixed variables and print them. The sensor here is
 * a BME280 at 0x76: its chip id (register 0xD0) and the raw temperature and humidity words
 * (0xFA.., 0xFD..) after a forced measurement; I2C transfers are started and polled without
 * blocking (hal.h), the task sleeping while the bus works.
 */
#include "ex.h"

#define POLL_INTERVAL_MS 2000
#define BME280_ADDR      0x76

static struct {
    sched_task_t task;
    uint8_t addr, found;
    uint8_t wbuf[2], rbuf[8];
    int rc;
    uint32_t polls;
} s;

/* One transfer, polled every 100 us; s.rc = 0 or a negative hal_err. Blocks no one. */
#define I2C_XFER(t, wlen, rlen)                                                                    \
    do {                                                                                           \
        hal_i2c_xfer_t x_ = {0, s.addr, s.wbuf, (wlen), s.rbuf, (rlen), 25000};                    \
        s.rc = hal_i2c_start(&x_);                                                                 \
        while (s.rc == 0 && (s.rc = hal_i2c_poll()) == -HAL_E_BUSY) {                              \
            TASK_SLEEP_US(t, 100);                                                                 \
        }                                                                                          \
    } while (0)

static sched_ret_t sensor_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    /* scan_i2c(): print("I2C devices:", i2c.scan()) */
    ex_puts("I2C devices: [");
    s.found = 0;
    for (s.addr = 0x08; s.addr < 0x78; s.addr++) {
        I2C_XFER(t, 0, 1);
        if (s.rc == 0) {
            if (s.found++)
                ex_puts(", ");
            ex_putd(s.addr);
        }
    }
    ex_puts("]\r\n");
    s.addr = BME280_ADDR;
    for (;;) {
        s.wbuf[0] = 0xD0; /* chip id */
        I2C_XFER(t, 1, 1);
        if (s.rc == 0 && s.rbuf[0] == 0x60) {
            s.wbuf[0] = 0xF2; /* ctrl_hum: x1 */
            s.wbuf[1] = 0x01;
            I2C_XFER(t, 2, 0);
            s.wbuf[0] = 0xF4; /* ctrl_meas: temp x1, press x1, forced mode */
            s.wbuf[1] = 0x25;
            I2C_XFER(t, 2, 0);
            TASK_SLEEP_MS(t, 10);
            s.wbuf[0] = 0xFA;
            I2C_XFER(t, 1, 5); /* 0xFA..0xFC temperature, 0xFD..0xFE humidity */
            int32_t raw_t = (int32_t)((uint32_t)s.rbuf[0] << 12 | (uint32_t)s.rbuf[1] << 4 |
                                      (uint32_t)s.rbuf[2] >> 4);
            int32_t raw_h = (int32_t)((uint32_t)s.rbuf[3] << 8 | s.rbuf[4]);
            ex_puts("Temp raw: ");
            ex_putd(raw_t);
            ex_puts(" Humidity raw: ");
            ex_putd(raw_h);
            ex_puts("\r\n");
        } else {
            ex_line("sensor not answering: ", s.rc, 1);
        }
        s.polls++;
        TASK_SLEEP_MS(t, POLL_INTERVAL_MS);
    }
    TASK_END(t);
}

void app_main(void)
{
    ex_init();
    sched_task_add(&s.task, sensor_fn, "sensor");
    ex_run();
}
