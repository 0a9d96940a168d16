/*
 * usb_port.h - the controller port: the only layer that touches the RP2040 USB registers.
 *
 * The device core (usb_core.c) drives it packet by packet: arm an IN buffer, arm an OUT
 * buffer, stall, set the address. The port reports what the hardware did through the
 * usb_core_on_* functions (declared in usb_core.h), all called from the USB interrupt.
 *
 * Buffering: EP0 and the notification endpoint use one 64-byte buffer. An endpoint opened with
 * nbuf = 2 is double-buffered (datasheet 4.1.2.5): two halves of one buffer-control word, used
 * by the controller strictly in turn. The port hands the controller both halves together, in one
 * word written while neither half is the controller's (the controller writes its status back
 * into that same word: re-arming one half while it still owns the other would race that
 * write-back), with RESET so that buffer 0 goes first. So a double-buffered endpoint takes up
 * to two packets per arming: the host can send or fetch two back to back without a NAK while
 * the interrupt handles the first. See docs/USB.md "Buffering".
 *
 * Data toggles are kept here: EP0 restarts at DATA1 after each SETUP; bulk/interrupt
 * endpoints start at DATA0 when opened or when a halt is cleared.
 */
#ifndef PICOD_USB_PORT_H
#define PICOD_USB_PORT_H

#include <stdbool.h>
#include <stdint.h>

/* Bulk endpoints single-buffered (0, default: what TinyUSB ships on the RP2040, and what works
 * with stock rp2040js's USBCDC host too) or double-buffered (1: a build option, modelled in
 * tests/emu/usb/lib/dbuf-model.mjs but not yet seen working on silicon; docs/USB.md). */
#ifndef USB_BULK_DOUBLE_BUFFER
#define USB_BULK_DOUBLE_BUFFER 0
#endif

/* The interrupt path and the arm/commit path run from SRAM: over boot2's plain 03h XIP reads a
 * cache miss costs ~3 us, inside RP2040-E15's margin (TinyUSB does the same when E15 is on).
 * The product port's crt0 copies .time_critical; tests/emu/usb/fw's link.ld places it in .data. */
#ifndef USB_RAMFUNC
#define USB_RAMFUNC __attribute__((section(".time_critical")))
#endif

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

/* Close EP1..15 (endpoint control ENABLE cleared, buffers taken back): SET_CONFIGURATION(0), and
 * before a configuration is (re)applied. EP0 is left alone. */
void usb_port_close_data_eps(void);

/* Called at the end of every bus reset (ISR, after BUS_RESET is acknowledged). Weak default:
 * nothing; the rp2040 port applies erratum RP2040-E5 there (usb_e5.c). */
void usb_port_on_bus_reset(void);

/* SYSINFO CHIP_ID revision read at init: 1 = B0/B1, 2 = B2. EP0 is aborted on a new SETUP only
 * on B2 and later (RP2040-E2: EP_ABORT is unusable on B0/B1), as TinyUSB does. */
uint8_t usb_port_chip_rev(void);
/* Counters for tests: EP0 aborts done on a new SETUP. */
uint32_t usb_port_ep0_aborts(void);

/* Apply a device address. The core calls this after the SET_ADDRESS status stage. */
void usb_port_set_address(uint8_t addr);

/* Configure endpoint ep_addr (number | USB_DIR_IN) of type/mps with its packet buffer(s) at
 * DPRAM offset buf_off (64-byte aligned, >= USB_DPRAM_DATA; nbuf = 2 uses buf_off + 64 too,
 * and needs mps <= 64). Resets its toggle to DATA0. */
void usb_port_ep_open(uint8_t ep_addr, enum usb_ep_type type, uint16_t mps, uint16_t buf_off,
                      uint8_t nbuf);

/* How many IN packets usb_port_ep_in_queue may take now: 0 while the controller still owns
 * any of the endpoint's buffers, else its free halves (1 or 2). */
uint8_t usb_port_ep_in_room(uint8_t ep_addr);

/* Copy len (<= mps) bytes into the endpoint's next free buffer, not yet handed over; len 0 is
 * a zero-length packet. Ignored when usb_port_ep_in_room() is 0. */
void usb_port_ep_in_queue(uint8_t ep_addr, const uint8_t *data, uint16_t len);

/* Hand every queued IN packet to the controller in one buffer-control write. On bulk IN
 * endpoints the arming may be deferred to the next SOF (RP2040-E15). Each packet's
 * completion is reported, in order, by usb_core_on_xfer(ep_addr, len). */
void usb_port_ep_in_commit(uint8_t ep_addr);

/* usb_port_ep_in_queue + usb_port_ep_in_commit for one packet. */
void usb_port_ep_in(uint8_t ep_addr, const uint8_t *data, uint16_t len);

/* Accept up to count (1, or 2 on a double-buffered endpoint) OUT packets of up to len bytes
 * each on endpoint number ep. Ignored while the controller owns any of its buffers. Each
 * packet is reported, in order, by usb_core_on_xfer(ep, received); read it with
 * usb_port_ep_out_copy from inside that call. */
void usb_port_ep_out(uint8_t ep, uint16_t len, uint8_t count);

/* Copy the OUT packet being reported on endpoint ep (len bytes, as reported) into dst. */
void usb_port_ep_out_copy(uint8_t ep, uint8_t *dst, uint16_t len);

/* True while the controller owns any buffer of the endpoint (armed, not yet completed). */
bool usb_port_ep_is_busy(uint8_t ep_addr);

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

/* Counters for tests and docs: packets deferred by the E15 workaround. The SOF interrupt is on
 * only while a bulk IN packet is armed or deferred (E15 needs the frame timing only then). */
uint32_t usb_port_e15_deferred(void);

#endif /* PICOD_USB_PORT_H */
