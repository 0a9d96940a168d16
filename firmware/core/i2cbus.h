/*
 * i2cbus.h - I2C transfers as sub-coroutines on top of the non-blocking HAL.
 *
 * i2cbus_xfer() starts a transfer and waits (yielding to other tasks) for the port's i2c_cb
 * or a short poll interval, until hal_i2c_poll() reports the end. Every HAL error becomes a
 * PROTO_E_I2C_* code. Only one task (the sensor task) drives the bus, so no locking is needed.
 */
#ifndef PICOD_CORE_I2CBUS_H
#define PICOD_CORE_I2CBUS_H

#include <stdint.h>

#include "hal.h"
#include "sched.h"

/* A transfer in progress: fill x, zero lc, then call i2cbus_xfer until it is not PENDING. */
typedef struct i2cbus_op {
    uint16_t lc;
    uint8_t probe; /* a presence probe: a NACK is an answer, not an error */
    uint32_t deadline;
    hal_i2c_xfer_t x;
} i2cbus_op_t;

/* A bus scan in progress. */
typedef struct i2cbus_scan {
    uint16_t lc;
    uint8_t addr;
    uint8_t probe;
    i2cbus_op_t op;
} i2cbus_scan_t;

void i2cbus_init(void);
/* HAL callback (interrupt context): the transfer finished or failed. */
void i2cbus_isr(void);

/* Sub-coroutine: run op->x. Returns SCHED_PENDING, 0, or -PROTO_E_I2C_* / -PROTO_E_BUSY. */
int i2cbus_xfer(sched_task_t *t, i2cbus_op_t *op);
/* Sub-coroutine: probe 0x08..0x77; sets bits in map[16]. Returns SCHED_PENDING or 0.
 * Each address gets a one-byte read; one that NACKs it gets a one-byte write of 0x00 (present
 * if the address is acknowledged, whatever happens to the data byte). The write probe finds
 * devices that refuse reads while idle (an SHT3x without a measurement pending); its
 * trade-off: on most devices 0x00 only sets a register pointer, but a device that treats a
 * lone byte as a command would execute command 0x00. */
int i2cbus_scan(sched_task_t *t, i2cbus_scan_t *s, uint8_t map[16]);

/* Map a negative hal_err to a negative proto_err. */
int i2cbus_map_err(int hal_rc);
/* Transfers that ended with an error since reset (the scan's NACKs are not errors). */
uint32_t i2cbus_errors(void);

/* Convenience fillers for op->x. */
void i2cbus_set_write(i2cbus_op_t *op, uint8_t addr, const uint8_t *w, size_t wlen);
void i2cbus_set_read(i2cbus_op_t *op, uint8_t addr, const uint8_t *w, size_t wlen, uint8_t *r,
                     size_t rlen);

#endif /* PICOD_CORE_I2CBUS_H */
