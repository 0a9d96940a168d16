/*
 * main.c - picosim's startup: command line, pty, control socket, then app_main().
 *
 *   picosim --pty PATH [--control SOCKPATH] [--id HEX16] [--log-level N]
 *
 * A reboot (control `reset`, REBOOT request, watchdog, fault) re-executes the program with
 * the pty master and the control sockets inherited, so the symlink, the host's open tty and
 * the test's control connection survive while every bit of firmware state is lost. What
 * the next boot needs to know travels in PICOSIM_* environment variables.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "picosim.h"
#include "sched.h"

sim_t sim;
extern char **environ;

uint64_t sim_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sim_log(int level, const char *fmt, ...)
{
    if (level > sim.log_level)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fprintf(stderr, "picosim: %s\n", buf);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: picosim --pty PATH [--control SOCKPATH] [--id HEX16] [--log-level N]\n"
               "               [--clock-ppm PPM]\n"
               "  Runs the picod firmware core on a pseudo-terminal (symlinked at PATH).\n"
               "  --clock-ppm: the board clock runs PPM (-10000..10000) fast, like a crystal\n"
               "  that far off (negative: slow).\n");
}

/* ---- re-exec (async-signal-safe: no allocation, no stdio) ---------------------------------- */

static char env_state[256];
static char *env_ptrs[512];

static char *put_hex(char *p, uint32_t v)
{
    for (int s = 28; s >= 0; s -= 4)
        *p++ = "0123456789abcdef"[(v >> s) & 0xf];
    return p;
}

static char *put_str(char *p, const char *s)
{
    while (*s)
        *p++ = *s++;
    return p;
}

void sim_reexec(uint8_t cause)
{
    /* PICOSIM_STATE=cause:master:listen:openers:crashkind:task:pc:lr:uptime:nack:c0:c1..c7 */
    char *p = put_str(env_state, "PICOSIM_STATE=");
    const uint32_t v[9] = {cause,
                           (uint32_t)sim.master,
                           (uint32_t)sim.listen_fd,
                           (uint32_t)(sim.openers > 0 ? sim.openers : 0),
                           sim.crash.kind,
                           sim.crash.task,
                           sim.crash.pc,
                           sim.crash.lr,
                           sim.crash.uptime_ms};
    for (int i = 0; i < 9; i++) {
        p = put_hex(p, v[i]);
        *p++ = ':';
    }
    for (int i = 0; i < SIM_MAX_CLIENTS; i++) {
        p = put_hex(p, (uint32_t)sim.clients[i].fd);
        *p++ = i + 1 < SIM_MAX_CLIENTS ? ':' : '\0';
    }
    size_t n = 0;
    for (char **e = environ; *e && n < 500; e++) {
        if (strncmp(*e, "PICOSIM_STATE=", 14) != 0)
            env_ptrs[n++] = *e;
    }
    env_ptrs[n++] = env_state;
    env_ptrs[n] = NULL;
    /* Interval timers survive execve while the SIGALRM handler does not: stop the watchdog
     * tick or the new image dies of SIGALRM before it installs its handler. */
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    execve("/proc/self/exe", sim.argv, env_ptrs);
    _exit(70);
}

static void fault_signal(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)si;
    sim.crash.kind = PROTO_FAULT_HARDFAULT;
    sim.crash.task = sched_running_id;
#if defined(__x86_64__)
    ucontext_t *uc = ctx;
    sim.crash.pc = (uint32_t)uc->uc_mcontext.gregs[REG_RIP];
    sim.crash.lr = (uint32_t) * (uint64_t *)(uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#else
    (void)ctx;
#endif
    sim.crash.uptime_ms = hal_time_us() / 1000u;
    sim_reexec(PROTO_RESET_FAULT);
}

/* The environment the simulated sensors see survives a reboot (it is not board state). */
static void env_save(void)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%.4f:%.4f:%.2f:%.4f:%.4f", sim.env.temp_c, sim.env.humidity_pct,
             sim.env.pressure_pa, sim.env.sht_temp_c, sim.env.sht_humidity_pct);
    setenv("PICOSIM_ENV", buf, 1);
}

static bool restore_state(void)
{
    const char *e = getenv("PICOSIM_ENV");
    /* Written by ourselves before a simulated reboot, not user input. */
    if (e) // NOLINTNEXTLINE(cert-err34-c)
        sscanf(e, "%lf:%lf:%lf:%lf:%lf", &sim.env.temp_c, &sim.env.humidity_pct,
               &sim.env.pressure_pa, &sim.env.sht_temp_c, &sim.env.sht_humidity_pct);
    const char *s = getenv("PICOSIM_STATE");
    if (!s)
        return false;
    unsigned v[9 + SIM_MAX_CLIENTS];
    int n = 0;
    for (const char *p = s; n < 9 + SIM_MAX_CLIENTS && *p; n++) {
        v[n] = (unsigned)strtoul(p, (char **)&p, 16);
        if (*p == ':')
            p++;
    }
    if (n != 9 + SIM_MAX_CLIENTS)
        return false;
    sim.reset_cause = (uint8_t)v[0];
    sim.master = (int)v[1];
    sim.listen_fd = (int)v[2];
    sim.openers = (int)v[3];
    sim.crash.kind = (uint8_t)v[4];
    sim.crash.task = (uint8_t)v[5];
    sim.crash.pc = v[6];
    sim.crash.lr = v[7];
    sim.crash.uptime_ms = v[8];
    for (int i = 0; i < SIM_MAX_CLIENTS; i++)
        sim.clients[i].fd = (int)v[9 + i];
    unsetenv("PICOSIM_STATE");
    const char *boot = getenv("PICOSIM_BOOT_SILENT_MS");
    if (boot) {
        sim.boot_silent_ns = (uint64_t)strtoul(boot, NULL, 10) * 1000000u;
        unsetenv("PICOSIM_BOOT_SILENT_MS");
    }
    return true;
}

/* ---- setup ---------------------------------------------------------------------------------- */

static int make_pty(void)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
        fprintf(stderr, "picosim: cannot create a pty: %s\n", strerror(errno));
        return -1;
    }
    struct termios tio;
    if (tcgetattr(m, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(m, TCSANOW, &tio);
    }
    sim.master = m;
    return 0;
}

static int make_link(void)
{
    const char *name = ptsname(sim.master);
    if (!name) {
        fprintf(stderr, "picosim: ptsname: %s\n", strerror(errno));
        return -1;
    }
    snprintf(sim.slave_name, sizeof(sim.slave_name), "%s", name);
    struct stat st;
    if (lstat(sim.pty_link, &st) == 0 && !S_ISLNK(st.st_mode)) {
        fprintf(stderr, "picosim: %s exists and is not a symlink; not replacing it\n",
                sim.pty_link);
        return -1;
    }
    unlink(sim.pty_link);
    if (symlink(sim.slave_name, sim.pty_link) < 0) {
        fprintf(stderr, "picosim: symlink %s: %s\n", sim.pty_link, strerror(errno));
        return -1;
    }
    return 0;
}

static int make_control(void)
{
    sim.listen_fd = -1;
    if (!sim.ctl_path[0])
        return 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(sim.ctl_path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "picosim: control socket path too long\n");
        return -1;
    }
    memcpy(sa.sun_path, sim.ctl_path, strlen(sim.ctl_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    unlink(sim.ctl_path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
        fprintf(stderr, "picosim: control socket %s: %s\n", sim.ctl_path, strerror(errno));
        return -1;
    }
    sim.listen_fd = fd;
    return 0;
}

static void id_from_path(const char *path)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
    for (const char *p = path; *p; p++) {
        h ^= (uint8_t)*p;
        h *= 0x100000001b3ull;
    }
    for (int i = 0; i < 8; i++)
        sim.board_id[i] = (uint8_t)(h >> (56 - 8 * i));
}

static int parse_id(const char *s)
{
    if (strlen(s) != 16)
        return -1;
    for (size_t i = 0; i < 8; i++) {
        char hex[3] = {s[2 * i], s[2 * i + 1], 0};
        char *end;
        unsigned long v = strtoul(hex, &end, 16);
        if (*end)
            return -1;
        sim.board_id[i] = (uint8_t)v;
    }
    return 0;
}

void sim_cleanup(void)
{
    unlink(sim.pty_link);
    if (sim.ctl_path[0])
        unlink(sim.ctl_path);
}

static void term_signal(int sig)
{
    (void)sig;
    unlink(sim.pty_link);
    if (sim.ctl_path[0])
        unlink(sim.ctl_path);
    _exit(0);
}

static int parse_args(int argc, char **argv, const char **id)
{
    static const struct option opts[] = {
        {"pty", required_argument, 0, 'p'},
        {"control", required_argument, 0, 'c'},
        {"id", required_argument, 0, 'i'},
        {"log-level", required_argument, 0, 'l'},
        {"clock-ppm", required_argument, 0, 'k'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int o;
    sim.log_level = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'p':
            snprintf(sim.pty_link, sizeof(sim.pty_link), "%s", optarg);
            break;
        case 'c':
            snprintf(sim.ctl_path, sizeof(sim.ctl_path), "%s", optarg);
            break;
        case 'i':
            *id = optarg;
            break;
        case 'l': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || v < 0 || v > 3) {
                fprintf(stderr, "picosim: --log-level wants 0..3, not '%s'\n", optarg);
                exit(2);
            }
            sim.log_level = (int)v;
            break;
        }
        case 'k': {
            char *end;
            double v = strtod(optarg, &end);
            if (*optarg == '\0' || *end || !(v >= -10000 && v <= 10000)) {
                fprintf(stderr, "picosim: --clock-ppm wants -10000..10000, not '%s'\n", optarg);
                exit(2);
            }
            sim.clock_ppm = v;
            break;
        }
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (!sim.pty_link[0] || optind != argc) {
        usage(stderr);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *id = NULL;
    sim.argv = argv;
    signal(SIGALRM, SIG_IGN); /* until the watchdog's handler is installed */
    for (int i = 0; i < SIM_MAX_CLIENTS; i++)
        sim.clients[i].fd = -1;
    sim.env = (sim_env_t){21.5, 45.0, 101325.0, 22.0, 40.0, false};
    sim.click_fd = -1;
    if (parse_args(argc, argv, &id) < 0)
        return 2;
    if (id && parse_id(id) < 0) {
        fprintf(stderr, "picosim: --id wants 16 hex digits, got '%s'\n", id);
        return 2;
    }
    if (!id)
        id_from_path(sim.pty_link);
    bool rebooted = restore_state();
    if (!rebooted) {
        sim.reset_cause = PROTO_RESET_POWER_ON;
        if (make_pty() < 0 || make_link() < 0 || make_control() < 0)
            return 1;
    } else {
        const char *name = ptsname(sim.master);
        snprintf(sim.slave_name, sizeof(sim.slave_name), "%s", name ? name : "");
    }
    env_save();
    sim.ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    sim.ino_wd = inotify_add_watch(sim.ino, sim.slave_name, IN_OPEN | IN_CLOSE);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = term_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = fault_signal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    /* signals blocked in a handler that exec'd stay blocked in the new image: unblock */
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);

    sim_log(rebooted ? 1 : 2, "%s (reset cause %u)", rebooted ? "rebooted" : "booting",
            sim.reset_cause);
    fprintf(stderr, "picosim: ready pty=%s\n", sim.pty_link);
    fflush(stderr);
    app_main();
    return 0;
}
