/*
 * sht3x.c - SHT3x driver.
 */
#include "sht3x.h"

uint8_t sht3x_crc8(const uint8_t *data, size_t len)
{
    uint8_t crc = 0xff;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int b = 0; b < 8; b++)
            crc = (uint8_t)((crc & 0x80) ? (crc << 1) ^ 0x31 : crc << 1);
    }
    return crc;
}

int sht3x_convert(const uint8_t d[6], proto_reading_t *r)
{
    if (sht3x_crc8(&d[0], 2) != d[2] || sht3x_crc8(&d[3], 2) != d[5])
        return -PROTO_E_SENSOR;
    uint32_t st = ((uint32_t)d[0] << 8) | d[1];
    uint32_t srh = ((uint32_t)d[3] << 8) | d[4];
    /* T = -45 + 175 * St / 65535 degC, RH = 100 * Srh / 65535 %, rounded */
    r->temp_centi_c = -4500 + (int32_t)((17500u * st + 32767u) / 65535u);
    r->humidity_milli_pct = (100000u * srh + 32767u) / 65535u;
    r->flags = PROTO_READING_TEMP | PROTO_READING_HUMIDITY;
    return 0;
}

int sht3x_measure(sched_task_t *t, sht3x_t *d, proto_reading_t *r)
{
    int rc = 0;
    SUB_BEGIN(&d->lc);
    d->w[0] = (uint8_t)(SHT3X_CMD_MEASURE_HI >> 8);
    d->w[1] = (uint8_t)(SHT3X_CMD_MEASURE_HI & 0xff);
    i2cbus_set_write(&d->op, d->addr, d->w, 2);
    SUB_CALL(&d->lc, rc, i2cbus_xfer(t, &d->op));
    if (rc < 0)
        SUB_RETURN(&d->lc, rc);
    SUB_SLEEP_US(t, &d->lc, SHT3X_CONVERSION_US);
    i2cbus_set_read(&d->op, d->addr, NULL, 0, d->buf, 6);
    SUB_CALL(&d->lc, rc, i2cbus_xfer(t, &d->op));
    if (rc < 0)
        SUB_RETURN(&d->lc, rc);
    SUB_RETURN(&d->lc, sht3x_convert(d->buf, r));
    SUB_END(&d->lc);
}
