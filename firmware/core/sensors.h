/*
 * sensors.h - the sensor task: owns the I2C bus, finds sensors at start (bus scan, then BME280
 * at 0x76/0x77 and SHT3x at 0x44/0x45), measures them on the host's polling intervals
 * (SENSOR_READING events) and executes the host's bus requests (READ_SENSORS, I2C_SCAN,
 * I2C_XFER) from a bounded job queue, answering them itself (deferred responses).
 */
#ifndef PICOD_CORE_SENSORS_H
#define PICOD_CORE_SENSORS_H

#include <stdint.h>

#include "proto.h"
#include "sched.h"

extern sched_task_t sensors_task;

void sensors_init(void);
/* Queue a host request for the sensor task. Return LINK_DEFERRED or a negative proto_err
 * (-PROTO_E_BUSY when the job queue is full, -PROTO_E_NO_SENSOR, -PROTO_E_ARG). */
int sensors_request_read(uint16_t seq, uint8_t sensor);
int sensors_request_scan(uint16_t seq, uint8_t bus);
int sensors_request_xfer(uint16_t seq, const proto_i2c_xfer_req_t *req);
/* SET_POLL: 0 stops, else CONFIG_POLL_MIN_MS..2000000 ms. Returns 0 or negative proto_err. */
int sensors_set_poll(uint8_t sensor, uint32_t interval_ms);
/* Safe state: stop all polling. */
void sensors_stop_polling(void);
uint8_t sensors_count(void);

#endif /* PICOD_CORE_SENSORS_H */
