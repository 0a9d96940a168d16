/*
 * sim_i2c.c - the simulated I2C bus: a register-level BME280 at 0x76 and an SHT3x at 0x44.
 *
 * The BME280 carries a real device's calibration constants. When a forced measurement is
 * triggered it produces raw ADC values found by searching the core's own compensation (which
 * the unit tests check against the datasheet's floating-point formulas), so the firmware
 * reads back exactly the environment set with `set temp` etc. The SHT3x answers its
 * single-shot command with CRC-protected raw words after its conversion time and NACKs its
 * address while measuring, like the real part.
 */
#include <math.h>
#include <string.h>

#include "bme280.h"
#include "bme280_sample_cal.h"
#include "picosim.h"
#include "sched.h"
#include "sht3x.h"

#define BME_ADDR 0x76
#define SHT_ADDR 0x44

static struct {
    uint8_t reg[256];
    uint8_t ptr;
    bool pending;
    uint32_t ready_us;
    uint8_t data[8];
} bme;

static struct {
    bool measuring, have_data;
    uint32_t ready_us;
    uint8_t data[6];
} sht;

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

static void bme_reset(void)
{
    memset(bme.reg, 0, sizeof(bme.reg));
    uint8_t *c0 = &bme.reg[BME280_REG_CALIB0];
    const bme280_calib_t *c = &bme280_sample_cal;
    put16(&c0[0], c->t1);
    put16(&c0[2], (uint16_t)c->t2);
    put16(&c0[4], (uint16_t)c->t3);
    put16(&c0[6], c->p1);
    const int16_t p[8] = {c->p2, c->p3, c->p4, c->p5, c->p6, c->p7, c->p8, c->p9};
    for (int i = 0; i < 8; i++)
        put16(&c0[8 + 2 * i], (uint16_t)p[i]);
    c0[25] = c->h1;
    uint8_t *c1 = &bme.reg[BME280_REG_CALIB1];
    put16(&c1[0], (uint16_t)c->h2);
    c1[2] = c->h3;
    c1[3] = (uint8_t)((c->h4 >> 4) & 0xff);
    c1[4] = (uint8_t)((c->h4 & 0x0f) | ((c->h5 & 0x0f) << 4));
    c1[5] = (uint8_t)((c->h5 >> 4) & 0xff);
    c1[6] = (uint8_t)c->h6;
    bme.reg[BME280_REG_CHIP_ID] = BME280_CHIP_ID;
    /* data registers after reset: "skipped" values */
    bme.reg[0xF7] = 0x80;
    bme.reg[0xFA] = 0x80;
    bme.reg[0xFD] = 0x80;
    bme.pending = false;
}

/* Smallest raw value in [lo, hi] whose compensated value reaches target (f increasing). */
static int32_t search_up(int32_t lo, int32_t hi, int64_t target, int64_t (*f)(int32_t, int32_t),
                         int32_t arg)
{
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (f(mid, arg) < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int64_t f_temp(int32_t adc, int32_t unused)
{
    (void)unused;
    int32_t tf;
    return bme280_compensate_t(&bme280_sample_cal, adc, &tf);
}

static int64_t f_press_neg(int32_t adc, int32_t t_fine)
{
    return -(int64_t)bme280_compensate_p(&bme280_sample_cal, adc, t_fine); /* decreasing in adc */
}

static int64_t f_hum(int32_t adc, int32_t t_fine)
{
    return bme280_compensate_h(&bme280_sample_cal, adc, t_fine);
}

static void bme_measure(void)
{
    int64_t t_target = llround(sim.env.temp_c * 100.0);
    int32_t adc_t = search_up(0, 0xFFFFF, t_target, f_temp, 0);
    int32_t t_fine;
    (void)bme280_compensate_t(&bme280_sample_cal, adc_t, &t_fine);
    int64_t p_target = llround(sim.env.pressure_pa * 256.0);
    int32_t adc_p = search_up(0, 0xFFFFF, -p_target, f_press_neg, t_fine);
    int64_t h_target = llround(sim.env.humidity_pct * 1024.0);
    int32_t adc_h = search_up(0, 0xFFFF, h_target, f_hum, t_fine);
    uint8_t *d = bme.data;
    d[0] = (uint8_t)(adc_p >> 12);
    d[1] = (uint8_t)(adc_p >> 4);
    d[2] = (uint8_t)((adc_p & 0xf) << 4);
    d[3] = (uint8_t)(adc_t >> 12);
    d[4] = (uint8_t)(adc_t >> 4);
    d[5] = (uint8_t)((adc_t & 0xf) << 4);
    d[6] = (uint8_t)(adc_h >> 8);
    d[7] = (uint8_t)(adc_h & 0xff);
    bme.pending = true;
    bme.ready_us = hal_time_us() + 8000u;
    bme.reg[BME280_REG_STATUS] = 0x08; /* measuring */
}

static void bme_update(void)
{
    if (bme.pending && !sched_time_before(hal_time_us(), bme.ready_us)) {
        memcpy(&bme.reg[BME280_REG_DATA], bme.data, 8);
        bme.pending = false;
        bme.reg[BME280_REG_STATUS] = 0;
        bme.reg[BME280_REG_CTRL_MEAS] &= 0xfc; /* back to sleep mode */
    }
}

static void bme_write(uint8_t reg, uint8_t val)
{
    if (reg == BME280_REG_RESET) {
        if (val == 0xB6)
            bme_reset();
        return;
    }
    if (reg == BME280_REG_CTRL_HUM || reg == BME280_REG_CONFIG) {
        bme.reg[reg] = val;
    } else if (reg == BME280_REG_CTRL_MEAS) {
        bme.reg[reg] = val;
        if ((val & 3) == 1 || (val & 3) == 2)
            bme_measure();
    }
}

static int bme_xfer(const hal_i2c_xfer_t *x)
{
    bme_update();
    if (x->wlen) {
        bme.ptr = x->wdata[0];
        /* burst write: register/value pairs */
        for (size_t i = 0; i + 1 < x->wlen; i += 2)
            bme_write(x->wdata[i], x->wdata[i + 1]);
    }
    for (size_t i = 0; i < x->rlen; i++)
        x->rdata[i] = bme.reg[(uint8_t)(bme.ptr + i)];
    return 0;
}

static void sht_put(uint8_t *p, uint16_t raw)
{
    p[0] = (uint8_t)(raw >> 8);
    p[1] = (uint8_t)(raw & 0xff);
    p[2] = sht3x_crc8(p, 2);
}

static int sht_xfer(const hal_i2c_xfer_t *x)
{
    uint32_t now = hal_time_us();
    if (sht.measuring && !sched_time_before(now, sht.ready_us)) {
        sht.measuring = false;
        sht.have_data = true;
    }
    if (x->wlen) {
        if (sht.measuring)
            return -HAL_E_NACK_ADDR;
        uint16_t cmd = (uint16_t)(x->wlen >= 2 ? (x->wdata[0] << 8 | x->wdata[1]) : 0);
        if (x->wlen != 2 || (cmd >> 8) != 0x24)
            return x->wlen == 2 && cmd == 0x30A2 ? 0 : -HAL_E_NACK_DATA;
        double t = (sim.env.sht_temp_c + 45.0) * 65535.0 / 175.0;
        double h = sim.env.sht_humidity_pct * 65535.0 / 100.0;
        t = t < 0 ? 0 : (t > 65535 ? 65535 : t);
        h = h < 0 ? 0 : (h > 65535 ? 65535 : h);
        sht_put(&sht.data[0], (uint16_t)lround(t));
        sht_put(&sht.data[3], (uint16_t)lround(h));
        sht.measuring = true;
        sht.have_data = false;
        sht.ready_us = now + 15000u;
    }
    if (x->rlen) {
        if (!sht.have_data)
            return -HAL_E_NACK_ADDR; /* no result (yet): the read header is not acknowledged */
        for (size_t i = 0; i < x->rlen; i++)
            x->rdata[i] = i < 6 ? sht.data[i] : 0xff;
        sht.have_data = false;
    }
    return 0;
}

void sim_i2c_init(void)
{
    bme_reset();
    memset(&sht, 0, sizeof(sht));
}

int sim_i2c_transfer(const hal_i2c_xfer_t *x)
{
    if (x->addr == BME_ADDR && !sim.env.nack)
        return bme_xfer(x);
    if (x->addr == SHT_ADDR && !sim.env.nack)
        return sht_xfer(x);
    return -HAL_E_NACK_ADDR;
}
