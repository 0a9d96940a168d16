/*
 * usb_core.h - the USB device core: control transfers on EP0, the standard requests and the
 * descriptors; one class driver (CDC-ACM) plugged in through usb_class_t.
 *
 * Everything here runs in the USB interrupt (called by the port); nothing blocks, nothing
 * allocates. Control transfers:
 *   - device-to-host: the reply is cut to wLength and sent in 64-byte packets; a zero-length
 *     packet ends it when it is a multiple of 64 and shorter than wLength; then the OUT status
 *     ZLP is accepted (a host that skips it, like rp2040js, is fine: the next SETUP wins).
 *   - host-to-device with data: up to 64 bytes are collected, handed to the class, then the
 *     IN status ZLP is sent.
 *   - SET_ADDRESS applies after its status stage.
 *   - anything not understood: STALL on EP0 until the next SETUP.
 */
#ifndef PICOD_USB_CORE_H
#define PICOD_USB_CORE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct usb_setup {
    uint8_t bmRequestType;
    uint8_t bRequest;
    uint16_t wValue;
    uint16_t wIndex;
    uint16_t wLength;
} usb_setup_t;

#define USB_REQ_TYPE_MASK      0x60u
#define USB_REQ_TYPE_STANDARD  0x00u
#define USB_REQ_TYPE_CLASS     0x20u
#define USB_REQ_RECIPIENT_MASK 0x1fu
#define USB_REQ_RECIP_DEVICE   0u
#define USB_REQ_RECIP_IFACE    1u
#define USB_REQ_RECIP_EP       2u

/* What a class driver's control handler decided. */
enum usb_ctrl_result {
    USB_CTRL_STALL = -1, /* not supported: STALL */
    USB_CTRL_OK = 0,     /* accepted; the data stage (if any) is described by the out params */
};

/* The class driver. All callbacks run in the USB interrupt. */
typedef struct usb_class {
    /* Bus reset or SET_CONFIGURATION(0): close everything, forget the host. */
    void (*reset)(void);
    /* SET_CONFIGURATION(1): open the class endpoints and arm OUT. */
    void (*configured)(void);
    /* A class request. For a device-to-host request set *in_data and *in_len (borrowed until the
     * transfer ends). For host-to-device with wLength > 0, accept and wait for control_out. */
    int (*control)(const usb_setup_t *s, const uint8_t **in_data, uint16_t *in_len);
    /* The OUT data stage of an accepted class request arrived (len <= 64). */
    void (*control_out)(const usb_setup_t *s, const uint8_t *data, uint16_t len);
    /* A packet completed on one of the class endpoints (IN: sent; OUT: len bytes waiting). */
    void (*xfer)(uint8_t ep_addr, uint16_t len);
    /* CLEAR_FEATURE(ENDPOINT_HALT) un-stalled ep_addr: re-arm it if needed. */
    void (*halt_cleared)(uint8_t ep_addr);
} usb_class_t;

/* Register the class (borrowed for the program's lifetime) and start the controller. */
void usb_core_init(const usb_class_t *cls);

bool usb_core_is_configured(void);
bool usb_core_is_suspended(void);

/* Statistics for tests: control requests answered with STALL, bus resets seen. */
uint32_t usb_core_stall_count(void);
uint32_t usb_core_reset_count(void);

/* ---- events from the port (USB interrupt only) ----------------------------------------- */
void usb_core_on_bus_reset(void);
void usb_core_on_setup(const uint8_t raw[8]);
void usb_core_on_xfer(uint8_t ep_addr, uint16_t len);
void usb_core_on_suspend(bool suspended);

#endif /* PICOD_USB_CORE_H */
