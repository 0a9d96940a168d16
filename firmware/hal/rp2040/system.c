/*
 * system.c - hal_init, watchdog, reset cause, crash record, HardFault, reboot.
 *
 * Reset cause. WATCHDOG_REASON says whether the watchdog reset us (TIMER: it expired; FORCE:
 * someone wrote CTRL.TRIGGER). Both our deliberate reboots (REBOOT request, HardFault) use
 * the watchdog, so before triggering it we leave a tagged cause in SCRATCH0 (SCRATCH4..7 are
 * the bootrom's). Nothing in WATCHDOG_REASON means power-on, or the RUN pin / debugger when
 * CHIP_RESET says so.
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
#define LED_ACTIVITY_MASK   (1u << PICOD_PIN_LED)

const hal_events_t *rp2040_events;

static const hal_events_t no_events;
static uint8_t reset_cause;
static uint32_t watchdog_load;

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

static uint8_t read_reset_cause(void)
{
    uint32_t reason = REG(WATCHDOG_REASON);
    uint32_t scratch = REG(WATCHDOG_SCRATCH(0));
    REG(WATCHDOG_SCRATCH(0)) = 0;
    if (reason & (WATCHDOG_REASON_TIMER | WATCHDOG_REASON_FORCE)) {
        if ((scratch & SCRATCH_CAUSE_MASK) == SCRATCH_CAUSE_MAGIC) {
            return (uint8_t)(scratch & 0xffu);
        }
        return (reason & WATCHDOG_REASON_TIMER) ? PROTO_RESET_WATCHDOG : PROTO_RESET_SOFTWARE;
    }
    uint32_t chip = REG(VREG_CHIP_RESET);
    if (chip != 0xffffffffu && (chip & CHIP_RESET_HAD_RUN)) {
        return PROTO_RESET_DEBUG;
    }
    return PROTO_RESET_POWER_ON;
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
    reset_cause = read_reset_cause();
    crash_record_boot();
    /* A watchdog reset restarts everything but the oscillators (bits 0, 1 of PSM). */
    REG(PSM_WDSEL) = 0x1fffcu;
}

void hal_init(const hal_events_t *ev)
{
    rp2040_events = ev ? ev : &no_events;
    rp2040_system_init();
    rp2040_timer_init();
    rp2040_gpio_init();
    rp2040_debug_init();
    rp2040_i2c_init();
    rp2040_board_id_init();
    rp2040_link_init();
    (void)rp2040_stack_high_water(); /* the one full scan, now, before any task runs */
    rp2040_debug_puts("picod rp2040: boot, reset cause ");
    rp2040_debug_hex(reset_cause);
    rp2040_debug_puts("\r\n");
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
    REG(WATCHDOG_LOAD) = watchdog_load;
    REG(WATCHDOG_CTRL) = WATCHDOG_CTRL_ENABLE | WATCHDOG_CTRL_PAUSE_DBG_BITS;
}

void hal_watchdog_feed(void)
{
    REG(WATCHDOG_LOAD) = watchdog_load;
}

__attribute__((noreturn)) static void watchdog_reboot(uint8_t cause)
{
    REG(WATCHDOG_SCRATCH(0)) = SCRATCH_CAUSE_MAGIC | cause;
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

void hal_ram_usage(uint16_t *used, uint16_t *total)
{
    /* Static RAM: stack + .noinit + .ram_text + .data + .bss, all below __ram_used_end. */
    *used = (uint16_t)((uintptr_t)&__ram_used_end - 0x20000000u);
    *total = (uint16_t)((264u * 1024u) > 0xffffu ? 0xffffu : 264u * 1024u);
}

void hal_debug_fault(void)
{
    /* A permanently undefined instruction: HardFault on the M0+ (and in the emulator harness,
     * which maps it to one). */
    __asm volatile("udf #0");
}
