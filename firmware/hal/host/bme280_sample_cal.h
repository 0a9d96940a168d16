/*
 * bme280_sample_cal.h - the calibration words of a real BME280 (T1..T3, P1..P9, H1..H6).
 *
 * One set of constants for picosim's simulated sensor and for the core's unit tests, so that
 * both work on the numbers a real part reports (the tests' reference formulas stay their own).
 */
#ifndef PICOD_HOST_BME280_SAMPLE_CAL_H
#define PICOD_HOST_BME280_SAMPLE_CAL_H

#include "bme280.h"

static const bme280_calib_t bme280_sample_cal = {
    .t1 = 28485,
    .t2 = 26735,
    .t3 = 50,
    .p1 = 36738,
    .p2 = -10635,
    .p3 = 3024,
    .p4 = 6980,
    .p5 = -4,
    .p6 = -7,
    .p7 = 9900,
    .p8 = -10230,
    .p9 = 4285,
    .h1 = 75,
    .h2 = 362,
    .h3 = 0,
    .h4 = 313,
    .h5 = 50,
    .h6 = 30,
};

#endif
