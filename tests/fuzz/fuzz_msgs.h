/*
 * fuzz_msgs.h - one buffer that holds any decoded message body (fuzz_proto.c, fuzz_msg.c).
 */
#ifndef PICOD_FUZZ_MSGS_H
#define PICOD_FUZZ_MSGS_H

#include "proto.h"

typedef union fuzz_msg {
    proto_hello_req_t hello_req;
    proto_hello_ack_t hello_ack;
    proto_heartbeat_ack_t hb;
    proto_set_led_req_t led;
    proto_state_t state;
    proto_readings_t readings;
    proto_reading_t reading;
    proto_set_poll_req_t poll;
    proto_i2c_scan_ack_t scan;
    proto_i2c_xfer_req_t xfer_req;
    proto_i2c_xfer_ack_t xfer_ack;
    proto_stats_t stats;
    proto_task_stats_t task;
    proto_button_event_t button;
    proto_fault_event_t fault;
    proto_error_t error;
} fuzz_msg_t;

#endif
