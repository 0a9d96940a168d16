/*
 * test_sensors.c - BME280 integer compensation against the datasheet's floating-point
 * formulas (computed independently here), calibration parsing, SHT3x CRC-8 and conversion,
 * and the I2C error paths of the bus manager and the drivers.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bme280.h"
#include "bme280_sample_cal.h"
#include "fake_hal.h"
#include "i2cbus.h"
#include "sched.h"
#include "sht3x.h"

/* Calibration of a real device: the same words picosim uses. */
static const bme280_calib_t *const cal = &bme280_sample_cal;

/* Datasheet section 8.1, double precision. */
static double ref_t(double adc_t, double *t_fine)
{
    double v1 = (adc_t / 16384.0 - cal->t1 / 1024.0) * cal->t2;
    double v2 =
        (adc_t / 131072.0 - cal->t1 / 8192.0) * (adc_t / 131072.0 - cal->t1 / 8192.0) * cal->t3;
    *t_fine = v1 + v2;
    return (v1 + v2) / 5120.0;
}

static double ref_p(double adc_p, double t_fine)
{
    double v1 = t_fine / 2.0 - 64000.0;
    double v2 = v1 * v1 * cal->p6 / 32768.0;
    v2 = v2 + v1 * cal->p5 * 2.0;
    v2 = v2 / 4.0 + cal->p4 * 65536.0;
    v1 = (cal->p3 * v1 * v1 / 524288.0 + cal->p2 * v1) / 524288.0;
    v1 = (1.0 + v1 / 32768.0) * cal->p1;
    double p = 1048576.0 - adc_p;
    p = (p - v2 / 4096.0) * 6250.0 / v1;
    v1 = cal->p9 * p * p / 2147483648.0;
    v2 = p * cal->p8 / 32768.0;
    return p + (v1 + v2 + cal->p7) / 16.0;
}

static double ref_h(double adc_h, double t_fine)
{
    double h = t_fine - 76800.0;
    h = (adc_h - (cal->h4 * 64.0 + cal->h5 / 16384.0 * h)) *
        (cal->h2 / 65536.0 * (1.0 + cal->h6 / 67108864.0 * h * (1.0 + cal->h3 / 67108864.0 * h)));
    h = h * (1.0 - cal->h1 * h / 524288.0);
    return h < 0 ? 0 : (h > 100 ? 100 : h);
}

static void test_bme280_compensation_matches_datasheet(void **state)
{
    (void)state;
    int checked = 0;
    for (int32_t adc_t = 380000; adc_t <= 620000; adc_t += 20000) {
        int32_t t_fine;
        double tf_ref;
        double t = bme280_compensate_t(cal, adc_t, &t_fine) / 100.0;
        double tr = ref_t(adc_t, &tf_ref);
        assert_true(fabs(t - tr) <= 0.02);
        for (int32_t adc_p = 250000; adc_p <= 450000; adc_p += 25000) {
            double p = bme280_compensate_p(cal, adc_p, t_fine) / 256.0;
            double pr = ref_p(adc_p, tf_ref);
            assert_true(fabs(p - pr) <= 2.0); /* Pa */
            checked++;
        }
        for (int32_t adc_h = 20000; adc_h <= 40000; adc_h += 2500) {
            double h = bme280_compensate_h(cal, adc_h, t_fine) / 1024.0;
            double hr = ref_h(adc_h, tf_ref);
            assert_true(fabs(h - hr) <= 0.1); /* %RH */
            checked++;
        }
    }
    assert_true(checked > 100);
}

static void test_bme280_calib_parse(void **state)
{
    (void)state;
    uint8_t c0[26] = {0}, c1[7] = {0};
    c0[0] = 0x70;
    c0[1] = 0x6b; /* T1 = 0x6b70 */
    c0[2] = 0x43;
    c0[3] = 0x67; /* T2 = 0x6743 */
    c0[4] = 0x18;
    c0[5] = 0xfc; /* T3 = -1000 */
    c0[25] = 75;  /* H1 */
    c1[0] = 0x6a;
    c1[1] = 0x01; /* H2 = 362 */
    c1[3] = 0x13; /* H4 = 0x13 << 4 | (E5 & 0xf) */
    c1[4] = 0x29; /* E5: low nibble 9 -> H4, high nibble 2 -> H5 */
    c1[5] = 0x03; /* H5 = 0x03 << 4 | 2 = 50 */
    c1[6] = 0xe2; /* H6 = -30 */
    bme280_calib_t c;
    bme280_parse_calib(c0, c1, &c);
    assert_int_equal(c.t1, 0x6b70);
    assert_int_equal(c.t2, 0x6743);
    assert_int_equal(c.t3, -1000);
    assert_int_equal(c.h1, 75);
    assert_int_equal(c.h2, 362);
    assert_int_equal(c.h4, 0x139);
    assert_int_equal(c.h5, 50);
    assert_int_equal(c.h6, -30);
}

static void test_bme280_convert_skipped(void **state)
{
    (void)state;
    const uint8_t skipped[8] = {0x80, 0, 0, 0x80, 0, 0, 0x80, 0};
    proto_reading_t r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(bme280_convert(cal, skipped, &r), -PROTO_E_SENSOR);
}

static void test_sht3x_crc_and_convert(void **state)
{
    (void)state;
    const uint8_t beef[2] = {0xbe, 0xef};
    assert_int_equal(sht3x_crc8(beef, 2), 0x92); /* datasheet example */
    uint8_t d[6] = {0x66, 0x66, 0, 0x80, 0x00, 0};
    d[2] = sht3x_crc8(&d[0], 2);
    d[5] = sht3x_crc8(&d[3], 2);
    proto_reading_t r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(sht3x_convert(d, &r), 0);
    /* -45 + 175 * 0x6666 / 65535 = 25.0 degC; 100 * 0x8000 / 65535 = 50.0008 % */
    assert_int_equal(r.temp_centi_c, 2500);
    assert_int_equal(r.humidity_milli_pct, 50001);
    d[5] ^= 1;
    assert_int_equal(sht3x_convert(d, &r), -PROTO_E_SENSOR);
}

/* ---- I2C error paths through the real sub-coroutines ---- */
static int bus_result;
static int nack_fn(const hal_i2c_xfer_t *x)
{
    (void)x;
    return bus_result;
}

static sched_task_t task;
static bme280_t dev;
static proto_reading_t reading;
static int result;
static sched_ret_t measure_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    dev.lc = 0;
    TASK_CALL(t, result, bme280_measure(t, &dev, &reading));
    TASK_END(t);
}

static void test_i2c_errors_are_coded(void **state)
{
    (void)state;
    const struct {
        int hal;
        int proto;
    } map[] = {
        {-HAL_E_NACK_ADDR, -PROTO_E_I2C_NACK_ADDR},
        {-HAL_E_NACK_DATA, -PROTO_E_I2C_NACK_DATA},
        {-HAL_E_TIMEOUT, -PROTO_E_I2C_TIMEOUT},
        {-HAL_E_BUS, -PROTO_E_I2C_BUS},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        fake_hal_reset(0);
        sched_init();
        i2cbus_init();
        bus_result = map[i].hal;
        fake_i2c_fn = nack_fn;
        memset(&dev, 0, sizeof(dev));
        dev.addr = 0x76;
        result = 1;
        sched_task_add(&task, measure_fn, "m");
        fake_run_for(100000);
        assert_int_equal(task.state, SCHED_DONE);
        assert_int_equal(result, map[i].proto);
        assert_int_equal(i2cbus_errors(), 1);
    }
}

/* A chip that answers but is not a BME280 (0x58 = BMP280) is refused. */
static int bmp280_fn(const hal_i2c_xfer_t *x)
{
    if (x->rlen)
        x->rdata[0] = 0x58;
    return 0;
}

static void test_wrong_chip_id(void **state)
{
    (void)state;
    fake_hal_reset(0);
    sched_init();
    i2cbus_init();
    memset(&dev, 0, sizeof(dev));
    dev.addr = 0x76;
    fake_i2c_fn = bmp280_fn;
    result = 1;
    sched_task_add(&task, measure_fn, "m");
    fake_run_for(100000);
    assert_int_equal(result, -PROTO_E_SENSOR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bme280_compensation_matches_datasheet),
        cmocka_unit_test(test_bme280_calib_parse),
        cmocka_unit_test(test_bme280_convert_skipped),
        cmocka_unit_test(test_sht3x_crc_and_convert),
        cmocka_unit_test(test_i2c_errors_are_coded),
        cmocka_unit_test(test_wrong_chip_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
