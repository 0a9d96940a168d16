/* Unit tests of options: defaults, parsing, socket path precedence, bad values. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "options.h"

static int parse(options_t *o, int argc, const char **argv)
{
    options_defaults(o);
    return options_parse(o, argc, (char **)argv);
}

static void test_devices_and_numbers(void **state)
{
    const char *argv[] = {"picod", "-d", "/dev/a", "--device", "/dev/b", "--heartbeat-ms", "200"};
    options_t o;

    (void)state;
    assert_int_equal(parse(&o, 7, argv), 0);
    assert_int_equal(o.n_devices, 2);
    assert_string_equal(o.devices[1], "/dev/b");
    assert_int_equal(o.heartbeat_ms, 200);
    assert_int_equal(o.poll_ms, 2000);
}

static void test_bad_values(void **state)
{
    const char *a1[] = {"picod", "--heartbeat-ms", "abc"};
    const char *a2[] = {"picod", "--poll-ms", "-5"};
    const char *a3[] = {"picod", "stray"};
    const char *a4[] = {"picod", "--stale-misses", "9", "--offline-misses", "5"};
    options_t o;

    (void)state;
    assert_int_equal(parse(&o, 3, a1), -EINVAL);
    assert_int_equal(parse(&o, 3, a2), -EINVAL);
    assert_int_equal(parse(&o, 2, a3), -EINVAL);
    assert_int_equal(parse(&o, 5, a4), -EINVAL);
}

static void test_socket_precedence(void **state)
{
    const char *argv[] = {"picod", "--socket", "/x/cli.sock"};
    options_t o;

    (void)state;
    unsetenv("PICOD_SOCKET");
    unsetenv("RUNTIME_DIRECTORY");
    parse(&o, 1, argv);
    options_resolve_socket(&o);
    assert_string_equal(o.socket_path, "/run/picod/picod.sock");
    setenv("RUNTIME_DIRECTORY", "/run/rt:/run/other", 1);
    parse(&o, 1, argv);
    options_resolve_socket(&o);
    assert_string_equal(o.socket_path, "/run/rt/picod.sock");
    setenv("PICOD_SOCKET", "/env.sock", 1);
    parse(&o, 1, argv);
    options_resolve_socket(&o);
    assert_string_equal(o.socket_path, "/env.sock");
    parse(&o, 3, argv);
    options_resolve_socket(&o);
    assert_string_equal(o.socket_path, "/x/cli.sock");
}

/* A config file with text; returns its path in path (a mkstemp template). */
static void write_conf(char *path, const char *text)
{
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_config_file(void **state)
{
    char path[] = "/tmp/picod-test-XXXXXX";
    const char *argv[] = {"picod", "--config", path, "--poll-ms", "300"};
    const char *text = "[picod]\ndevice = /dev/ttyACM7\npoll-ms = 900\nheartbeat-ms = 250\n";
    options_t o;

    (void)state;
    write_conf(path, text);
    assert_int_equal(parse(&o, 5, argv), 0);
    assert_int_equal(o.n_devices, 1);
    assert_string_equal(o.devices[0], "/dev/ttyACM7");
    assert_int_equal(o.heartbeat_ms, 250);
    assert_int_equal(o.poll_ms, 300); /* the later command-line option wins */
    unlink(path);
}

static void test_allow_lists(void **state)
{
    const char *argv[] = {"picod",           "--allow-usb",         "2e8a:0005",
                          "--allow-usb",     "2E8A:000c,0403:6001", "--allow-serial",
                          "e6614c311b7e6f35"};
    options_t o;

    (void)state;
    assert_int_equal(parse(&o, 7, argv), 0);
    assert_int_equal(o.n_allow_usb, 3);
    assert_int_equal(o.allow_usb[0].vid, 0x2e8a);
    assert_int_equal(o.allow_usb[0].pid, 0x0005);
    assert_int_equal(o.allow_usb[1].pid, 0x000c);
    assert_int_equal(o.allow_usb[2].vid, 0x0403);
    assert_int_equal(o.allow_usb[2].pid, 0x6001);
    assert_int_equal(o.n_allow_serial, 1);
    assert_string_equal(o.allow_serial[0], "e6614c311b7e6f35");
    /* Nothing is allowed by default. */
    assert_int_equal(parse(&o, 1, argv), 0);
    assert_int_equal(o.n_allow_usb, 0);
    assert_int_equal(o.n_allow_serial, 0);
}

static void test_allow_bad_values(void **state)
{
    static const char *bad_usb[] = {"2e8a",      "2e8a:",     ":0005", "2e8a:05", "2e8a:00005",
                                    "2e8g:0005", "2e8a-0005", "",      " , "};
    char long_serial[OPTIONS_SERIAL_MAX + 1];
    options_t o;

    (void)state;
    for (size_t i = 0; i < sizeof(bad_usb) / sizeof(bad_usb[0]); i++) {
        const char *argv[] = {"picod", "--allow-usb", bad_usb[i]};

        assert_int_equal(parse(&o, 3, argv), -EINVAL);
    }
    memset(long_serial, 'a', OPTIONS_SERIAL_MAX);
    long_serial[OPTIONS_SERIAL_MAX] = '\0';
    {
        const char *argv[] = {"picod", "--allow-serial", long_serial};

        assert_int_equal(parse(&o, 3, argv), -EINVAL);
    }
    {
        const char *argv[] = {"picod", "--allow-serial", ""};

        assert_int_equal(parse(&o, 3, argv), -EINVAL);
    }
    /* More than OPTIONS_MAX_ALLOW entries: refused, not truncated. */
    {
        char many[OPTIONS_MAX_ALLOW * 10 + 16] = "";
        const char *argv[] = {"picod", "--allow-usb", many};

        for (int i = 0; i <= OPTIONS_MAX_ALLOW; i++)
            strcat(many, "2e8a:0005,");
        assert_int_equal(parse(&o, 3, argv), -EINVAL);
    }
}

static void test_allow_in_config_file(void **state)
{
    char path[] = "/tmp/picod-test-XXXXXX";
    const char *argv[] = {"picod", "--config", path, "--allow-usb", "2e8a:000a"};
    const char *text = "[picod]\nallow-usb = 2e8a:0005, 2e8a:000c\nallow-serial = E66138\n"
                       "allow-serial = A10K XYZ\n";
    options_t o;

    (void)state;
    write_conf(path, text);
    assert_int_equal(parse(&o, 5, argv), 0);
    assert_int_equal(o.n_allow_usb, 3);
    assert_int_equal(o.allow_usb[1].pid, 0x000c);
    assert_int_equal(o.allow_usb[2].pid, 0x000a); /* the command line adds to the file's */
    assert_int_equal(o.n_allow_serial, 3);
    assert_string_equal(o.allow_serial[0], "E66138");
    assert_string_equal(o.allow_serial[1], "A10K");
    assert_string_equal(o.allow_serial[2], "XYZ");
    unlink(path);
}

static void test_client_limits_and_access(void **state)
{
    const char *argv[] = {"picod", "--out-budget",    "2097152", "--client-requests-max",
                          "3",     "--actuate-group", "picod"};
    const char *small[] = {"picod", "--client-out-max", "1048576", "--out-budget", "65536"};
    const char *zero[] = {"picod", "--client-requests-max", "0"};
    options_t o;

    (void)state;
    assert_int_equal(parse(&o, 1, argv), 0);
    assert_int_equal(o.max_clients, 256);
    assert_int_equal(o.client_out_max, 1024 * 1024);
    assert_int_equal(o.out_budget, 16 * 1024 * 1024);
    assert_int_equal(o.client_requests_max, 8);
    assert_string_equal(o.actuate_group, "");
    assert_int_equal(parse(&o, 7, argv), 0);
    assert_int_equal(o.out_budget, 2097152);
    assert_int_equal(o.client_requests_max, 3);
    assert_string_equal(o.actuate_group, "picod");
    assert_int_equal(parse(&o, 5, small), -EINVAL); /* budget below one client's bound */
    assert_int_equal(parse(&o, 3, zero), -EINVAL);
}

/* SIGHUP parses the same argv again: the file is re-read where --config stood, and a bad
 * line fails the parse (the caller then keeps its settings). */
static void test_config_reread_and_underscores(void **state)
{
    char path[] = "/tmp/picod-test-XXXXXX";
    const char *argv[] = {"picod", "--config", path};
    const char *good = "[picod]\nactuate_group = users\nclient_requests_max = 4\n";
    const char *bad = "[picod]\nclient-requests-max = 5\nmax-clients = lots\n";
    options_t o;

    (void)state;
    write_conf(path, good);
    assert_int_equal(parse(&o, 3, argv), 0);
    assert_string_equal(o.config_path, path);
    assert_string_equal(o.actuate_group, "users");
    assert_int_equal(o.client_requests_max, 4);
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    assert_int_equal(parse(&o, 3, argv), -EINVAL);
    unlink(path);
}

/* o.error after loading text: "" when it loaded. */
static int load_text(options_t *o, const char *text, char *where, size_t cap)
{
    char path[] = "/tmp/picod-test-XXXXXX";
    int r;

    write_conf(path, text);
    options_defaults(o);
    r = options_load_file(o, path);
    snprintf(where, cap, "%s", path);
    unlink(path);
    return r;
}

static void test_board_sections(void **state)
{
    const char *text = "[picod]\npoll-ms = 700\nsensors = 1, 3\n\n"
                       "[board bench]\nid = A1A2A3A4A5A6A7A8\npoll-ms = 250\nsensors = none\n"
                       "[ board  lab.2 ]\nid = b1b2b3b4b5b6b7b8\nheartbeat_ms = 300\n";
    const options_board_t *nb;
    char path[64];
    options_t o;

    (void)state;
    assert_int_equal(load_text(&o, text, path, sizeof(path)), 0);
    assert_string_equal(o.error, "");
    assert_int_equal(o.poll_ms, 700);
    assert_int_equal(o.poll_sensors, (1u << 1) | (1u << 3));
    assert_int_equal(o.n_named, 2);
    nb = options_named_by_name(&o, "bench");
    assert_non_null(nb);
    assert_string_equal(nb->id, "a1a2a3a4a5a6a7a8"); /* lower-cased, as picod prints ids */
    assert_int_equal(nb->poll_ms, 250);
    assert_int_equal(nb->heartbeat_ms, 0); /* inherits */
    assert_true(nb->has_sensors);
    assert_int_equal(nb->poll_sensors, 0);
    nb = options_named_by_id(&o, "b1b2b3b4b5b6b7b8");
    assert_non_null(nb);
    assert_string_equal(nb->name, "lab.2");
    assert_int_equal(nb->heartbeat_ms, 300);
    assert_false(nb->has_sensors);
    assert_null(options_named_by_name(&o, "nosuch"));
}

static void test_board_section_errors(void **state)
{
    static const struct {
        const char *text;
        int line;
        const char *what;
    } cases[] = {
        {"[board x]\nid = 12\n", 2, "16 hex digits"},
        {"[board x]\nid = a1a2a3a4a5a6a7a8\n[board x]\nid = b1b2b3b4b5b6b7b8\n", 4,
         "appears twice"},
        {"[board x]\nid = a1a2a3a4a5a6a7a8\n[board y]\nid = A1A2A3A4A5A6A7A8\n", 4,
         "already named 'x'"},
        {"[board x y]\nid = a1a2a3a4a5a6a7a8\n", 2, "board name"},
        {"[board _x]\nid = a1a2a3a4a5a6a7a8\n", 2, "board name"},
        {"[board abcdefabcdefabcd]\nid = a1a2a3a4a5a6a7a8\n", 2, "board name"},
        {"[board x]\nid = a1a2a3a4a5a6a7a8\nled = on\n", 3, "unknown key 'led'"},
        {"[board x]\npoll-ms = 300\n", 2, "has no id"},
        {"[board x]\nid = a1a2a3a4a5a6a7a8\npoll-ms = 10\n", 3, "poll-ms"},
        {"[picod]\n\n; c\nsensors = 0, 8\n", 4, "sensors"},
        {"[picod]\nsensors = ,\n", 2, "empty value"},
        {"[picod]\nno equals here\n", 2, "syntax error"},
        {"[other]\nx = 1\n", 2, "unknown section"},
    };
    char path[64], want[128];
    options_t o;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(load_text(&o, cases[i].text, path, sizeof(path)), -EINVAL);
        snprintf(want, sizeof(want), "%s:%d: ", path, cases[i].line);
        if (strncmp(o.error, want, strlen(want)) != 0 || !strstr(o.error, cases[i].what))
            fail_msg("case %zu: error '%s', want '%s...%s'", i, o.error, want, cases[i].what);
        assert_string_equal(o.where, ""); /* later command-line errors say "picod:" */
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_true(options_name_valid("bench"));
    assert_true(options_name_valid("Lab-2.a_b"));
    assert_true(options_name_valid("abcdefabcdefabc"));   /* 15 hex: not an id */
    assert_true(options_name_valid("abcdefabcdefabcdx")); /* 17 chars */
    assert_false(options_name_valid(""));
    assert_false(options_name_valid("2x"));
    assert_false(options_name_valid("a b"));
    assert_false(options_name_valid("a/b"));
    assert_false(options_name_valid("abcdefabcdefabcd")); /* reads as an id */
    assert_false(options_name_valid("a234567890123456789012345678901"
                                    "2")); /* 32 characters */
    assert_true(options_name_valid("a234567890123456789012345678901"));
}

/* --check-config FILE: 1 (exit 0) for a good file, -EINVAL for a bad one, and command-line
 * errors keep saying "picod:". */
static void test_check_config(void **state)
{
    char good[] = "/tmp/picod-test-XXXXXX", bad[] = "/tmp/picod-test-XXXXXX";
    const char *a1[] = {"picod", "--check-config", good};
    const char *a2[] = {"picod", "--check-config", bad};
    const char *a3[] = {"picod", "--poll-ms", "x"};
    options_t o;

    (void)state;
    write_conf(good, "[picod]\npoll-ms = 500\n[board b]\nid = a1a2a3a4a5a6a7a8\n");
    write_conf(bad, "[picod]\nstale-misses = 9\noffline-misses = 4\n");
    assert_int_equal(parse(&o, 3, a1), 1);
    assert_int_equal(parse(&o, 3, a2), -EINVAL);
    assert_int_equal(parse(&o, 3, a3), -EINVAL);
    assert_string_equal(o.error, "picod: poll-ms: expected an integer 50..3600000, got 'x'");
    unlink(good);
    unlink(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devices_and_numbers),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_socket_precedence),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_allow_lists),
        cmocka_unit_test(test_allow_bad_values),
        cmocka_unit_test(test_allow_in_config_file),
        cmocka_unit_test(test_client_limits_and_access),
        cmocka_unit_test(test_config_reread_and_underscores),
        cmocka_unit_test(test_board_sections),
        cmocka_unit_test(test_board_section_errors),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_check_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
