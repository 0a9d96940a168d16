/*
 * usb_port.h - the controller port: the only layer that touches the RP2040 USB registers.
 *
 * The device core (usb_core.c) drives it packet by packet: arm an IN buffer, arm an OUT
 * buffer, stall, set the address. The port reports what the hardware did through the
 * usb_core_on_* functions (declared in usb_core.h), all called from the USB interrupt.
 *
 * Buffering: every endpoint uses one 64-byte buffer, re-armed from the interrupt as soon as a
 * packet completes (see docs/USB.md "Buffering" for why double buffering is a build option
 * that is off: rp2040js does not model the buffer alternation, and the emulator is where the
 * binary is proven).
 *
 * Data toggles are kept here: EP0 restarts at DATA1 after each SETUP; bulk/interrupt
 * endpoints start at DATA0 when opened or when a halt is cleared.
 */
#ifndef PICOD_USB_PORT_H
#define PICOD_USB_PORT_H

#include <stdbool.h>
#include <stdint.h>

#define USB_EP0_MPS        64u
#define USB_PORT_MAX_EP    4u /* endpoint numbers 0..3 are enough for CDC-ACM */
#define USB_DIR_IN         0x80u
#define USB_EP_NUM(addr)   ((uint8_t)((addr)&0x0fu))
#define USB_EP_IS_IN(addr) (((addr)&USB_DIR_IN) != 0)

enum usb_ep_type {
    USB_EP_TYPE_CONTROL = 0,
    USB_EP_TYPE_BULK = 2,
    USB_EP_TYPE_INTERRUPT = 3,
};

/* Reset the controller, clear DPRAM, select device mode, enable the interrupts the core
 * needs and connect (pull-up on D+). Not ISR-safe; called once from hal_init. */
void usb_port_init(void);

/* Forget everything an earlier configuration opened: EP1..15 disabled, EP0 idle, address
 * 0, no stall. Called by the core on bus reset (ISR). */
void usb_port_reset(void);

/* Apply a device address. The core calls this after the SET_ADDRESS status stage. */
void usb_port_set_address(uint8_t addr);

/* Configure endpoint ep_addr (number | USB_DIR_IN) of type/mps with its packet buffer at
 * DPRAM offset buf_off (64-byte aligned, >= USB_DPRAM_DATA). Resets its toggle to DATA0. */
void usb_port_ep_open(uint8_t ep_addr, enum usb_ep_type type, uint16_t mps, uint16_t buf_off);

/* Copy len (<= mps) bytes into the endpoint's buffer and hand it to the controller; len 0
 * sends a zero-length packet. On bulk IN endpoints the arming may be deferred to the next SOF
 * (RP2040-E15). Completion is reported by usb_core_on_xfer(ep_addr, len). */
void usb_port_ep_in(uint8_t ep_addr, const uint8_t *data, uint16_t len);

/* Accept one OUT packet of up to len bytes on endpoint number ep. Completion is reported by
 * usb_core_on_xfer(ep, received); then read it with usb_port_ep_out_copy. */
void usb_port_ep_out(uint8_t ep, uint16_t len);

/* Copy the last received OUT packet of endpoint ep (len bytes, as reported) into dst. */
void usb_port_ep_out_copy(uint8_t ep, uint8_t *dst, uint16_t len);

/* Reset EP0's toggles for a new control transfer (next IN and OUT packet are DATA1) and
 * drop whatever EP0 had armed or stalled. Called on each SETUP. */
void usb_port_ep0_setup(void);

/* Answer the current control transfer with STALL in both directions (until the next SETUP). */
void usb_port_ep0_stall(void);

/* Set or clear the halt (STALL) condition of a non-control endpoint. Clearing also resets its
 * toggle to DATA0, as CLEAR_FEATURE(ENDPOINT_HALT) requires. */
void usb_port_ep_set_stall(uint8_t ep_addr, bool stall);
bool usb_port_ep_is_stalled(uint8_t ep_addr);

/* The USB interrupt handler (IRQ 5, USBCTRL_IRQ); the rp2040 port's vector table names it. */
void rp2040_isr_usbctrl(void);

/* Counters for tests and docs: packets deferred by the E15 workaround. */
uint32_t usb_port_e15_deferred(void);

#endif /* PICOD_USB_PORT_H */
