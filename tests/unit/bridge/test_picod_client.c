/* Unit tests of picod_client: socket path precedence, request encoding, line splitting,
 * message classification and error extraction. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "picod_client.h"

static void test_default_path(void **state)
{
    char p[64];

    (void)state;
    setenv("PICOD_SOCKET", "/env.sock", 1);
    setenv("RUNTIME_DIRECTORY", "/run/other", 1);
    picod_client_default_path("/given.sock", p, sizeof(p));
    assert_string_equal(p, "/given.sock");
    picod_client_default_path(NULL, p, sizeof(p));
    assert_string_equal(p, "/env.sock");
    unsetenv("PICOD_SOCKET");
    picod_client_default_path("", p, sizeof(p));
    assert_string_equal(p, "/run/picod/picod.sock"); /* never the client's RUNTIME_DIRECTORY */
}

static void test_encode(void **state)
{
    json_t *args = json_pack("{s:s, s:s, s:i}", "board", "0123", "cmd", "ignored", "id", 99);
    size_t len = 0;
    char *s = picod_client_encode("led", 7, args, &len);
    json_t *j;

    (void)state;
    assert_non_null(s);
    assert_int_equal(s[len - 1], '\n');
    j = json_loadb(s, len - 1, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "cmd")), "led");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 7);
    assert_string_equal(json_string_value(json_object_get(j, "board")), "0123");
    json_decref(j);
    json_decref(args);
    free(s);
    s = picod_client_encode("version", 1, NULL, &len);
    assert_memory_equal(s, "{\"cmd\":\"version\",\"id\":1}\n", len);
    free(s);
}

static void feed(picod_client_buf_t *b, const char *bytes)
{
    size_t n = strlen(bytes);

    assert_int_equal(picod_client_buf_reserve(b, n), 0);
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

static void test_lines_across_chunks(void **state)
{
    picod_client_buf_t b;
    json_t *j = NULL;

    (void)state;
    picod_client_buf_init(&b);
    feed(&b, "{\"id\":1,\"ok\":tr");
    assert_int_equal(picod_client_buf_take(&b, &j), 0); /* not a whole line yet */
    feed(&b, "ue,\"result\":{}}\n\n{\"event\":\"button\"}\nnot json\n{\"x\":1}\n");
    assert_int_equal(picod_client_buf_take(&b, &j), 1);
    assert_int_equal(picod_client_classify(j), PICOD_MSG_RESPONSE);
    assert_int_equal(picod_client_response_id(j), 1);
    json_decref(j);
    assert_int_equal(picod_client_buf_take(&b, &j), 1); /* the empty line was skipped */
    assert_int_equal(picod_client_classify(j), PICOD_MSG_EVENT);
    json_decref(j);
    assert_int_equal(picod_client_buf_take(&b, &j), -EBADMSG); /* consumed, the rest stays */
    assert_int_equal(picod_client_buf_take(&b, &j), 1);
    assert_int_equal(picod_client_classify(j), PICOD_MSG_INVALID);
    json_decref(j);
    assert_int_equal(picod_client_buf_take(&b, &j), 0);
    assert_int_equal(b.len, 0);
    picod_client_buf_free(&b);
}

static void test_reserve_bound(void **state)
{
    picod_client_buf_t b;

    (void)state;
    picod_client_buf_init(&b);
    assert_int_equal(picod_client_buf_reserve(&b, 100), 0);
    assert_true(b.cap >= 100);
    assert_int_equal(picod_client_buf_reserve(&b, PICOD_CLIENT_LINE_MAX + 1), -EMSGSIZE);
    picod_client_buf_free(&b);
    picod_client_buf_free(NULL); /* destructors accept NULL */
}

static void test_error(void **state)
{
    json_t *ok = json_pack("{s:i, s:b, s:{}}", "id", 1, "ok", 1, "result");
    json_t *bad = json_pack("{s:i, s:b, s:{s:s, s:s}}", "id", 2, "ok", 0, "error", "code", "denied",
                            "message", "uid 1000 may read");
    json_t *bare = json_pack("{s:n, s:b}", "id", "ok", 0);
    const char *code = "untouched", *msg = NULL;

    (void)state;
    assert_false(picod_client_error(ok, &code, &msg));
    assert_string_equal(code, "untouched");
    assert_true(picod_client_error(bad, &code, &msg));
    assert_string_equal(code, "denied");
    assert_string_equal(msg, "uid 1000 may read");
    assert_true(picod_client_error(bare, &code, &msg));
    assert_string_equal(code, "internal");
    assert_int_equal(picod_client_response_id(bare), -1);
    json_decref(ok);
    json_decref(bad);
    json_decref(bare);
}

static void test_connect_errors(void **state)
{
    char longpath[200];

    (void)state;
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(picod_client_connect(longpath, false), -ENAMETOOLONG);
    assert_int_equal(picod_client_connect("/nonexistent/picod.sock", true), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_lines_across_chunks),
        cmocka_unit_test(test_reserve_bound),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_connect_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
