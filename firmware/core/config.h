/*
 * config.h - compile-time sizes and timings of the firmware core.
 *
 * Every static pool in firmware/core is sized here. A port or a test may override any value
 * with -D on the command line (each is guarded by #ifndef).
 */
#ifndef PICOD_CORE_CONFIG_H
#define PICOD_CORE_CONFIG_H

/* Firmware version reported in HELLO. */
#define FW_VERSION_MAJOR 0
#define FW_VERSION_MINOR 1
#define FW_VERSION_PATCH 0
#ifndef FW_BUILD_STRING
#define FW_BUILD_STRING "0.1.0"
#endif

/* ---- scheduler ---- */
#ifndef CONFIG_MAX_TASKS
#define CONFIG_MAX_TASKS 8 /* size of the task registry (stats, event scan) */
#endif
#ifndef CONFIG_TASK_BUDGET_US
#define CONFIG_TASK_BUDGET_US 2000 /* one run longer than this is reported as an overrun */
#endif
/* Per-task run statistics: runs, total and longest run, worst lateness, and the overrun
 * report (a run over its budget: the fault event and sched_global_stats()'s overruns). They
 * cost 24 emulated cycles of the 78 of a timer-driven switch (docs/PERFORMANCE.md); picod's
 * `stats` and the overrun faults need them, so the product has them. 0 leaves them out, as
 * FreeRTOS's configGENERATE_RUN_TIME_STATS or RIOT's schedstatistics do: sched_task_stats()
 * then reads all zeros and nothing is reported as an overrun. */
#ifndef CONFIG_SCHED_RUN_STATS
#define CONFIG_SCHED_RUN_STATS 1
#endif
#ifndef CONFIG_WATCHDOG_MS
#define CONFIG_WATCHDOG_MS 1000 /* hardware watchdog, fed by a healthy scheduler loop */
#endif

/* Storage class of the few variables that must survive a watchdog reset (the running task's
 * index, for the crash record): the RP2040 port's .noinit section (not zeroed by crt0). */
#ifndef CONFIG_NOINIT
#if defined(PICOD_TARGET_RP2040)
#define CONFIG_NOINIT __attribute__((section(".noinit")))
#else
#define CONFIG_NOINIT
#endif
#endif

/* ---- host link ---- */
#ifndef CONFIG_TXQ_SLOTS
#define CONFIG_TXQ_SLOTS 6 /* encoded frames waiting for the host (responses + events) */
#endif
#ifndef CONFIG_LINK_RX_CHUNK
#define CONFIG_LINK_RX_CHUNK 64 /* bytes read from the port per step */
#endif
/* Fairness under load (docs/FIRMWARE.md): the most work one run of the link task may do, so
 * that a host sending at full speed - valid frames or garbage - cannot starve other tasks
 * (every run <= 50 us on the RP2040, bench/flood_bench.mjs). One frame per run at most. */
#ifndef CONFIG_LINK_RX_BYTES
#define CONFIG_LINK_RX_BYTES 48 /* bytes taken from the port per run, whatever they are */
#endif
#ifndef CONFIG_LINK_ANSWER_INLINE
#define CONFIG_LINK_ANSWER_INLINE 32 /* a longer answer is framed in a run of its own */
#endif
#ifndef CONFIG_LINK_FRAME_STEP
#define CONFIG_LINK_FRAME_STEP 64 /* bytes of such framing work per run (CRC, then COBS) */
#endif
#ifndef CONFIG_LINK_TX_BYTES
#define CONFIG_LINK_TX_BYTES 128 /* bytes handed to the port per run */
#endif
/* Bytes of answer kept per exactly-once window slot (PROTO_SEQ_WINDOW slots): the largest
 * answer a host may ask for again, I2C_XFER's 1 + 128 (PING is echoed, HELLO never repeated). */
#ifndef CONFIG_LINK_WINDOW_BODY
#define CONFIG_LINK_WINDOW_BODY 129
#endif
#ifndef CONFIG_HOST_TIMEOUT_MS
#define CONFIG_HOST_TIMEOUT_MS 3000 /* host watchdog when HELLO says 0 */
#endif
#ifndef CONFIG_HOST_TIMEOUT_MIN_MS
#define CONFIG_HOST_TIMEOUT_MIN_MS 100
#endif

/* ---- button ---- */
#ifndef CONFIG_BUTTON_DEBOUNCE_US
#define CONFIG_BUTTON_DEBOUNCE_US 20000 /* level must be stable this long */
#endif
#ifndef CONFIG_BUTTON_LONG_US
#define CONFIG_BUTTON_LONG_US 1000000 /* held this long -> LONG */
#endif
#ifndef CONFIG_BUTTON_DOUBLE_US
#define CONFIG_BUTTON_DOUBLE_US 400000 /* second press within this of the first -> DOUBLE */
#endif
#ifndef CONFIG_BUTTON_EDGES
#define CONFIG_BUTTON_EDGES 8 /* raw edges buffered between ISR and task */
#endif

/* ---- I2C and sensors ---- */
#ifndef CONFIG_MAX_SENSORS
#define CONFIG_MAX_SENSORS 4
#endif
#ifndef CONFIG_I2C_TIMEOUT_US
#define CONFIG_I2C_TIMEOUT_US 25000 /* one transfer, start to stop */
#endif
#ifndef CONFIG_SENSOR_JOBS
#define CONFIG_SENSOR_JOBS 2 /* host I2C/READ_SENSORS requests queued for the sensor task */
#endif
#ifndef CONFIG_LINK_DRAIN_US
#define CONFIG_LINK_DRAIN_US 100000u /* longest wait for the host to take the last frame */
#endif

#ifndef CONFIG_POLL_MIN_MS
#define CONFIG_POLL_MIN_MS 50 /* shortest SET_POLL interval accepted */
#endif

/* ---- debug ---- */
#ifndef CONFIG_DEBUG_REQUESTS
#define CONFIG_DEBUG_REQUESTS 0 /* 1: accept DEBUG requests (HANG/FAULT/SILENT), caps DEBUG */
#endif

#endif /* PICOD_CORE_CONFIG_H */
