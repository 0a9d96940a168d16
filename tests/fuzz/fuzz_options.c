/*
 * fuzz_options.c - fuzz target for picod's configuration (daemon/options.c): the INI file
 * ([picod] keys, [board NAME] sections, through inih) and the command line (getopt_long, every
 * option's value parser), then the checks across settings.
 *
 * Input: the config file's text up to the first NUL byte, then command-line arguments
 * separated by NUL bytes (at most 32); an argument "@" stands for the config file's path, so
 * "--config" NUL "@" reads it from the command line. Each input is parsed twice from the
 * defaults: the file alone (options_load_file + options_validate, as SIGHUP and --check-config
 * do) and the command line (options_parse, as at start). Checked: no sanitizer error, every
 * result is 0 or a negative errno with a message in o->error, and the strings picod keeps are
 * terminated within their arrays.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 32

static void check_terminated(const char *s, size_t cap)
{
    if (!memchr(s, '\0', cap))
        abort();
}

static void check(const options_t *o, int r, bool from_argv)
{
    if (r < 0 && !o->error[0] && !from_argv)
        abort(); /* a refusal always says why (options_parse's usage errors print usage) */
    if (r > 1 || (r == 1 && !from_argv))
        abort();
    check_terminated(o->error, sizeof(o->error));
    check_terminated(o->socket_path, sizeof(o->socket_path));
    check_terminated(o->config_path, sizeof(o->config_path));
    check_terminated(o->actuate_group, sizeof(o->actuate_group));
    if (o->n_devices > OPTIONS_MAX_DEVICES || o->n_named > OPTIONS_MAX_NAMED ||
        o->n_allow_usb > OPTIONS_MAX_ALLOW || o->n_allow_serial > OPTIONS_MAX_ALLOW)
        abort();
    for (size_t i = 0; i < o->n_named; i++) {
        check_terminated(o->named[i].name, sizeof(o->named[i].name));
        check_terminated(o->named[i].id, sizeof(o->named[i].id));
        if (r == 0 && (!options_name_valid(o->named[i].name) ||
                       options_named_by_name(o, o->named[i].name) == NULL))
            abort(); /* an accepted file has only valid, findable names */
    }
    for (size_t i = 0; i < o->n_allow_serial; i++)
        check_terminated(o->allow_serial[i], sizeof(o->allow_serial[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int memfd = -1;
    static char path[64];
    static options_t o; /* large */
    if (memfd < 0) {
        memfd = memfd_create("picod-fuzz.conf", MFD_CLOEXEC);
        if (memfd < 0)
            abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
    }
    if (size > 64 * 1024)
        return -1;
    const uint8_t *nul = memchr(data, '\0', size);
    size_t conf_len = nul ? (size_t)(nul - data) : size;
    if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, conf_len, 0) != (ssize_t)conf_len)
        abort();

    /* 1. the file alone */
    options_defaults(&o);
    int r = options_load_file(&o, path);
    if (r == 0)
        r = options_validate(&o);
    check(&o, r, false);

    /* 2. the command line */
    static char buf[64 * 1024 + 1];
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)"picod";
    if (nul) {
        size_t n = size - conf_len - 1;
        memcpy(buf, nul + 1, n);
        buf[n] = '\0';
        for (char *p = buf; p <= buf + n && argc <= MAX_ARGS; p += strlen(p) + 1)
            argv[argc++] = strcmp(p, "@") == 0 ? path : p;
    }
    argv[argc] = NULL;
    /* getopt keeps a pointer into the last argv it saw (an option cluster cut short by an
     * error): start it afresh, as a new process would. */
    optind = 0;
    opterr = 0;
    char *reset[] = {(char *)"picod", NULL};
    (void)getopt(1, reset, "");
    opterr = 1;
    options_defaults(&o);
    r = options_parse(&o, argc, argv);
    check(&o, r, true);
    if (r == 0) {
        options_resolve_socket(&o);
        check_terminated(o.socket_path, sizeof(o.socket_path));
    }
    return 0;
}
