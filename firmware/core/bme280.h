/*
 * bme280.h - Bosch BME280 driver: chip-id check, calibration read, forced-mode measurement
 * and the datasheet's integer compensation (int32 temperature, int64 pressure, int32
 * humidity). The compensation functions are pure, so tests and picosim can use them.
 */
#ifndef PICOD_CORE_BME280_H
#define PICOD_CORE_BME280_H

#include <stdint.h>

#include "i2cbus.h"
#include "proto.h"

#define BME280_CHIP_ID       0x60
#define BME280_REG_CALIB0    0x88 /* 0x88..0xA1: 26 bytes */
#define BME280_REG_CHIP_ID   0xD0
#define BME280_REG_RESET     0xE0
#define BME280_REG_CALIB1    0xE1 /* 0xE1..0xE7: 7 bytes */
#define BME280_REG_CTRL_HUM  0xF2
#define BME280_REG_STATUS    0xF3
#define BME280_REG_CTRL_MEAS 0xF4
#define BME280_REG_CONFIG    0xF5
#define BME280_REG_DATA      0xF7 /* 0xF7..0xFE: press[3] temp[3] hum[2] */
#define BME280_CALIB0_LEN    26
#define BME280_CALIB1_LEN    7
/* Forced mode at 1x oversampling takes up to 9.3 ms (datasheet 9.1). */
#define BME280_CONVERSION_US 10000u

typedef struct bme280_calib {
    uint16_t t1;
    int16_t t2, t3;
    uint16_t p1;
    int16_t p2, p3, p4, p5, p6, p7, p8, p9;
    uint8_t h1, h3;
    int16_t h2, h4, h5;
    int8_t h6;
} bme280_calib_t;

/* Parse the two calibration blocks as read from 0x88 (26 bytes) and 0xE1 (7 bytes). */
void bme280_parse_calib(const uint8_t c0[BME280_CALIB0_LEN], const uint8_t c1[BME280_CALIB1_LEN],
                        bme280_calib_t *cal);
/* Temperature in 0.01 degC; *t_fine receives the value the other two formulas need. */
int32_t bme280_compensate_t(const bme280_calib_t *c, int32_t adc_t, int32_t *t_fine);
/* Pressure in Pa as Q24.8 (divide by 256); 0 if the calibration is unusable. */
uint32_t bme280_compensate_p(const bme280_calib_t *c, int32_t adc_p, int32_t t_fine);
/* Relative humidity in %RH as Q22.10 (divide by 1024). */
uint32_t bme280_compensate_h(const bme280_calib_t *c, int32_t adc_h, int32_t t_fine);
/* Fill the value fields of r from the 8 data bytes read at 0xF7. Returns 0 or
 * -PROTO_E_SENSOR if the data registers hold the "skipped" reset values. */
int bme280_convert(const bme280_calib_t *c, const uint8_t d[8], proto_reading_t *r);

typedef struct bme280 {
    uint16_t lc, lc2; /* resume points: public call, inner step */
    uint8_t addr;
    uint8_t ready; /* calibration loaded */
    bme280_calib_t cal;
    i2cbus_op_t op;
    uint8_t w[2];
    uint8_t buf[BME280_CALIB0_LEN];
    uint8_t buf1[BME280_CALIB1_LEN];
} bme280_t;

/* Sub-coroutine: check the chip id and load the calibration. Returns SCHED_PENDING, 0,
 * -PROTO_E_SENSOR (wrong chip id) or an I2C error. */
int bme280_init(sched_task_t *t, bme280_t *d);
/* Sub-coroutine: one forced measurement into r (value fields and flags). Loads the
 * calibration first if needed. The conversion wait is a task sleep. */
int bme280_measure(sched_task_t *t, bme280_t *d, proto_reading_t *r);

#endif /* PICOD_CORE_BME280_H */
