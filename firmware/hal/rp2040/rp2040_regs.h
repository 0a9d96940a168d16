/*
 * rp2040_regs.h - the RP2040 registers this port uses (addresses and fields from the RP2040
 * datasheet), and helpers for the atomic SET/CLR/XOR aliases every APB/AHB peripheral has.
 * Naming follows BLOCK_REG and BLOCK_REG_FIELD_BITS/_LSB.
 */
#ifndef PICOD_RP2040_REGS_H
#define PICOD_RP2040_REGS_H

#include <stdint.h>

typedef volatile uint32_t reg32_t;

#define REG(addr) (*(reg32_t *)(uintptr_t)(addr))

/* Atomic aliases: +0x1000 XOR, +0x2000 SET, +0x3000 CLR (not for SIO or the PPB). */
#define REG_ALIAS_XOR 0x1000u
#define REG_ALIAS_SET 0x2000u
#define REG_ALIAS_CLR 0x3000u

static inline void hw_set_bits(uint32_t addr, uint32_t mask)
{
    REG(addr + REG_ALIAS_SET) = mask;
}
static inline void hw_clear_bits(uint32_t addr, uint32_t mask)
{
    REG(addr + REG_ALIAS_CLR) = mask;
}
/* Replace the bits in mask with value, atomically with respect to the other bits. */
static inline void hw_write_masked(uint32_t addr, uint32_t value, uint32_t mask)
{
    REG(addr + REG_ALIAS_XOR) = (REG(addr) ^ value) & mask;
}

/* ---- bootrom ------------------------------------------------------------------------- */
#define ROM_MAGIC_ADDR      0x00000010u /* 'M', 'u', version 1 */
#define ROM_FUNC_TABLE_ADDR 0x00000014u /* u16 pointer */
#define ROM_TABLE_LOOKUP_FN 0x00000018u /* u16 pointer to rom_table_lookup(table, code) */
#define ROM_CODE(c1, c2)    ((uint32_t)(c1) | ((uint32_t)(c2) << 8))

/* ---- XIP / SSI -------------------------------------------------------------------------- */
#define XIP_SSI_BASE         0x18000000u
#define SSI_CTRLR0           (XIP_SSI_BASE + 0x00u)
#define SSI_CTRLR1           (XIP_SSI_BASE + 0x04u)
#define SSI_SSIENR           (XIP_SSI_BASE + 0x08u)
#define SSI_BAUDR            (XIP_SSI_BASE + 0x14u)
#define SSI_TXFLR            (XIP_SSI_BASE + 0x20u)
#define SSI_RXFLR            (XIP_SSI_BASE + 0x24u)
#define SSI_SR               (XIP_SSI_BASE + 0x28u)
#define SSI_DR0              (XIP_SSI_BASE + 0x60u)
#define SSI_SR_BUSY_BITS     0x01u
#define SSI_SR_TFNF_BITS     0x02u
#define SSI_SR_TFE_BITS      0x04u
#define SSI_SR_RFNE_BITS     0x08u
#define IO_QSPI_BASE         0x40018000u
#define IO_QSPI_SS_CTRL      (IO_QSPI_BASE + 0x0cu) /* GPIO_QSPI_SS_CTRL */
#define IO_QSPI_OUTOVER_LSB  8
#define IO_QSPI_OUTOVER_BITS (3u << 8)
#define IO_QSPI_OUTOVER_LOW  2u
#define IO_QSPI_OUTOVER_HIGH 3u

/* ---- RESETS ----------------------------------------------------------------------------- */
#define RESETS_BASE       0x4000c000u
#define RESETS_RESET      (RESETS_BASE + 0x0u)
#define RESETS_RESET_DONE (RESETS_BASE + 0x8u)
#define RESET_I2C0        (1u << 3)
#define RESET_IO_BANK0    (1u << 5)
#define RESET_PADS_BANK0  (1u << 8)
#define RESET_PLL_SYS     (1u << 12)
#define RESET_PLL_USB     (1u << 13)
#define RESET_TIMER       (1u << 21)
#define RESET_UART0       (1u << 22)
#define RESET_UART1       (1u << 23)

/* ---- clocks ----------------------------------------------------------------------------- */
#define CLOCKS_BASE             0x40008000u
#define CLK_REF_CTRL            (CLOCKS_BASE + 0x30u)
#define CLK_REF_DIV             (CLOCKS_BASE + 0x34u)
#define CLK_REF_SELECTED        (CLOCKS_BASE + 0x38u)
#define CLK_SYS_CTRL            (CLOCKS_BASE + 0x3cu)
#define CLK_SYS_DIV             (CLOCKS_BASE + 0x40u)
#define CLK_SYS_SELECTED        (CLOCKS_BASE + 0x44u)
#define CLK_PERI_CTRL           (CLOCKS_BASE + 0x48u)
#define CLK_USB_CTRL            (CLOCKS_BASE + 0x54u)
#define CLK_USB_DIV             (CLOCKS_BASE + 0x58u)
#define CLK_SYS_RESUS_CTRL      (CLOCKS_BASE + 0x78u)
#define CLK_FC0_REF_KHZ         (CLOCKS_BASE + 0x80u)
#define CLK_FC0_MIN_KHZ         (CLOCKS_BASE + 0x84u)
#define CLK_FC0_MAX_KHZ         (CLOCKS_BASE + 0x88u)
#define CLK_FC0_INTERVAL        (CLOCKS_BASE + 0x90u)
#define CLK_FC0_SRC             (CLOCKS_BASE + 0x94u)
#define CLK_FC0_STATUS          (CLOCKS_BASE + 0x98u)
#define CLK_FC0_RESULT          (CLOCKS_BASE + 0x9cu)
#define FC0_SRC_ROSC            0x03u
#define FC0_SRC_CLK_REF         0x08u
#define FC0_SRC_CLK_SYS         0x09u
#define FC0_SRC_CLK_PERI        0x0au
#define FC0_SRC_CLK_USB         0x0bu
#define CLK_CTRL_ENABLE_BITS    (1u << 11)
#define CLK_CTRL_AUXSRC_LSB     5
#define CLK_CTRL_AUXSRC_BITS    (7u << 5)
#define CLK_REF_CTRL_SRC_BITS   3u
#define CLK_REF_CTRL_SRC_ROSC   0u
#define CLK_REF_CTRL_SRC_XOSC   2u
#define CLK_SYS_CTRL_SRC_BITS   1u
#define CLK_SYS_CTRL_SRC_AUX    1u
#define CLK_SYS_AUXSRC_PLL_SYS  0u
#define CLK_USB_AUXSRC_PLL_USB  0u
#define CLK_PERI_AUXSRC_CLK_SYS 0u
#define CLK_DIV_INT_LSB         8

#define XOSC_BASE              0x40024000u
#define XOSC_CTRL              (XOSC_BASE + 0x00u)
#define XOSC_STATUS            (XOSC_BASE + 0x04u)
#define XOSC_STARTUP           (XOSC_BASE + 0x0cu)
#define XOSC_CTRL_FREQ_1_15MHZ 0xaa0u
#define XOSC_CTRL_ENABLE       (0xfabu << 12)
#define XOSC_STATUS_STABLE     (1u << 31)

#define PLL_SYS_BASE          0x40028000u
#define PLL_USB_BASE          0x4002c000u
#define PLL_CS                0x0u
#define PLL_PWR               0x4u
#define PLL_FBDIV_INT         0x8u
#define PLL_PRIM              0xcu
#define PLL_CS_LOCK           (1u << 31)
#define PLL_PWR_PD            (1u << 0)
#define PLL_PWR_POSTDIVPD     (1u << 3)
#define PLL_PWR_VCOPD         (1u << 5)
#define PLL_PRIM_POSTDIV1_LSB 16
#define PLL_PRIM_POSTDIV2_LSB 12

/* ---- watchdog and timer ---------------------------------------------------------------- */
#define WATCHDOG_BASE                0x40058000u
#define WATCHDOG_CTRL                (WATCHDOG_BASE + 0x00u)
#define WATCHDOG_LOAD                (WATCHDOG_BASE + 0x04u)
#define WATCHDOG_REASON              (WATCHDOG_BASE + 0x08u)
#define WATCHDOG_SCRATCH(n)          (WATCHDOG_BASE + 0x0cu + 4u * (n))
#define WATCHDOG_TICK                (WATCHDOG_BASE + 0x2cu)
#define WATCHDOG_CTRL_TRIGGER        (1u << 31)
#define WATCHDOG_CTRL_ENABLE         (1u << 30)
#define WATCHDOG_CTRL_PAUSE_DBG_BITS (7u << 24) /* DBG0, DBG1, JTAG */
#define WATCHDOG_REASON_TIMER        (1u << 0)
#define WATCHDOG_REASON_FORCE        (1u << 1)
#define WATCHDOG_TICK_ENABLE         (1u << 9)

#define PSM_BASE  0x40010000u
#define PSM_WDSEL (PSM_BASE + 0x8u)
/* Everything but the two oscillators (PSM bits 0 ROSC, 1 XOSC): what the bootrom and pico-sdk
 * select, so a watchdog reset restarts the chip without stopping its clock sources. */
#define PSM_WDSEL_ALL_BUT_OSC 0x1fffcu

#define VREG_CHIP_RESET            0x40064008u
#define CHIP_RESET_HAD_POR         (1u << 8)
#define CHIP_RESET_HAD_RUN         (1u << 16)
#define CHIP_RESET_HAD_PSM_RESTART (1u << 20)

#define SYSINFO_CHIP_ID           0x40000000u
#define SYSINFO_CHIP_ID_REV_LSB   28
#define SYSINFO_CHIP_ID_PART_BITS 0x0ffff000u /* PART 0x0002 = RP2040 */

#define TIMER_BASE     0x40054000u
#define TIMER_ALARM0   (TIMER_BASE + 0x10u)
#define TIMER_ARMED    (TIMER_BASE + 0x20u)
#define TIMER_TIMERAWL (TIMER_BASE + 0x28u)
#define TIMER_INTR     (TIMER_BASE + 0x34u)
#define TIMER_INTE     (TIMER_BASE + 0x38u)

/* ---- GPIO ------------------------------------------------------------------------------- */
#define IO_BANK0_BASE        0x40014000u
#define IO_GPIO_CTRL(n)      (IO_BANK0_BASE + 8u * (n) + 4u)
#define IO_INTR(n)           (IO_BANK0_BASE + 0xf0u + 4u * ((n) / 8u))
#define IO_PROC0_INTE(n)     (IO_BANK0_BASE + 0x100u + 4u * ((n) / 8u))
#define IO_PROC0_INTS(n)     (IO_BANK0_BASE + 0x120u + 4u * ((n) / 8u))
#define IO_IRQ_LSB(n)        (4u * ((n) % 8u))
#define IO_IRQ_EDGE_LOW      (1u << 2)
#define IO_IRQ_EDGE_HIGH     (1u << 3)
#define IO_CTRL_FUNCSEL_BITS 0x1fu
#define IO_CTRL_OEOVER_LSB   12
#define IO_CTRL_INOVER_LSB   16
#define IO_OVER_LOW          2u
#define IO_OVER_HIGH         3u
#define GPIO_FUNC_UART       2u
#define GPIO_FUNC_I2C        3u
#define GPIO_FUNC_SIO        5u
#define GPIO_FUNC_NULL       0x1fu

#define PADS_BANK0_BASE 0x4001c000u
#define PADS_GPIO(n)    (PADS_BANK0_BASE + 4u + 4u * (n))
#define PADS_SLEWFAST   (1u << 0)
#define PADS_SCHMITT    (1u << 1)
#define PADS_PDE        (1u << 2)
#define PADS_PUE        (1u << 3)
#define PADS_DRIVE_4MA  (1u << 4)
#define PADS_IE         (1u << 6)
#define PADS_OD         (1u << 7)

#define SIO_BASE         0xd0000000u
#define SIO_GPIO_IN      (SIO_BASE + 0x004u)
#define SIO_GPIO_OUT     (SIO_BASE + 0x010u)
#define SIO_GPIO_OUT_SET (SIO_BASE + 0x014u)
#define SIO_GPIO_OUT_CLR (SIO_BASE + 0x018u)
#define SIO_GPIO_OE_SET  (SIO_BASE + 0x024u)
#define SIO_GPIO_OE_CLR  (SIO_BASE + 0x028u)

/* ---- UART (PL011) ----------------------------------------------------------------------- */
#define UART0_BASE       0x40034000u
#define UART1_BASE       0x40038000u
#define UART_DR          0x00u
#define UART_FR          0x18u
#define UART_IBRD        0x24u
#define UART_FBRD        0x28u
#define UART_LCR_H       0x2cu
#define UART_CR          0x30u
#define UART_IFLS        0x34u
#define UART_IMSC        0x38u
#define UART_MIS         0x40u
#define UART_ICR         0x44u
#define UART_FR_TXFF     (1u << 5)
#define UART_FR_RXFE     (1u << 4)
#define UART_FR_BUSY     (1u << 3)
#define UART_LCR_H_WLEN8 (3u << 5)
#define UART_LCR_H_FEN   (1u << 4)
#define UART_CR_UARTEN   (1u << 0)
#define UART_CR_TXE      (1u << 8)
#define UART_CR_RXE      (1u << 9)
#define UART_INT_RX      (1u << 4)
#define UART_INT_TX      (1u << 5)
#define UART_INT_RT      (1u << 6)

/* ---- I2C (DW_apb_i2c) ------------------------------------------------------------------- */
#define I2C0_BASE              0x40044000u
#define IC_CON                 0x00u
#define IC_TAR                 0x04u
#define IC_DATA_CMD            0x10u
#define IC_FS_SCL_HCNT         0x1cu
#define IC_FS_SCL_LCNT         0x20u
#define IC_INTR_MASK           0x30u
#define IC_RAW_INTR_STAT       0x34u
#define IC_RX_TL               0x38u
#define IC_TX_TL               0x3cu
#define IC_CLR_INTR            0x40u
#define IC_CLR_TX_ABRT         0x54u
#define IC_CLR_STOP_DET        0x60u
#define IC_ENABLE              0x6cu
#define IC_STATUS              0x70u
#define IC_TXFLR               0x74u
#define IC_RXFLR               0x78u
#define IC_SDA_HOLD            0x7cu
#define IC_TX_ABRT_SOURCE      0x80u
#define IC_ENABLE_STATUS       0x9cu
#define IC_FS_SPKLEN           0xa0u
#define IC_CON_MASTER_MODE     (1u << 0)
#define IC_CON_SPEED_FAST      (2u << 1)
#define IC_CON_RESTART_EN      (1u << 5)
#define IC_CON_SLAVE_DISABLE   (1u << 6)
#define IC_CON_TX_EMPTY_CTRL   (1u << 8)
#define IC_DATA_CMD_READ       (1u << 8)
#define IC_DATA_CMD_STOP       (1u << 9)
#define IC_DATA_CMD_RESTART    (1u << 10)
#define IC_INTR_TX_ABRT        (1u << 6)
#define IC_INTR_STOP_DET       (1u << 9)
#define IC_INTR_RX_FULL        (1u << 2)
#define IC_INTR_TX_EMPTY       (1u << 4)
#define IC_STATUS_ACTIVITY     (1u << 0)
#define IC_STATUS_TFNF         (1u << 1)
#define IC_STATUS_TFE          (1u << 2)
#define IC_STATUS_RFNE         (1u << 3)
#define IC_STATUS_MST_ACTIVITY (1u << 5)
#define IC_ABRT_7B_ADDR_NOACK  (1u << 0)
#define IC_ABRT_TXDATA_NOACK   (1u << 3)
#define IC_ABRT_ARB_LOST       (1u << 12)

/* ---- Cortex-M0+ private peripherals ---------------------------------------------------- */
#define NVIC_ISER   0xe000e100u
#define NVIC_ICER   0xe000e180u
#define NVIC_ICPR   0xe000e280u
#define NVIC_IPR(n) (0xe000e400u + 4u * ((n) / 4u))
#define SCB_ICSR    0xe000ed04u
#define SCB_VTOR    0xe000ed08u
#define SCB_AIRCR   0xe000ed0cu
#define SCB_SHPR3   0xe000ed20u

/* IRQ numbers */
#define IRQ_TIMER0   0u
#define IRQ_USBCTRL  5u
#define IRQ_IO_BANK0 13u
#define IRQ_UART0    20u
#define IRQ_UART1    21u
#define IRQ_I2C0     23u
#define IRQ_COUNT    32u

#endif /* PICOD_RP2040_REGS_H */
