/*
 * usb_regs.h - RP2040 USB controller (USBCTRL) register and DPRAM layout, device mode only.
 *
 * Names follow the datasheet (chapter 4.1, "USB"): BLOCK_REG_FIELD_BITS / _LSB. Only what the
 * device stack uses is listed. The controller sits at 0x50110000; its 4 KiB dual-port RAM
 * (DPRAM: the setup packet, endpoint/buffer control words and the packet buffers) at
 * 0x50100000. Every DPRAM control word must be written with one 32-bit store: the
 * controller (and rp2040js) act on the whole word.
 */
#ifndef PICOD_USB_REGS_H
#define PICOD_USB_REGS_H

#include <stdint.h>

#define USB_DPRAM_BASE 0x50100000u
#define USB_REGS_BASE  0x50110000u
#define USB_DPRAM_SIZE 4096u

/* Atomic register aliases (datasheet 2.1.2): +0x2000 sets bits, +0x3000 clears bits. */
#define REG_ALIAS_SET 0x2000u
#define REG_ALIAS_CLR 0x3000u

/* ---- DPRAM, device mode ------------------------------------------------------------------- */
#define USB_DPRAM_SETUP            0x000u /* 8 bytes: the last SETUP packet */
#define USB_DPRAM_EP_CTRL(n, out)  (0x008u + 8u * ((n)-1u) + ((out) ? 4u : 0u)) /* n = 1..15 */
#define USB_DPRAM_BUF_CTRL(n, out) (0x080u + 8u * (n) + ((out) ? 4u : 0u))      /* n = 0..15 */
#define USB_DPRAM_EP0_BUF          0x100u /* EP0 IN and OUT share this 64-byte buffer */
#define USB_DPRAM_DATA             0x180u /* first free buffer for EP1..15 (64-byte aligned) */

/* Endpoint control word (EPn_IN/OUT_CONTROL). */
#define USB_EP_CTRL_ENABLE_BITS                    (1u << 31)
#define USB_EP_CTRL_DOUBLE_BUFFERED_BITS           (1u << 30)
#define USB_EP_CTRL_INTERRUPT_PER_BUFF_BITS        (1u << 29)
#define USB_EP_CTRL_INTERRUPT_PER_DOUBLE_BUFF_BITS (1u << 28)
#define USB_EP_CTRL_ENDPOINT_TYPE_LSB              26
#define USB_EP_CTRL_BUFFER_ADDRESS_BITS            0xffffu

/* Buffer control word, buffer 0 in bits 15:0 (buffer 1 in 31:16 when double buffered). */
#define USB_BUF_CTRL_FULL      (1u << 15)
#define USB_BUF_CTRL_LAST      (1u << 14)
#define USB_BUF_CTRL_DATA1_PID (1u << 13)
#define USB_BUF_CTRL_RESET     (1u << 12) /* reset the double-buffer selector to buffer 0 */
#define USB_BUF_CTRL_STALL     (1u << 11)
#define USB_BUF_CTRL_AVAILABLE (1u << 10)
#define USB_BUF_CTRL_LEN_MASK  0x3ffu

/* ---- registers (offsets from USB_REGS_BASE) ---------------------------------------------- */
#define USB_ADDR_ENDP     0x00u
#define USB_MAIN_CTRL     0x40u
#define USB_SOF_RD        0x48u
#define USB_SIE_CTRL      0x4cu
#define USB_SIE_STATUS    0x50u
#define USB_BUFF_STATUS   0x58u
#define USB_EP_ABORT      0x60u
#define USB_EP_ABORT_DONE 0x64u
#define USB_EP_STALL_ARM  0x68u
#define USB_MUXING        0x74u
#define USB_PWR           0x78u
#define USB_PHY_DIRECT    0x7cu
#define USB_PHY_DIRECT_OV 0x80u
#define USB_INTR          0x8cu
#define USB_INTE          0x90u
#define USB_INTS          0x98u

#define USB_MAIN_CTRL_CONTROLLER_EN_BITS (1u << 0)

#define USB_SIE_CTRL_EP0_INT_1BUF_BITS (1u << 29) /* interrupt on every EP0 buffer */
#define USB_SIE_CTRL_PULLUP_EN_BITS    (1u << 16)

#define USB_SIE_STATUS_BUS_RESET_BITS  (1u << 19)
#define USB_SIE_STATUS_CONNECTED_BITS  (1u << 16)
#define USB_SIE_STATUS_LINE_STATE_LSB  2
#define USB_SIE_STATUS_LINE_STATE_BITS (3u << 2) /* 0 SE0, 1 J, 2 K, 3 SE1 */
#define USB_SIE_STATUS_SETUP_REC_BITS  (1u << 17)
#define USB_SIE_STATUS_RESUME_BITS     (1u << 11)
#define USB_SIE_STATUS_SUSPENDED_BITS  (1u << 4)

#define USB_EP_ABORT_EP0_IN_BITS  (1u << 0)
#define USB_EP_ABORT_EP0_OUT_BITS (1u << 1)

#define USB_EP_STALL_ARM_EP0_IN_BITS  (1u << 0)
#define USB_EP_STALL_ARM_EP0_OUT_BITS (1u << 1)

#define USB_MUXING_TO_PHY_BITS         (1u << 0)
#define USB_MUXING_TO_DIGITAL_PAD_BITS (1u << 2)
#define USB_MUXING_SOFTCON_BITS        (1u << 3)

#define USB_PHY_DIRECT_DP_PULLUP_EN_BITS    (1u << 1)
#define USB_PHY_DIRECT_OV_DP_PULLUP_EN_BITS (1u << 2)

#define USB_PWR_VBUS_DETECT_BITS             (1u << 2)
#define USB_PWR_VBUS_DETECT_OVERRIDE_EN_BITS (1u << 3)

/* INTR / INTE / INTS bits (device mode). */
#define USB_INT_BUFF_STATUS_BITS          (1u << 4)
#define USB_INT_BUS_RESET_BITS            (1u << 12)
#define USB_INT_DEV_SUSPEND_BITS          (1u << 14)
#define USB_INT_DEV_RESUME_FROM_HOST_BITS (1u << 15)
#define USB_INT_SETUP_REQ_BITS            (1u << 16)
#define USB_INT_DEV_SOF_BITS              (1u << 17)

/* ---- neighbours ---------------------------------------------------------------------------- */
#define RESETS_BASE               0x4000c000u
#define RESETS_RESET              0x0u
#define RESETS_RESET_DONE         0x8u
#define RESETS_RESET_USBCTRL_BITS (1u << 24)

#define SYSINFO_CHIP_ID 0x40000000u

#define NVIC_ISER   0xe000e100u
#define NVIC_ICER   0xe000e180u
#define USBCTRL_IRQ 5u

static inline volatile uint32_t *usb_reg(uint32_t off)
{
    return (volatile uint32_t *)(USB_REGS_BASE + off);
}

static inline volatile uint32_t *usb_dpram_word(uint32_t off)
{
    return (volatile uint32_t *)(USB_DPRAM_BASE + off);
}

#endif /* PICOD_USB_REGS_H */
