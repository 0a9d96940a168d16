/*
 * sht3x.h - Sensirion SHT3x driver: single-shot high-repeatability measurement without clock
 * stretching (command 0x2400), 15 ms conversion as a task sleep, CRC-8 (poly 0x31, init
 * 0xFF) checked on both words.
 */
#ifndef PICOD_CORE_SHT3X_H
#define PICOD_CORE_SHT3X_H

#include <stddef.h>
#include <stdint.h>

#include "i2cbus.h"
#include "proto.h"

#define SHT3X_CMD_MEASURE_HI 0x2400u
#define SHT3X_CONVERSION_US  16000u

/* CRC-8 of the datasheet (poly 0x31, init 0xFF, no reflection): crc8({0xBE,0xEF}) == 0x92. */
uint8_t sht3x_crc8(const uint8_t *data, size_t len);
/* Convert the 6 bytes read after a measurement. Returns 0 or -PROTO_E_SENSOR (CRC). */
int sht3x_convert(const uint8_t d[6], proto_reading_t *r);

typedef struct sht3x {
    uint16_t lc;
    uint8_t addr;
    uint8_t w[2];
    uint8_t buf[6];
    i2cbus_op_t op;
} sht3x_t;

/* Sub-coroutine: one measurement into r. */
int sht3x_measure(sched_task_t *t, sht3x_t *d, proto_reading_t *r);

#endif /* PICOD_CORE_SHT3X_H */
