/*
 * bme280.c - BME280 driver. The compensation follows the datasheet's integer reference
 * (section 4.2.3 and 8.2) with one change: left shifts of possibly negative values are written
 * as multiplications, which is the same arithmetic without undefined behaviour.
 */
#include "bme280.h"

#include <string.h>

static uint16_t u16le(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static int16_t s16le(const uint8_t *p)
{
    return (int16_t)u16le(p);
}

void bme280_parse_calib(const uint8_t c0[BME280_CALIB0_LEN], const uint8_t c1[BME280_CALIB1_LEN],
                        bme280_calib_t *cal)
{
    cal->t1 = u16le(&c0[0]);
    cal->t2 = s16le(&c0[2]);
    cal->t3 = s16le(&c0[4]);
    cal->p1 = u16le(&c0[6]);
    cal->p2 = s16le(&c0[8]);
    cal->p3 = s16le(&c0[10]);
    cal->p4 = s16le(&c0[12]);
    cal->p5 = s16le(&c0[14]);
    cal->p6 = s16le(&c0[16]);
    cal->p7 = s16le(&c0[18]);
    cal->p8 = s16le(&c0[20]);
    cal->p9 = s16le(&c0[22]);
    cal->h1 = c0[25]; /* 0xA1 */
    cal->h2 = s16le(&c1[0]);
    cal->h3 = c1[2];
    /* H4 = E4[11:4] E5[3:0], H5 = E6[11:4] E5[7:4]; both signed 12-bit */
    cal->h4 = (int16_t)((int16_t)(int8_t)c1[3] * 16 | (c1[4] & 0x0f));
    cal->h5 = (int16_t)((int16_t)(int8_t)c1[5] * 16 | (c1[4] >> 4));
    cal->h6 = (int8_t)c1[6];
}

int32_t bme280_compensate_t(const bme280_calib_t *c, int32_t adc_t, int32_t *t_fine)
{
    int32_t var1 = (((adc_t >> 3) - ((int32_t)c->t1 * 2)) * (int32_t)c->t2) >> 11;
    int32_t d = (adc_t >> 4) - (int32_t)c->t1;
    int32_t var2 = (((d * d) >> 12) * (int32_t)c->t3) >> 14;
    *t_fine = var1 + var2;
    return (*t_fine * 5 + 128) >> 8;
}

uint32_t bme280_compensate_p(const bme280_calib_t *c, int32_t adc_p, int32_t t_fine)
{
    int64_t var1 = (int64_t)t_fine - 128000;
    int64_t var2 = var1 * var1 * (int64_t)c->p6;
    var2 = var2 + var1 * (int64_t)c->p5 * 131072;                                /* << 17 */
    var2 = var2 + (int64_t)c->p4 * 34359738368LL;                                /* << 35 */
    var1 = ((var1 * var1 * (int64_t)c->p3) >> 8) + var1 * (int64_t)c->p2 * 4096; /* << 12 */
    var1 = ((140737488355328LL + var1) * (int64_t)c->p1) >> 33;                  /* (1 << 47) */
    if (var1 == 0)
        return 0; /* avoid a division by zero */
    int64_t p = 1048576 - adc_p;
    p = ((p * 2147483648LL - var2) * 3125) / var1; /* p << 31 */
    var1 = ((int64_t)c->p9 * (p >> 13) * (p >> 13)) >> 25;
    var2 = ((int64_t)c->p8 * p) >> 19;
    p = ((p + var1 + var2) >> 8) + (int64_t)c->p7 * 16; /* << 4 */
    return (uint32_t)p;
}

uint32_t bme280_compensate_h(const bme280_calib_t *c, int32_t adc_h, int32_t t_fine)
{
    int32_t v = t_fine - 76800;
    int32_t a = ((adc_h * 16384) - ((int32_t)c->h4 * 1048576) - ((int32_t)c->h5 * v) + 16384) >> 15;
    int32_t b = (((((v * (int32_t)c->h6) >> 10) * (((v * (int32_t)c->h3) >> 11) + 32768)) >> 10) +
                 2097152) *
                    (int32_t)c->h2 +
                8192;
    v = a * (b >> 14);
    v = v - (((((v >> 15) * (v >> 15)) >> 7) * (int32_t)c->h1) >> 4);
    if (v < 0)
        v = 0;
    if (v > 419430400)
        v = 419430400;
    return (uint32_t)(v >> 12);
}

int bme280_convert(const bme280_calib_t *c, const uint8_t d[8], proto_reading_t *r)
{
    int32_t adc_p = (int32_t)(((uint32_t)d[0] << 12) | ((uint32_t)d[1] << 4) | (d[2] >> 4));
    int32_t adc_t = (int32_t)(((uint32_t)d[3] << 12) | ((uint32_t)d[4] << 4) | (d[5] >> 4));
    int32_t adc_h = (int32_t)(((uint32_t)d[6] << 8) | d[7]);
    if (adc_t == 0x80000)
        return -PROTO_E_SENSOR; /* measurement skipped / never done */
    int32_t t_fine;
    r->temp_centi_c = bme280_compensate_t(c, adc_t, &t_fine);
    r->flags = PROTO_READING_TEMP;
    if (adc_p != 0x80000) {
        r->pressure_pa = (bme280_compensate_p(c, adc_p, t_fine) + 128u) >> 8;
        r->flags |= PROTO_READING_PRESSURE;
    }
    if (adc_h != 0x8000) {
        r->humidity_milli_pct = (bme280_compensate_h(c, adc_h, t_fine) * 1000u + 512u) >> 10;
        r->flags |= PROTO_READING_HUMIDITY;
    }
    return 0;
}

static int init_once(sched_task_t *t, bme280_t *d, uint16_t *lc)
{
    int rc = 0;
    SUB_BEGIN(lc);
    d->ready = 0;
    d->w[0] = BME280_REG_CHIP_ID;
    i2cbus_set_read(&d->op, d->addr, d->w, 1, d->buf, 1);
    SUB_CALL(lc, rc, i2cbus_xfer(t, &d->op));
    if (rc < 0)
        SUB_RETURN(lc, rc);
    if (d->buf[0] != BME280_CHIP_ID)
        SUB_RETURN(lc, -PROTO_E_SENSOR);
    d->w[0] = BME280_REG_CALIB0;
    i2cbus_set_read(&d->op, d->addr, d->w, 1, d->buf, BME280_CALIB0_LEN);
    SUB_CALL(lc, rc, i2cbus_xfer(t, &d->op));
    if (rc < 0)
        SUB_RETURN(lc, rc);
    d->w[0] = BME280_REG_CALIB1;
    i2cbus_set_read(&d->op, d->addr, d->w, 1, d->buf1, BME280_CALIB1_LEN);
    SUB_CALL(lc, rc, i2cbus_xfer(t, &d->op));
    if (rc < 0)
        SUB_RETURN(lc, rc);
    bme280_parse_calib(d->buf, d->buf1, &d->cal);
    d->ready = 1;
    SUB_END(lc);
}

int bme280_init(sched_task_t *t, bme280_t *d)
{
    return init_once(t, d, &d->lc);
}

/* One forced measurement with the calibration already loaded. */
static int measure_once(sched_task_t *t, bme280_t *d, uint16_t *lc, proto_reading_t *r)
{
    int rc = 0;
    SUB_BEGIN(lc);
    d->w[0] = BME280_REG_CTRL_HUM;
    d->w[1] = 0x01; /* osrs_h = 1x (takes effect with the next ctrl_meas write) */
    i2cbus_set_write(&d->op, d->addr, d->w, 2);
    SUB_CALL(lc, rc, i2cbus_xfer(t, &d->op));
    if (rc < 0)
        SUB_RETURN(lc, rc);
    d->w[0] = BME280_REG_CTRL_MEAS;
    d->w[1] = (1u << 5) | (1u << 2) | 0x01u; /* osrs_t 1x, osrs_p 1x, forced mode */
    i2cbus_set_write(&d->op, d->addr, d->w, 2);
    SUB_CALL(lc, rc, i2cbus_xfer(t, &d->op));
    if (rc < 0)
        SUB_RETURN(lc, rc);
    SUB_SLEEP_US(t, lc, BME280_CONVERSION_US);
    d->w[0] = BME280_REG_DATA;
    i2cbus_set_read(&d->op, d->addr, d->w, 1, d->buf, 8);
    SUB_CALL(lc, rc, i2cbus_xfer(t, &d->op));
    if (rc < 0)
        SUB_RETURN(lc, rc);
    SUB_RETURN(lc, bme280_convert(&d->cal, d->buf, r));
    SUB_END(lc);
}

int bme280_measure(sched_task_t *t, bme280_t *d, proto_reading_t *r)
{
    int rc = 0;
    SUB_BEGIN(&d->lc);
    if (!d->ready) {
        d->lc2 = 0;
        SUB_CALL(&d->lc, rc, init_once(t, d, &d->lc2));
        if (rc < 0)
            SUB_RETURN(&d->lc, rc);
    }
    d->lc2 = 0;
    SUB_CALL(&d->lc, rc, measure_once(t, d, &d->lc2, r));
    SUB_RETURN(&d->lc, rc);
    SUB_END(&d->lc);
}
