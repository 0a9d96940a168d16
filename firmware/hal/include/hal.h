/*
 * hal.h - the contract between firmware/core (portable) and a board port.
 *
 * Two ports implement it: hal/rp2040 (bare metal, registers) and hal/host (picosim: a pty as
 * the USB serial, simulated GPIO and I2C). core/ includes only this header and proto.h.
 *
 * Rules for every port:
 *  - Interrupt handlers only move bytes and flags, then call the hal_events_t callback that
 *    the core registered; all work happens in scheduler tasks.
 *  - Nothing here blocks for longer than a few microseconds, except what says _blocking.
 *  - Functions marked "ISR-safe" may be called from interrupt context.
 *  - Errors are negative enum hal_err values.
 */
#ifndef PICOD_HAL_H
#define PICOD_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#ifdef __cplusplus
extern "C" {
#endif

enum hal_err {
    HAL_OK = 0,
    HAL_E_BUSY = 1,      /* operation in progress; poll again */
    HAL_E_NACK_ADDR = 2, /* I2C: address not acknowledged */
    HAL_E_NACK_DATA = 3, /* I2C: data byte not acknowledged */
    HAL_E_TIMEOUT = 4,   /* bounded wait expired */
    HAL_E_BUS = 5,       /* I2C: arbitration lost / SDA stuck (recovery attempted) */
    HAL_E_ARG = 6,
    HAL_E_UNSUPPORTED = 7,
};

/* Callbacks from the port into the core. Called from interrupt context (rp2040) or from
 * inside hal_idle_until() (host); each must only set flags/events and return. Any may be
 * NULL. */
typedef struct hal_events {
    void (*button_edge_cb)(bool down, uint32_t t_us); /* raw, undebounced edge */
    void (*link_rx_cb)(void);                         /* bytes are waiting in hal_link_read */
    void (*link_tx_cb)(void);                         /* TX space became free */
    void (*link_state_cb)(bool connected);            /* host opened (DTR) / closed the port */
    void (*i2c_cb)(void);                             /* an I2C transfer finished or failed */
} hal_events_t;

/* Bring up clocks, timer, GPIO, I2C, the host link and the watchdog (not yet started).
 * ev is borrowed for the program's lifetime. Called once, before the scheduler runs. */
void hal_init(const hal_events_t *ev);

/* ---- time ------------------------------------------------------------------------------- */

/* Microseconds since boot, wrapping every 2^32 us (~71.6 min). ISR-safe. Compare times
 * only through signed differences: (int32_t)(a - b) < 0 means a is before b. */
uint32_t hal_time_us(void);

/* Sleep the core until deadline_us (if has_deadline) or until any interrupt/event arrives,
 * whichever is first. May return early (spurious wake-ups are fine). RP2040: arm an alarm,
 * WFI. Host: poll() on the pty and control fds, dispatching their "interrupts".
 *
 * Idle contract (no lost wake-ups): the core calls this with interrupts MASKED
 * (hal_irq_save), right after finding nothing to do, and unmasks (hal_irq_restore) after it
 * returns. The port must
 *  - sleep in a way that an interrupt which became pending at any time after the mask was
 *    taken still ends the sleep at once (Cortex-M: WFI with PRIMASK set does exactly this),
 *  - not unmask interrupts itself: the handlers run when the core restores the mask, and the
 *    core's next loop sees what they set,
 *  - return without sleeping when the deadline is already due.
 * A port whose "interrupts" are only produced inside this function (picosim) meets the
 * contract trivially. */
void hal_idle_until(uint32_t deadline_us, bool has_deadline);

/* Critical section: mask interrupts, return the previous state for hal_irq_restore. Nests. */
uint32_t hal_irq_save(void);
void hal_irq_restore(uint32_t state);

/* ---- LED and button -------------------------------------------------------------------- */

void hal_led_set(bool on);
bool hal_led_get(void);
/* Raw (undebounced) button level: true = pressed. ISR-safe. */
bool hal_button_is_down(void);

/* ---- host link (USB CDC on rp2040, a pty on host) --------------------------------------- */

/* Copy up to cap received bytes into buf; never blocks. Returns the count (0 = none). */
size_t hal_link_read(uint8_t *buf, size_t cap);
/* Queue up to len bytes for transmission; never blocks. Returns how many were accepted
 * (0 when the TX buffer is full or no host is connected). */
size_t hal_link_write(const uint8_t *buf, size_t len);
/* Bytes that hal_link_write would accept right now. */
size_t hal_link_tx_space(void);
/* True while a host has the port open (CDC DTR on rp2040; a pty slave open on host). */
bool hal_link_is_connected(void);

/* ---- I2C (non-blocking: start, then poll until not HAL_E_BUSY) --------------------------- */

typedef struct hal_i2c_xfer {
    uint8_t bus;          /* 0 */
    uint8_t addr;         /* 7-bit */
    const uint8_t *wdata; /* borrowed until the transfer completes */
    size_t wlen;
    uint8_t *rdata; /* borrowed until the transfer completes */
    size_t rlen;    /* wlen + rlen >= 1; write then repeated-start read */
    uint32_t timeout_us;
} hal_i2c_xfer_t;

/* Start a transfer. Returns 0, -HAL_E_BUSY if one is in progress, -HAL_E_ARG. */
int hal_i2c_start(const hal_i2c_xfer_t *x);
/* Progress the current transfer. Returns -HAL_E_BUSY while running, 0 when done, or the
 * negative hal_err that ended it (the bus is recovered before returning an error). */
int hal_i2c_poll(void);

/* ---- watchdog, identity, reset -------------------------------------------------------- */

void hal_watchdog_start(uint32_t timeout_ms);
void hal_watchdog_feed(void);

/* 8-byte board unique ID (flash RUID on a Pico; a fallback where it cannot be read). */
void hal_board_id(uint8_t id[PROTO_BOARD_ID_LEN]);
/* Why the board last reset: enum proto_reset_cause. */
uint8_t hal_reset_cause(void);
/* The crash record kept across reset (.noinit on rp2040). Never NULL. */
proto_crash_t *hal_crash_record(void);
/* PROTO_PLATFORM_* of this port. */
uint8_t hal_platform(void);
/* Reboot now (mode: enum proto_reboot_mode). Returns -HAL_E_UNSUPPORTED if mode cannot be
 * done here; otherwise does not return. */
int hal_reboot(uint8_t mode);

/* ---- optional: firmware/core/hal_weak.c has defaults, a port may define its own --------- */

/* Bytes of the main stack ever used (painted-stack high-water mark); 0 = unknown. */
uint16_t hal_stack_high_water(void);
/* Static RAM used by the image and available in total, in bytes; 0/0 = unknown. */
void hal_ram_usage(uint32_t *used, uint32_t *total);
/* Whether hal_reboot(mode) can do mode here (checked before a REBOOT is acknowledged, and
 * for PROTO_CAP_BOOTSEL in HELLO). Default: NORMAL only. RP2040: BOOTSEL when the bootrom's
 * reset_usb_boot exists (not in rp2040js). */
bool hal_can_reboot(uint8_t mode);
/* Bytes hal_link_write accepted that the host has not taken yet (in the port's TX buffer or
 * in flight to the host). The core waits for 0 (bounded) before a deliberate reset, so that
 * the acknowledgement of REBOOT reaches the host. Default: 0 (writes leave at once). */
size_t hal_link_tx_pending(void);
/* Fault on purpose, as a real bug would (DEBUG FAULT): the port's fault handler records the
 * crash (kind, PC, LR, sched_running_id) and resets. Default: call through a null pointer. */
void hal_debug_fault(void);

/* Silicon facts for bring-up, reported in HELLO (chip revision, clock faults) and STATS (all):
 * chip revision, clock faults, the raw reset registers, clocks as measured. Default: all 0
 * (unknown). */
void hal_hw_info(proto_hw_info_t *out);

/* ---- provided by firmware/core ----------------------------------------------------------- */

/* The firmware's entry point (core/app.c), called by each port's startup. Never returns. */
void app_main(void);

#ifdef __cplusplus
}
#endif
#endif /* PICOD_HAL_H */
