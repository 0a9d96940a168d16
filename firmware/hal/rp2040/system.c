/*
 * system.c - hal_init, watchdog, reset cause, crash record, HardFault, reboot, silicon facts.
 *
 * Reset cause. WATCHDOG_REASON says whether the watchdog reset us (TIMER: it expired; FORCE:
 * someone wrote CTRL.TRIGGER). The watchdog is not only ours: after a UF2 copy, after
 * reset_usb_boot and for picotool's reboot the bootrom reboots through a watchdog *timeout*
 * (pico-bootrom usb_device_tiny/runtime.c watchdog_reboot: SCRATCH4..7 for its boot vector,
 * 0 in SCRATCH4 for a plain reboot; reset_usb_boot also writes SCRATCH0/1). So:
 *  - our arming is tagged: hal_watchdog_start writes SCRATCH_ARMED_MAGIC to SCRATCH4 (pico-sdk's
 *    scheme, watchdog_enable / watchdog_enable_caused_reboot). Every reboot the bootrom makes
 *    overwrites SCRATCH4, so a tag can never outlive our own arming into a bootrom reset,
 *    whichever way the bootrom was entered; hal_reboot(BOOTSEL) clears it as well. A TIMER
 *    reset with the tag is a hung task (PROTO_RESET_WATCHDOG, crash record naming the task);
 *    without it, PROTO_RESET_BOOTROM, and no crash record is made up.
 *  - our deliberate reboots (REBOOT request, HardFault, clock fault) write a tagged cause to
 *    SCRATCH0 (0x9c0d00xx) and use TRIGGER.
 * No watchdog reason: CHIP_RESET tells the chip-level reset (bit 20 HAD_PSM_RESTART = a
 * debugger, bit 16 HAD_RUN = the RUN pin, bit 8 HAD_POR = power-on or brown-out).
 *
 * PSM_WDSEL is 0 after power-on: a watchdog reset then resets nothing. crt0 sets it first
 * thing, and every arming or trigger sets it again.
 *
 * Crash record. Lives in .noinit (not zeroed at reset) behind a magic word; after power-on
 * SRAM is random, so a record without the magic is cleared at boot.
 */
#include <string.h>

#include "rp2040.h"
#include "rp2040_regs.h"
#include "sched.h"

#define SCRATCH_CAUSE_MAGIC 0x9c0d0000u
#define SCRATCH_CAUSE_MASK  0xffff0000u
#define SCRATCH_CAUSE       0u /* our deliberate reboots */
#define SCRATCH_ARMED       4u /* our watchdog arming (the bootrom overwrites it on its reboots) */
#define SCRATCH_ARMED_MAGIC 0x70c0d0a5u
#define LED_ACTIVITY_MASK   (1u << PICOD_PIN_LED)

const hal_events_t *rp2040_events;

static const hal_events_t no_events;
static uint8_t reset_cause;
static uint32_t watchdog_load;
static proto_hw_info_t hw_info;

#define CRASH_STORE_MAGIC 0xc7a5f00du

struct crash_store {
    uint32_t magic; /* CRASH_STORE_MAGIC: the record below is meaningful */
    proto_crash_t rec;
};
__attribute__((section(".noinit"))) static struct crash_store crash_store;

/* The core's "running task" index (sched_running_id, a member of the scheduler's state in
 * .noinit, so it survives the watchdog reset): a weak reference so the port links without the
 * core (stub app). */
extern struct sched_core_ sched_core_ __attribute__((weak));

static uint8_t current_task(void)
{
    return &sched_core_ ? sched_running_id : 0xffu;
}

/* Pure: the cause from the registers as read at boot (see the top of this file). */
static uint8_t reset_cause_of(uint32_t reason, uint32_t cause_tag, uint32_t armed_tag,
                              uint32_t chip)
{
    if (reason & (WATCHDOG_REASON_TIMER | WATCHDOG_REASON_FORCE)) {
        if ((cause_tag & SCRATCH_CAUSE_MASK) == SCRATCH_CAUSE_MAGIC) {
            return (uint8_t)(cause_tag & 0xffu);
        }
        if (reason & WATCHDOG_REASON_TIMER) {
            return armed_tag == SCRATCH_ARMED_MAGIC ? PROTO_RESET_WATCHDOG : PROTO_RESET_BOOTROM;
        }
        return PROTO_RESET_SOFTWARE; /* someone else wrote TRIGGER */
    }
    if (chip == 0xffffffffu) {
        return PROTO_RESET_POWER_ON; /* rp2040js: VREG_AND_CHIP_RESET is not modelled */
    }
    if (chip & CHIP_RESET_HAD_PSM_RESTART) {
        return PROTO_RESET_DEBUG;
    }
    if (chip & CHIP_RESET_HAD_RUN) {
        return PROTO_RESET_RUN_PIN;
    }
    return PROTO_RESET_POWER_ON;
}

static uint8_t read_reset_cause(void)
{
    uint32_t reason = REG(WATCHDOG_REASON);
    uint32_t chip = REG(VREG_CHIP_RESET);
    uint8_t cause = reset_cause_of(reason, REG(WATCHDOG_SCRATCH(SCRATCH_CAUSE)),
                                   REG(WATCHDOG_SCRATCH(SCRATCH_ARMED)), chip);
    REG(WATCHDOG_SCRATCH(SCRATCH_CAUSE)) = 0;
    REG(WATCHDOG_SCRATCH(SCRATCH_ARMED)) = 0; /* set again when the core arms the watchdog */
    hw_info.wd_reason = (uint8_t)(reason & 0x3u);
    hw_info.chip_reset = chip;
    return cause;
}

static void crash_record_boot(void)
{
    if (crash_store.magic != CRASH_STORE_MAGIC) {
        memset(&crash_store.rec, 0, sizeof(crash_store.rec));
        crash_store.magic = CRASH_STORE_MAGIC;
    }
    if (reset_cause == PROTO_RESET_WATCHDOG) {
        /* No code runs when the watchdog bites; the task that was running when it starved
         * the watchdog is still in .noinit if the core keeps its index there. */
        crash_store.rec.kind = PROTO_FAULT_WATCHDOG;
        crash_store.rec.task = current_task();
        crash_store.rec.pc = 0;
        crash_store.rec.lr = 0;
        crash_store.rec.uptime_ms = 0;
    }
}

void rp2040_system_init(void)
{
    /* A watchdog reset restarts everything but the oscillators (crt0 set this already). */
    REG(PSM_WDSEL) = PSM_WDSEL_ALL_BUT_OSC;
    reset_cause = read_reset_cause();
    crash_record_boot();
}

uint8_t rp2040_chip_revision(void)
{
    uint32_t id = REG(SYSINFO_CHIP_ID);
    if ((id & SYSINFO_CHIP_ID_PART_BITS) != (0x0002u << 12)) {
        return 0; /* not an RP2040 (or the register is not there) */
    }
    return (uint8_t)(id >> SYSINFO_CHIP_ID_REV_LSB);
}

__attribute__((noreturn)) static void watchdog_reboot(uint8_t cause);

/* The clock fault code: `code` long pulses (300 ms on, 300 ms off), then 1.5 s dark, FAULT_ROUNDS
 * times; then a reboot tries the crystal again. The TIMER ticks (clocks.c feeds the tick even
 * from the ROSC), so the timing holds to the ROSC's accuracy. The crash record says what
 * happened (kind CLOCK, pc = the PROTO_CLK_* bits) for the boot that comes up. */
#define FAULT_PULSE_US 300000u
#define FAULT_GAP_US   1500000u
#define FAULT_ROUNDS   5u

/* Sleep, not spin: WFI on ALARM0 with interrupts masked (nothing else is running yet). */
static void led_wait(bool on, uint32_t us)
{
    hal_led_set(on);
    uint32_t irq = hal_irq_save();
    uint32_t deadline = hal_time_us() + us;
    while ((int32_t)(deadline - hal_time_us()) > 0) {
        hal_idle_until(deadline, true);
    }
    hal_irq_restore(irq);
}

void rp2040_fault_blink(uint8_t code, uint32_t rounds)
{
    for (uint32_t r = 0; r < rounds; r++) {
        for (uint8_t i = 0; i < code; i++) {
            led_wait(true, FAULT_PULSE_US);
            led_wait(false, FAULT_PULSE_US);
        }
        led_wait(false, FAULT_GAP_US);
    }
}

/* LED fault code per clock fault (docs/BRINGUP.md). */
static uint8_t clock_fault_code(uint8_t faults)
{
    if (faults & PROTO_CLK_XOSC) {
        return 3;
    }
    if (faults & PROTO_CLK_PLL_USB) {
        return 4;
    }
    return 5; /* PLL_SYS or a measured clock off: the image still runs, slower or skewed */
}

static void clock_fault_check(void)
{
    uint8_t faults = hw_info.clock_faults;
    if (faults == 0) {
        return;
    }
    rp2040_debug_puts("picod rp2040: clock fault ");
    rp2040_debug_hex(faults);
    rp2040_debug_puts("\r\n");
    uint8_t code = clock_fault_code(faults);
    if (rp2040_link_needs_usb_clock() && (faults & PROTO_CLK_PLL_USB)) {
        /* No 48 MHz, no USB: nothing can be served. Show the code, then try again. */
        rp2040_fault_blink(code, FAULT_ROUNDS);
        crash_store.rec = (proto_crash_t){.kind = PROTO_FAULT_CLOCK, .task = 0xffu, .pc = faults};
        crash_store.magic = CRASH_STORE_MAGIC;
        watchdog_reboot(PROTO_RESET_FAULT);
    }
    /* The link still works (UART, or USB with PLL_SYS lost): show the code once, then serve
     * with the fault reported in HELLO and STATS. */
    rp2040_fault_blink(code, 1);
}

void hal_init(const hal_events_t *ev)
{
    rp2040_events = ev ? ev : &no_events;
    rp2040_system_init();
    rp2040_timer_init();
    rp2040_gpio_init(); /* the LED goes off: crt0 lit it at reset (docs/BRINGUP.md) */
    rp2040_debug_init();
    hw_info.chip_rev = rp2040_chip_revision();
    rp2040_clocks_measure(&hw_info);
    clock_fault_check();
    rp2040_i2c_init();
    rp2040_board_id_init();
    rp2040_link_init();
    (void)rp2040_stack_high_water(); /* the one full scan, now, before any task runs */
    rp2040_debug_puts("picod rp2040: boot, reset cause ");
    rp2040_debug_hex(reset_cause);
    rp2040_debug_puts(", chip rev ");
    rp2040_debug_hex(hw_info.chip_rev);
    rp2040_debug_puts(", clk_sys kHz ");
    rp2040_debug_hex(hw_info.clk_sys_khz);
    rp2040_debug_puts("\r\n");
}

void hal_hw_info(proto_hw_info_t *out)
{
    *out = hw_info;
}

uint8_t hal_platform(void)
{
    return PROTO_PLATFORM_RP2040;
}

uint8_t hal_reset_cause(void)
{
    return reset_cause;
}

proto_crash_t *hal_crash_record(void)
{
    /* The core may edit it (e.g. clear it once reported); edits survive the next reset. */
    return &crash_store.rec;
}

void hal_watchdog_start(uint32_t timeout_ms)
{
    /* LOAD is 24 bits and the counter decrements twice per 1 us tick (erratum RP2040-E1). */
    uint32_t max_ms = 0xffffffu / 2000u;
    if (timeout_ms > max_ms) {
        timeout_ms = max_ms;
    }
    watchdog_load = timeout_ms * 2000u;
    REG(PSM_WDSEL) = PSM_WDSEL_ALL_BUT_OSC; /* before arming: else a bite resets nothing */
    REG(WATCHDOG_SCRATCH(SCRATCH_ARMED)) = SCRATCH_ARMED_MAGIC; /* a timeout is ours */
    REG(WATCHDOG_LOAD) = watchdog_load;
    REG(WATCHDOG_CTRL) = WATCHDOG_CTRL_ENABLE | WATCHDOG_CTRL_PAUSE_DBG_BITS;
}

void hal_watchdog_feed(void)
{
    REG(WATCHDOG_LOAD) = watchdog_load;
}

__attribute__((noreturn)) static void watchdog_reboot(uint8_t cause)
{
    REG(PSM_WDSEL) = PSM_WDSEL_ALL_BUT_OSC;
    REG(WATCHDOG_SCRATCH(SCRATCH_CAUSE)) = SCRATCH_CAUSE_MAGIC | cause;
    REG(WATCHDOG_CTRL) = WATCHDOG_CTRL_TRIGGER;
    for (;;) {
        __asm volatile("wfi");
    }
}

typedef void *(*rom_lookup_fn)(const uint16_t *table, uint32_t code);

/* The bootrom lives at address 0: hide the constant from GCC, which otherwise takes small
 * addresses for null-pointer arithmetic (-Warray-bounds). */
static uintptr_t rom_addr(uintptr_t a)
{
    __asm volatile("" : "+r"(a));
    return a;
}

void *rp2040_rom_func(uint32_t code)
{
    const volatile uint8_t *magic = (const volatile uint8_t *)rom_addr(ROM_MAGIC_ADDR);
    if (magic[0] != 'M' || magic[1] != 'u' || magic[2] != 1) {
        return NULL; /* no bootrom (rp2040js without one loaded) */
    }
    uintptr_t table = *(const volatile uint16_t *)rom_addr(ROM_FUNC_TABLE_ADDR);
    uintptr_t lookup = *(const volatile uint16_t *)rom_addr(ROM_TABLE_LOOKUP_FN);
    return ((rom_lookup_fn)lookup)((const uint16_t *)table, code);
}

bool hal_can_reboot(uint8_t mode)
{
    if (mode == PROTO_REBOOT_NORMAL) {
        return true;
    }
    /* BOOTSEL needs the bootrom's reset_usb_boot: absent in rp2040js (no bootrom image). */
    return mode == PROTO_REBOOT_BOOTSEL && rp2040_rom_func(ROM_CODE('U', 'B')) != NULL;
}

int hal_reboot(uint8_t mode)
{
    if (mode == PROTO_REBOOT_NORMAL) {
        watchdog_reboot(PROTO_RESET_SOFTWARE);
    }
    if (mode != PROTO_REBOOT_BOOTSEL) {
        return -HAL_E_ARG;
    }
    typedef void (*usb_boot_fn)(uint32_t gpio_activity_mask, uint32_t disable_mask);
    usb_boot_fn usb_boot = (usb_boot_fn)rp2040_rom_func(ROM_CODE('U', 'B'));
    if (!usb_boot) {
        return -HAL_E_UNSUPPORTED;
    }
    (void)hal_irq_save();
    /* The bootrom's own reboots overwrite SCRATCH4 anyway; clear our tag so that nothing
     * the bootrom does afterwards can be read as our watchdog. */
    REG(WATCHDOG_SCRATCH(SCRATCH_ARMED)) = 0;
    REG(WATCHDOG_CTRL) = 0;
    usb_boot(LED_ACTIVITY_MASK, 0);
    for (;;) {
    }
}

void rp2040_hardfault_c(const uint32_t *frame)
{
    /* Exception frame: r0 r1 r2 r3 r12 lr pc xpsr. */
    crash_store.rec.kind = PROTO_FAULT_HARDFAULT;
    crash_store.rec.task = current_task();
    crash_store.rec.lr = frame[5];
    crash_store.rec.pc = frame[6];
    crash_store.rec.uptime_ms = hal_time_us() / 1000u;
    crash_store.magic = CRASH_STORE_MAGIC;
    rp2040_debug_puts("picod rp2040: HardFault pc=");
    rp2040_debug_hex(frame[6]);
    rp2040_debug_puts("\r\n");
    watchdog_reboot(PROTO_RESET_FAULT);
}

uint16_t hal_stack_high_water(void)
{
    return (uint16_t)rp2040_stack_high_water();
}

extern uint8_t __ram_used_end;

void hal_ram_usage(uint32_t *used, uint32_t *total)
{
    /* Static RAM: stack + .noinit + .ram_text + .data + .bss, all below __ram_used_end. */
    *used = (uint32_t)((uintptr_t)&__ram_used_end - 0x20000000u);
    *total = 264u * 1024u; /* SRAM0-5: 4 x 64 KiB striped + 2 x 4 KiB */
}

void hal_debug_fault(void)
{
    /* A permanently undefined instruction: HardFault on the M0+ (and in the emulator harness,
     * which maps it to one). */
    __asm volatile("udf #0");
}
