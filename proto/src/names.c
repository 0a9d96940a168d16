/*
 * names.c - stable snake_case names for error codes and message types, as used in logs and
 * in picod's JSON ("code": "i2c_nack_addr").
 */
#include "proto.h"

const char *proto_err_name(int err)
{
    static const char *const names[PROTO_E__COUNT] = {
        [PROTO_OK] = "ok",
        [PROTO_E_VERSION] = "version_mismatch",
        [PROTO_E_UNKNOWN_TYPE] = "unknown_type",
        [PROTO_E_LENGTH] = "bad_length",
        [PROTO_E_ARG] = "bad_argument",
        [PROTO_E_BUSY] = "busy",
        [PROTO_E_I2C_NACK_ADDR] = "i2c_nack_addr",
        [PROTO_E_I2C_NACK_DATA] = "i2c_nack_data",
        [PROTO_E_I2C_TIMEOUT] = "i2c_timeout",
        [PROTO_E_I2C_BUS] = "i2c_bus_error",
        [PROTO_E_NO_SENSOR] = "no_sensor",
        [PROTO_E_UNSUPPORTED] = "unsupported",
        [PROTO_E_INTERNAL] = "internal",
        [PROTO_E_CRC] = "crc_error",
        [PROTO_E_COBS] = "cobs_error",
        [PROTO_E_OVERSIZE] = "oversize",
        [PROTO_E_SHORT] = "short_frame",
        [PROTO_E_SENSOR] = "sensor_error",
        [PROTO_E_NO_SESSION] = "no_session",
        [PROTO_E_STALE] = "stale_seq",
    };
    if (err < 0)
        err = -err;
    if (err >= PROTO_E__COUNT || names[err] == NULL)
        return "unknown_error";
    return names[err];
}

static const char *request_name(uint8_t t)
{
    switch (t) {
    case PROTO_MSG_HELLO:
        return "hello";
    case PROTO_MSG_PING:
        return "ping";
    case PROTO_MSG_HEARTBEAT:
        return "heartbeat";
    case PROTO_MSG_GET_STATE:
        return "get_state";
    case PROTO_MSG_SET_LED:
        return "set_led";
    case PROTO_MSG_READ_SENSORS:
        return "read_sensors";
    case PROTO_MSG_SET_POLL:
        return "set_poll";
    case PROTO_MSG_I2C_SCAN:
        return "i2c_scan";
    case PROTO_MSG_I2C_XFER:
        return "i2c_xfer";
    case PROTO_MSG_GET_STATS:
        return "get_stats";
    case PROTO_MSG_GET_TASK_STATS:
        return "get_task_stats";
    case PROTO_MSG_REBOOT:
        return "reboot";
    case PROTO_MSG_DEBUG:
        return "debug";
    default:
        return NULL;
    }
}

static const char *const ack_names[] = {
    "hello_ack",          "ping_ack",     "heartbeat_ack", "get_state_ack", "set_led_ack",
    "read_sensors_ack",   "set_poll_ack", "i2c_scan_ack",  "i2c_xfer_ack",  "get_stats_ack",
    "get_task_stats_ack", "reboot_ack",   "debug_ack",
};

const char *proto_type_name(uint8_t type)
{
    const char *n = request_name(type);
    if (n)
        return n;
    if (proto_type_is_ack(type)) {
        uint8_t req = (uint8_t)(type & 0x7f);
        if (request_name(req) && req <= sizeof(ack_names) / sizeof(ack_names[0]))
            return ack_names[req - 1];
        return "unknown";
    }
    switch (type) {
    case PROTO_MSG_BUTTON_EVENT:
        return "button_event";
    case PROTO_MSG_SENSOR_READING:
        return "sensor_reading";
    case PROTO_MSG_FAULT:
        return "fault";
    case PROTO_MSG_LOG:
        return "log";
    case PROTO_MSG_LINK_STATE:
        return "link_state";
    case PROTO_MSG_ERROR:
        return "error";
    default:
        return "unknown";
    }
}
