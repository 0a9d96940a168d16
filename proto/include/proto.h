/*
 * proto.h - the picod wire protocol: framing, header and message codec.
 *
 * One implementation for both ends: the RP2040 firmware, picosim and picod link the same
 * code. It never allocates, never logs and uses nothing from libc beyond <stdint.h>,
 * <stddef.h>, <stdbool.h> and <string.h>. The normative description is proto/PROTOCOL.md;
 * this header is its C face.
 *
 * Layers, bottom up:
 *   - CRC-16/CCITT-FALSE (proto_crc16) over header + body.
 *   - COBS (proto_cobs_encode/decode) so 0x00 never occurs inside a frame; 0x00 delimits frames
 *     (one before and one after each).
 *   - Packet = header (version, type, seq) + body + CRC (proto_frame_encode, proto_decoder_*).
 *   - Messages: fixed little-endian layouts per type (proto_msg_*_encode/decode).
 *
 * Errors are negative enum proto_err values; >= 0 is success (often a length).
 */
#ifndef PICOD_PROTO_H
#define PICOD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- versioning ------------------------------------------------------------------------ */

#define PROTO_VERSION_MAJOR 1
/* 1.1: silicon facts in HELLO_ACK and STATS; 1.2: uptime_us; 1.3: u32 RAM sizes in STATS;
 * 1.4: host sessions (a session id in HELLO; no acting before a HELLO: ERROR no_session) */
#define PROTO_VERSION_MINOR 4
/* Header version byte: major in the high nibble, minor in the low nibble. */
#define PROTO_VERSION_BYTE        ((uint8_t)((PROTO_VERSION_MAJOR << 4) | PROTO_VERSION_MINOR))
#define PROTO_VERSION_MAJOR_OF(b) ((uint8_t)((b) >> 4))
#define PROTO_VERSION_MINOR_OF(b) ((uint8_t)((b)&0x0f))

/* ---- limits ---------------------------------------------------------------------------- */

#define PROTO_HEADER_SIZE 4   /* version, type, seq (u16 LE) */
#define PROTO_CRC_SIZE    2   /* CRC-16/CCITT-FALSE, little-endian */
#define PROTO_MAX_BODY    244 /* bytes of message body */
#define PROTO_MAX_PACKET  (PROTO_HEADER_SIZE + PROTO_MAX_BODY + PROTO_CRC_SIZE) /* 250 */
/* COBS adds one byte per started 254-byte run: at most this many bytes between delimiters. */
#define PROTO_MAX_ENCODED (PROTO_MAX_PACKET + (PROTO_MAX_PACKET / 254) + 1) /* 251 */
/* A frame as sent: a 0x00 before and after the COBS bytes (proto_frame_encode). */
#define PROTO_MAX_FRAME (1 + PROTO_MAX_ENCODED + 1) /* 253 */

/*
 * Exactly-once window. The board remembers the answers to the last PROTO_SEQ_WINDOW request
 * seqs it executed (slot seq % PROTO_SEQ_WINDOW) and answers a repeated seq from there instead
 * of acting again; the host never sends a seq that is PROTO_SEQ_WINDOW or more ahead of the
 * oldest seq it may still retry, so a retry always finds its slot. A HELLO with a new session
 * id starts a new session and empties the window; a board that has had no HELLO since it
 * booted acts on nothing (see PROTOCOL.md, "Exactly once" and "Sessions").
 */
#define PROTO_SEQ_WINDOW 32

/* ---- error codes (on the wire in ERROR messages, and as negative C return values) -------- */

enum proto_err {
    PROTO_OK = 0,
    PROTO_E_VERSION = 1,       /* incompatible major version */
    PROTO_E_UNKNOWN_TYPE = 2,  /* message type not known to the receiver */
    PROTO_E_LENGTH = 3,        /* body too short/long for the type, or buffer too small */
    PROTO_E_ARG = 4,           /* a field has a value out of range */
    PROTO_E_BUSY = 5,          /* try again later (e.g. the I2C bus is in use) */
    PROTO_E_I2C_NACK_ADDR = 6, /* no device acknowledged the address */
    PROTO_E_I2C_NACK_DATA = 7, /* the device refused a data byte */
    PROTO_E_I2C_TIMEOUT = 8,   /* the transfer did not finish in time */
    PROTO_E_I2C_BUS = 9,       /* arbitration lost or bus stuck; recovery attempted */
    PROTO_E_NO_SENSOR = 10,    /* no such sensor, or it is not responding */
    PROTO_E_UNSUPPORTED = 11,  /* known request this board cannot do (e.g. BOOTSEL in sim) */
    PROTO_E_INTERNAL = 12,     /* the board failed in a way it did not expect */
    PROTO_E_CRC = 13,          /* decoder: CRC mismatch (never sent) */
    PROTO_E_COBS = 14,         /* decoder: invalid COBS encoding (never sent) */
    PROTO_E_OVERSIZE = 15,     /* decoder: frame longer than PROTO_MAX_FRAME (never sent) */
    PROTO_E_SHORT = 16,        /* decoder: frame shorter than header + CRC (never sent) */
    PROTO_E_SENSOR = 17,       /* sensor answered but its data is invalid (CRC-8, chip id) */
    PROTO_E_NO_SESSION = 18,   /* 1.4: an acting request before any HELLO since boot: not done */
    PROTO_E_STALE = 19,        /* 1.4: a request from beyond the window (seq 32..32767 behind the
                                  newest of the session): not done */
    PROTO_E__COUNT
};

/* Human-readable name of an error code ("i2c_nack_addr"...), never NULL. */
const char *proto_err_name(int err);

/* ---- message types ---------------------------------------------------------------------- */

/* Requests host -> board are 0x01..0x3f. The acknowledgement of request T is T | 0x80 with
 * the same seq; a request that fails is answered by PROTO_MSG_ERROR with the same seq.
 * Events board -> host are 0x40..0x7f and carry the board's own sequence numbers. */
enum proto_msg_type {
    PROTO_MSG_HELLO = 0x01,
    PROTO_MSG_PING = 0x02,
    PROTO_MSG_HEARTBEAT = 0x03,
    PROTO_MSG_GET_STATE = 0x04,
    PROTO_MSG_SET_LED = 0x05,
    PROTO_MSG_READ_SENSORS = 0x06,
    PROTO_MSG_SET_POLL = 0x07,
    PROTO_MSG_I2C_SCAN = 0x08,
    PROTO_MSG_I2C_XFER = 0x09,
    PROTO_MSG_GET_STATS = 0x0a,
    PROTO_MSG_GET_TASK_STATS = 0x0b,
    PROTO_MSG_REBOOT = 0x0c,
    PROTO_MSG_DEBUG = 0x0d,

    PROTO_MSG_BUTTON_EVENT = 0x40,
    PROTO_MSG_SENSOR_READING = 0x41,
    PROTO_MSG_FAULT = 0x42,
    PROTO_MSG_LOG = 0x43,
    PROTO_MSG_LINK_STATE = 0x44,

    PROTO_MSG_ERROR = 0xff,
};
#define PROTO_MSG_ACK_FLAG 0x80
#define PROTO_MSG_ACK(t)   ((uint8_t)((t) | PROTO_MSG_ACK_FLAG))

static inline bool proto_type_is_request(uint8_t t)
{
    return t >= 0x01 && t <= 0x3f;
}
static inline bool proto_type_is_event(uint8_t t)
{
    return t >= 0x40 && t <= 0x7f;
}
static inline bool proto_type_is_ack(uint8_t t)
{
    return t >= 0x81 && t <= 0xbf;
}
/* 1.4: a request that changes something on the board (PROTOCOL.md "Exactly once"): a board
 * executes it only in a session (after a HELLO since it booted), else ERROR no_session. */
static inline bool proto_type_acts(uint8_t t)
{
    return t == PROTO_MSG_SET_LED || t == PROTO_MSG_SET_POLL || t == PROTO_MSG_I2C_XFER ||
           t == PROTO_MSG_REBOOT || t == PROTO_MSG_DEBUG;
}

/* Name of a message type ("hello", "hello_ack", "button_event"...), or "unknown". */
const char *proto_type_name(uint8_t type);

/* ---- CRC and COBS ------------------------------------------------------------------------ */

/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final XOR.
 * proto_crc16("123456789") == 0x29B1. Pass the previous result as crc to continue. */
uint16_t proto_crc16_update(uint16_t crc, const uint8_t *data, size_t len);
#define PROTO_CRC16_INIT 0xffffu
uint16_t proto_crc16(const uint8_t *data, size_t len);

/* COBS-encode len bytes of in into out (no delimiter). Returns the encoded length, or
 * -PROTO_E_LENGTH if cap is too small (cap >= len + len/254 + 1 always suffices). */
int proto_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* COBS-decode len bytes (no delimiter) into out. in and out may be the same buffer.
 * Returns the decoded length, -PROTO_E_COBS on a zero byte or a code pointing past the
 * end, -PROTO_E_LENGTH if cap is too small. */
int proto_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* ---- frames ------------------------------------------------------------------------------ */

/* A decoded frame. body points into the decoder's (or caller's) buffer: borrowed, valid
 * until the next call on that decoder. */
typedef struct proto_frame {
    uint8_t version;
    uint8_t type;
    uint16_t seq;
    const uint8_t *body;
    uint16_t body_len;
} proto_frame_t;

/* Build a complete wire frame for header + body into out: 0x00, the COBS bytes, 0x00. The
 * leading delimiter ends whatever partial frame the receiver holds (a frame whose closing
 * 0x00 was lost), so that loss costs one frame and not also this one.
 * Returns the number of bytes to send (at most PROTO_MAX_FRAME), or -PROTO_E_LENGTH if
 * body_len > PROTO_MAX_BODY or the result does not fit cap bytes. */
int proto_frame_encode(uint8_t *out, size_t cap, uint8_t type, uint16_t seq, const uint8_t *body,
                       size_t body_len);

/* The same frame in steps, for a caller that bounds its work per step (a firmware task:
 * docs/FIRMWARE.md, "Fairness under load"): proto_frame_writer_init, then
 * proto_frame_writer_step until it returns the frame's length; the bytes in out are then
 * exactly proto_frame_encode's. body is borrowed until the last step. */
typedef struct proto_frame_writer {
    uint8_t *out;
    const uint8_t *body;
    uint16_t cap, body_len;
    uint16_t pos;         /* body bytes done in the current pass */
    uint16_t o, code_pos; /* COBS state: next output byte, the open block's code byte */
    uint16_t crc;
    uint8_t hdr[PROTO_HEADER_SIZE];
    uint8_t code;
    uint8_t pass; /* 0: CRC, 1: stuffing, 2: done */
    bool err;
} proto_frame_writer_t;

/* Returns 0, or -PROTO_E_LENGTH if body_len > PROTO_MAX_BODY or cap < 2. */
int proto_frame_writer_init(proto_frame_writer_t *w, uint8_t *out, size_t cap, uint8_t type,
                            uint16_t seq, const uint8_t *body, size_t body_len);
/* Do at most max bytes of work (a byte through the CRC or through the stuffing counts one;
 * the header and CRC bytes come free). Returns 0 while unfinished, the frame's length when
 * done (and again if called after), or -PROTO_E_LENGTH if it does not fit cap. */
int proto_frame_writer_step(proto_frame_writer_t *w, size_t max);

/* Parse one COBS-decoded packet (header + body + CRC) held in pkt. Checks length, CRC and
 * the major version. On success fills *f (body borrowed from pkt) and returns 0.
 * Returns -PROTO_E_SHORT, -PROTO_E_CRC or -PROTO_E_VERSION (f is still filled for
 * VERSION so the receiver can answer with the right seq). */
int proto_packet_parse(const uint8_t *pkt, size_t len, proto_frame_t *f);

/* Counters kept by a decoder; all saturate at UINT32_MAX. */
typedef struct proto_decoder_stats {
    uint32_t frames;     /* good frames delivered */
    uint32_t bytes;      /* bytes fed */
    uint32_t crc_errors; /* CRC mismatch */
    uint32_t cobs_errors;
    uint32_t oversize;     /* more than PROTO_MAX_ENCODED bytes (skipped to next 0x00) */
    uint32_t short_frames; /* shorter than header + CRC */
    uint32_t version_errors;
} proto_decoder_stats_t;

/* Incremental decoder: takes bytes in any chunking, delivers whole frames, and after any
 * error resynchronises at the next 0x00. Empty frames (0x00 0x00) are silently skipped and
 * counted nowhere: every frame starts with one (proto_frame_encode), and senders may send a
 * lone 0x00 to flush a receiver's partial frame. */
/* Each byte is COBS-decoded as it arrives and the CRC brought up to date at the end of every
 * feed, so that completing a frame costs the same few cycles whatever its length: a firmware
 * task bounds its work per run by the bytes it feeds (docs/FIRMWARE.md, "Fairness under
 * load"). */
typedef struct proto_decoder {
    uint8_t buf[PROTO_MAX_ENCODED]; /* the packet decoded so far */
    uint16_t len;                   /* decoded bytes in buf */
    uint16_t enc;                   /* COBS bytes of this frame so far */
    uint16_t crc;                   /* CRC of buf[0 .. crc_len) */
    uint16_t crc_len;               /* kept <= len - 2 (the last two bytes are the CRC) */
    uint8_t left;                   /* data bytes left in the current COBS block; 0: a code next */
    bool zero;                      /* the last block ended with an implied 0x00 (not yet stored) */
    bool discarding;                /* inside an oversize frame: drop until the next 0x00 */
    proto_decoder_stats_t stats;
} proto_decoder_t;

void proto_decoder_init(proto_decoder_t *d);

/* Feed up to len bytes. Stops after the first complete frame or error so the caller can act
 * on it, and stores in *consumed how many bytes were used (call again with the rest).
 * Returns 1 with *f filled (borrowed from d until the next call) for a good frame, 0 when all
 * len bytes were consumed without completing a frame, or a negative proto_err for a bad
 * frame (already counted in d->stats). For -PROTO_E_VERSION, *f is filled too. */
int proto_decoder_feed(proto_decoder_t *d, const uint8_t *data, size_t len, size_t *consumed,
                       proto_frame_t *f);

/* ---- little-endian body helpers ------------------------------------------------------------ */

/* A cursor over a body buffer. Writers/readers set .err instead of overrunning; check it once
 * at the end. */
typedef struct proto_buf {
    uint8_t *data;
    size_t cap; /* capacity (writer) or length (reader) */
    size_t pos;
    bool err;
} proto_buf_t;

void proto_put_u8(proto_buf_t *b, uint8_t v);
void proto_put_u16(proto_buf_t *b, uint16_t v);
void proto_put_u32(proto_buf_t *b, uint32_t v);
void proto_put_bytes(proto_buf_t *b, const void *p, size_t n);
uint8_t proto_get_u8(proto_buf_t *b);
uint16_t proto_get_u16(proto_buf_t *b);
uint32_t proto_get_u32(proto_buf_t *b);
void proto_get_bytes(proto_buf_t *b, void *p, size_t n);

/* ---- messages ------------------------------------------------------------------------------ */
/*
 * Each message has a struct, an _encode that writes the body into out (cap bytes) and returns
 * its length or -PROTO_E_LENGTH, and a _decode that parses a body and returns 0,
 * -PROTO_E_LENGTH (too short) or -PROTO_E_ARG (a field out of range). Decoders accept bodies
 * longer than they know (later minor versions append fields) and ignore the rest.
 */

#define PROTO_BOARD_ID_LEN 8
#define PROTO_BUILD_LEN    24 /* NUL-padded ASCII, not necessarily NUL-terminated on the wire */

/* HELLO request: the host introduces itself and sets the host-watchdog timeout. */
typedef struct proto_hello_req {
    uint8_t host_major, host_minor;
    uint16_t host_timeout_ms; /* board enters safe state after this long without a request;
                                 0 = board default */
    uint32_t session;         /* 1.4: the host's session id, drawn per open of the port, never
                                 0; sent when nonzero. 0 when absent (an older host) */
} proto_hello_req_t;

enum proto_platform {
    PROTO_PLATFORM_RP2040 = 1,   /* real silicon or rp2040js: the board cannot tell */
    PROTO_PLATFORM_HOST_SIM = 2, /* picosim */
};

enum proto_reset_cause {
    PROTO_RESET_UNKNOWN = 0,
    PROTO_RESET_POWER_ON = 1,
    PROTO_RESET_WATCHDOG = 2, /* watchdog timeout: a task hung */
    PROTO_RESET_SOFTWARE = 3, /* REBOOT request or deliberate watchdog reboot */
    PROTO_RESET_FAULT = 4,    /* HardFault handler recorded a crash and rebooted */
    PROTO_RESET_DEBUG = 5,    /* a debugger restarted the chip (CHIP_RESET.HAD_PSM_RESTART) */
    /* 1.1: a watchdog reset the board did not arm: the bootrom's reboot after a UF2 copy, after
     * reset_usb_boot, or picotool's reboot (its TIMER reset is not a hung task). */
    PROTO_RESET_BOOTROM = 6,
    PROTO_RESET_RUN_PIN = 7, /* 1.1: the RUN pin was pulled low (a reset button) */
};

/* 1.1: clock faults found at boot (HELLO_ACK, STATS). */
enum proto_clock_fault {
    PROTO_CLK_XOSC = 1u << 0,    /* crystal never reported stable: clocks run from the ROSC */
    PROTO_CLK_PLL_SYS = 1u << 1, /* PLL_SYS did not lock: clk_sys is not 125 MHz */
    PROTO_CLK_PLL_USB = 1u << 2, /* no 48 MHz: no USB */
    PROTO_CLK_MEASURE = 1u << 3, /* a clock measured more than 1 % off what was set */
};

/* 1.1: silicon facts for bring-up (STATS carries all of it, HELLO_ACK the first two). Zero
 * means unknown: a 1.0 board, or a platform without the fact (picosim). */
typedef struct proto_hw_info {
    uint8_t chip_rev;     /* RP2040 SYSINFO CHIP_ID revision: 1 = B0/B1, 2 = B2 */
    uint8_t clock_faults; /* enum proto_clock_fault */
    uint8_t wd_reason;    /* WATCHDOG_REASON at boot (bit 0 timer, bit 1 force) */
    uint32_t chip_reset;  /* CHIP_RESET at boot (bit 8 POR, 16 RUN pin, 20 debugger) */
    /* Measured at boot with the frequency counter (FC0) against clk_ref (the crystal when it
     * runs), in kHz; 0 = not measured. */
    uint32_t clk_sys_khz, clk_ref_khz, clk_peri_khz, clk_usb_khz, rosc_khz;
} proto_hw_info_t;

enum proto_caps {
    PROTO_CAP_LED = 1u << 0,
    PROTO_CAP_BUTTON = 1u << 1,
    PROTO_CAP_I2C = 1u << 2,
    PROTO_CAP_BOOTSEL = 1u << 3, /* REBOOT mode BOOTSEL works */
    PROTO_CAP_STATS = 1u << 4,
    PROTO_CAP_DEBUG = 1u << 5, /* DEBUG requests accepted */
};

/* Last crash, kept across reset in a .noinit record. */
typedef struct proto_crash {
    uint8_t kind; /* 0 = none; enum proto_fault_kind */
    uint8_t task; /* index of the running task, 0xff = none/ISR */
    uint32_t pc, lr;
    uint32_t uptime_ms; /* when it happened */
} proto_crash_t;

enum proto_fault_kind {
    PROTO_FAULT_NONE = 0,
    PROTO_FAULT_HARDFAULT = 1,
    PROTO_FAULT_WATCHDOG = 2,     /* a task did not yield in time */
    PROTO_FAULT_TASK_OVERRUN = 3, /* a task ran longer than its budget (reported, not fatal) */
    PROTO_FAULT_STACK = 4,        /* stack high-water mark reached the guard */
    PROTO_FAULT_HOST_LOST = 5,    /* host watchdog expired: safe state entered */
    PROTO_FAULT_HOST_BACK = 6,    /* host returned: safe state left */
    PROTO_FAULT_QUEUE_DROP = 7,   /* TX queue full: oldest event dropped */
    PROTO_FAULT_CLOCK = 8,        /* 1.1: clocks failed at boot, no link possible: LED code, then a
                                     reboot; crash record pc = the PROTO_CLK_* bits */
};

typedef struct proto_hello_ack {
    uint8_t proto_major, proto_minor;
    uint8_t fw_major, fw_minor, fw_patch;
    uint8_t platform;      /* enum proto_platform */
    uint8_t reset_cause;   /* enum proto_reset_cause */
    uint8_t host_wd_state; /* enum proto_link_state at the time of HELLO */
    uint32_t caps;         /* enum proto_caps */
    uint8_t board_id[PROTO_BOARD_ID_LEN];
    char build[PROTO_BUILD_LEN]; /* e.g. "0.1.0 2026-11-22 3fa2c1d" */
    proto_crash_t crash;
    uint32_t uptime_ms;
    /* 1.1 (decoded as 0 from a shorter 1.0 body): */
    uint8_t chip_rev;     /* proto_hw_info_t.chip_rev */
    uint8_t clock_faults; /* enum proto_clock_fault */
} proto_hello_ack_t;

int proto_hello_req_encode(const proto_hello_req_t *m, uint8_t *out, size_t cap);
int proto_hello_req_decode(const uint8_t *body, size_t len, proto_hello_req_t *m);
int proto_hello_ack_encode(const proto_hello_ack_t *m, uint8_t *out, size_t cap);
int proto_hello_ack_decode(const uint8_t *body, size_t len, proto_hello_ack_t *m);

/* PING: the body (0..PROTO_MAX_BODY bytes) is echoed unchanged in PING_ACK. No struct. */

/* HEARTBEAT request (empty body) feeds the board's host watchdog; its ack: */
enum proto_link_state {
    PROTO_LINK_WAITING = 0, /* no host has said HELLO since reset */
    PROTO_LINK_ONLINE = 1,
    PROTO_LINK_HOST_LOST = 2, /* host watchdog expired: outputs in safe state */
    PROTO_LINK_FAULT = 3,
};
typedef struct proto_heartbeat_ack {
    uint32_t uptime_ms;
    uint8_t link_state;     /* enum proto_link_state */
    uint8_t pending_events; /* events waiting in the TX queue */
    /* 1.2: the board's 64-bit microsecond clock when it executed the HEARTBEAT (the clock
     * of BUTTON_EVENT t_us, unwrapped). Decoding a shorter (1.0/1.1) body sets has_uptime_us
     * false and uptime_us 0; the encoder always writes it. */
    bool has_uptime_us;
    uint64_t uptime_us;
} proto_heartbeat_ack_t;
int proto_heartbeat_ack_encode(const proto_heartbeat_ack_t *m, uint8_t *out, size_t cap);
int proto_heartbeat_ack_decode(const uint8_t *body, size_t len, proto_heartbeat_ack_t *m);

/* LED modes, as set by SET_LED and reported by GET_STATE. */
enum proto_led_op {
    PROTO_LED_OFF = 0,
    PROTO_LED_ON = 1,
    PROTO_LED_TOGGLE = 2,
    PROTO_LED_BLINK = 3,   /* period_ms, duty_pct */
    PROTO_LED_AUTO = 4,    /* give the LED back to the board's heartbeat pattern */
    PROTO_LED_PATTERN = 5, /* pattern bits, 1 bit per step of period_ms */
};
typedef struct proto_set_led_req {
    uint8_t op;          /* enum proto_led_op */
    uint8_t duty_pct;    /* BLINK: 1..99 */
    uint16_t period_ms;  /* BLINK: full period, PATTERN: step length; 10..60000 */
    uint32_t pattern;    /* PATTERN: bit i = LED on during step i (LSB first) */
    uint8_t pattern_len; /* PATTERN: steps used, 1..32 */
} proto_set_led_req_t;
int proto_set_led_req_encode(const proto_set_led_req_t *m, uint8_t *out, size_t cap);
int proto_set_led_req_decode(const uint8_t *body, size_t len, proto_set_led_req_t *m);

/* GET_STATE ack, SET_LED ack: a snapshot of the board's outputs and inputs. */
typedef struct proto_state {
    uint32_t uptime_ms;
    uint8_t led_on;          /* 0/1: the pin level now */
    uint8_t led_mode;        /* enum proto_led_op that is in force (AUTO = heartbeat) */
    uint8_t button_down;     /* 0/1, debounced */
    uint8_t link_state;      /* enum proto_link_state */
    uint32_t button_presses; /* since reset */
    uint8_t sensor_count;
} proto_state_t;
int proto_state_encode(const proto_state_t *m, uint8_t *out, size_t cap);
int proto_state_decode(const uint8_t *body, size_t len, proto_state_t *m);

/* Sensors. Values are integers in fixed units; a flag says which are present. */
enum proto_sensor_kind {
    PROTO_SENSOR_BME280 = 1,
    PROTO_SENSOR_SHT3X = 2,
    PROTO_SENSOR_HTU21D = 3,
};
enum proto_reading_flags {
    PROTO_READING_TEMP = 1u << 0,
    PROTO_READING_PRESSURE = 1u << 1,
    PROTO_READING_HUMIDITY = 1u << 2,
};
typedef struct proto_reading {
    uint8_t sensor;              /* index on the board, 0..sensor_count-1 */
    uint8_t kind;                /* enum proto_sensor_kind */
    uint8_t addr;                /* 7-bit I2C address */
    uint8_t status;              /* enum proto_err: 0 = fresh valid reading, else why not */
    uint8_t flags;               /* enum proto_reading_flags */
    int32_t temp_centi_c;        /* 0.01 degC */
    uint32_t pressure_pa;        /* Pa */
    uint32_t humidity_milli_pct; /* 0.001 %RH */
    uint32_t t_ms;               /* board uptime when measured */
} proto_reading_t;
#define PROTO_READING_SIZE 21
#define PROTO_MAX_READINGS 8

/* READ_SENSORS request: {u8 sensor} (0xff = all); ack: u8 count + count readings. */
typedef struct proto_readings {
    uint8_t count;
    proto_reading_t r[PROTO_MAX_READINGS];
} proto_readings_t;
int proto_readings_encode(const proto_readings_t *m, uint8_t *out, size_t cap);
int proto_readings_decode(const uint8_t *body, size_t len, proto_readings_t *m);
/* SENSOR_READING event: one reading. */
int proto_reading_encode(const proto_reading_t *m, uint8_t *out, size_t cap);
int proto_reading_decode(const uint8_t *body, size_t len, proto_reading_t *m);

/* SET_POLL request: the board measures sensor every interval_ms and sends SENSOR_READING
 * events (0 = stop). Ack: empty body. */
typedef struct proto_set_poll_req {
    uint8_t sensor; /* 0xff = all */
    uint32_t interval_ms;
} proto_set_poll_req_t;
int proto_set_poll_req_encode(const proto_set_poll_req_t *m, uint8_t *out, size_t cap);
int proto_set_poll_req_decode(const uint8_t *body, size_t len, proto_set_poll_req_t *m);

/* I2C_SCAN request {u8 bus}; ack {u8 bus, u8 map[16]}: bit (addr & 7) of map[addr >> 3]
 * set = a device acknowledged addr. Reserved addresses are never probed. */
typedef struct proto_i2c_scan_ack {
    uint8_t bus;
    uint8_t map[16];
} proto_i2c_scan_ack_t;
int proto_i2c_scan_ack_encode(const proto_i2c_scan_ack_t *m, uint8_t *out, size_t cap);
int proto_i2c_scan_ack_decode(const uint8_t *body, size_t len, proto_i2c_scan_ack_t *m);
static inline bool proto_i2c_map_has(const uint8_t map[16], uint8_t addr)
{
    return addr < 128 && (map[addr >> 3] >> (addr & 7)) & 1u;
}

/* I2C_XFER: write wlen bytes then (repeated start) read rlen bytes; either may be 0 but not
 * both. Ack {u8 rlen, data[rlen]}. */
#define PROTO_I2C_MAX_DATA 128
typedef struct proto_i2c_xfer_req {
    uint8_t bus, addr, wlen, rlen;
    uint8_t wdata[PROTO_I2C_MAX_DATA];
} proto_i2c_xfer_req_t;
typedef struct proto_i2c_xfer_ack {
    uint8_t rlen;
    uint8_t rdata[PROTO_I2C_MAX_DATA];
} proto_i2c_xfer_ack_t;
int proto_i2c_xfer_req_encode(const proto_i2c_xfer_req_t *m, uint8_t *out, size_t cap);
int proto_i2c_xfer_req_decode(const uint8_t *body, size_t len, proto_i2c_xfer_req_t *m);
int proto_i2c_xfer_ack_encode(const proto_i2c_xfer_ack_t *m, uint8_t *out, size_t cap);
int proto_i2c_xfer_ack_decode(const uint8_t *body, size_t len, proto_i2c_xfer_ack_t *m);

/* GET_STATS ack: board-wide counters. */
typedef struct proto_stats {
    uint32_t uptime_ms;
    uint32_t rx_frames, rx_crc_errors, rx_cobs_errors, rx_oversize, rx_short, rx_version;
    uint32_t rx_unknown, rx_duplicates;
    uint32_t tx_frames, tx_events_dropped;
    uint32_t host_lost_count;
    uint32_t i2c_errors;
    /* static RAM in bytes. On the wire as u16 (saturated at 65535: the RP2040 has 264 KiB) and,
     * since 1.3, appended as u32; decoded from the u32 fields when present, else the u16 ones */
    uint32_t ram_used, ram_total;
    uint8_t task_count;
    uint8_t link_state;
    proto_hw_info_t hw; /* 1.1 (all 0 from a shorter 1.0 body) */
} proto_stats_t;
int proto_stats_encode(const proto_stats_t *m, uint8_t *out, size_t cap);
int proto_stats_decode(const uint8_t *body, size_t len, proto_stats_t *m);

/* GET_TASK_STATS request {u8 index}; ack: */
#define PROTO_TASK_NAME_LEN 8
typedef struct proto_task_stats {
    uint8_t index;
    char name[PROTO_TASK_NAME_LEN]; /* NUL-padded */
    uint8_t state;
    uint32_t runs;
    uint32_t total_us, max_us; /* time spent running */
    uint32_t max_late_us;      /* worst lateness after a deadline */
    uint16_t stack_hwm;        /* bytes, 0 for stackless tasks */
} proto_task_stats_t;
int proto_task_stats_encode(const proto_task_stats_t *m, uint8_t *out, size_t cap);
int proto_task_stats_decode(const uint8_t *body, size_t len, proto_task_stats_t *m);

/* REBOOT request {u8 mode}: 0 = normal reset, 1 = BOOTSEL (USB mass storage). Acked first. */
enum proto_reboot_mode { PROTO_REBOOT_NORMAL = 0, PROTO_REBOOT_BOOTSEL = 1 };

/* DEBUG request {u8 op, u32 arg}: fault injection for tests, refused without PROTO_CAP_DEBUG. */
enum proto_debug_op {
    PROTO_DEBUG_HANG = 1,   /* a task spins without yielding: the watchdog must fire */
    PROTO_DEBUG_FAULT = 2,  /* a task triggers a HardFault: crash record + reset */
    PROTO_DEBUG_SILENT = 3, /* stop answering for arg ms (picosim, emulator tests) */
};

/* BUTTON_EVENT. */
enum proto_button_kind {
    PROTO_BUTTON_PRESS = 1,
    PROTO_BUTTON_RELEASE = 2,
    PROTO_BUTTON_LONG = 3,   /* held longer than the long-press time */
    PROTO_BUTTON_DOUBLE = 4, /* second press within the double-click window */
};
typedef struct proto_button_event {
    uint8_t kind;         /* enum proto_button_kind */
    uint8_t button;       /* 0 */
    uint32_t t_us;        /* board time of the (debounced) edge, wraps every ~71 min */
    uint32_t duration_us; /* RELEASE/LONG: how long it was held; DOUBLE: gap between presses */
    uint32_t count;       /* presses since reset */
} proto_button_event_t;
int proto_button_event_encode(const proto_button_event_t *m, uint8_t *out, size_t cap);
int proto_button_event_decode(const uint8_t *body, size_t len, proto_button_event_t *m);

/* FAULT event: {u8 kind, u8 task, u32 detail}. */
typedef struct proto_fault_event {
    uint8_t kind; /* enum proto_fault_kind */
    uint8_t task;
    uint32_t detail;
} proto_fault_event_t;
int proto_fault_event_encode(const proto_fault_event_t *m, uint8_t *out, size_t cap);
int proto_fault_event_decode(const uint8_t *body, size_t len, proto_fault_event_t *m);

/* LOG event: {u8 level, text...} (text not NUL-terminated, ≤ PROTO_MAX_BODY - 1). */

/* LINK_STATE event: {u8 state}: the board's view of the host link changed. */

/* ERROR: the answer to a request that failed. */
typedef struct proto_error {
    uint8_t code;     /* enum proto_err */
    uint8_t req_type; /* type of the failed request */
    uint16_t detail;  /* code-specific, e.g. the I2C abort source */
} proto_error_t;
int proto_error_encode(const proto_error_t *m, uint8_t *out, size_t cap);
int proto_error_decode(const uint8_t *body, size_t len, proto_error_t *m);

#ifdef __cplusplus
}
#endif
#endif /* PICOD_PROTO_H */
