/* test_config.c - the settings table and its three sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

static void test_defaults(void **state)
{
    struct config c;
    config_defaults(&c);
    assert_string_equal(c.data_dir, "./citybrain-data");
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_int_equal(c.sync_full, 1);
    assert_true(c.max_body_bytes > 0);
    config_release(&c);
}

static void test_file_env_flags_in_order(void **state)
{
    char path[] = "/tmp/citybrain-conf-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("# comment\nlisten = 0.0.0.0:9000\nqueue_max = 7  # trailing\n"
          "sync = normal\n",
          f);
    fclose(f);
    struct config c;
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, path), 0);
    assert_string_equal(c.listen, "0.0.0.0:9000");
    assert_int_equal(c.queue_max, 7);
    assert_int_equal(c.sync_full, 0);
    setenv("CITYBRAIN_QUEUE_MAX", "9", 1);
    assert_int_equal(config_load_env(&c), 0);
    assert_int_equal(c.queue_max, 9);
    unsetenv("CITYBRAIN_QUEUE_MAX");
    char *argv[] = {"--queue_max", "11", "--other", "--listen=:1", "x"};
    char *rest[5];
    int nrest;
    assert_int_equal(config_load_args(&c, 5, argv, rest, &nrest), 0);
    assert_int_equal(c.queue_max, 11);
    assert_string_equal(c.listen, ":1");
    assert_int_equal(nrest, 2);
    assert_string_equal(rest[0], "--other");
    config_release(&c);
    unlink(path);
}

static void test_bad_values_are_refused(void **state)
{
    struct config c;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "queue_max", "0", "test"), CB_EINVAL);
    assert_int_equal(config_set(&c, "queue_max", "12x", "test"), CB_EINVAL);
    assert_int_equal(config_set(&c, "sync", "sometimes", "test"), CB_EINVAL);
    assert_int_equal(config_set(&c, "no_such_key", "1", "test"), CB_EINVAL);
    assert_int_equal(config_set(&c, "log_level", "loud", "test"), CB_EINVAL);
    assert_int_equal(c.queue_max, 64);
    char path[] = "/tmp/citybrain-conf-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("listen = :1\nthis line is wrong\n", f);
    fclose(f);
    assert_int_equal(config_load_file(&c, path), CB_EINVAL);
    unlink(path);
    config_release(&c);
}

static void test_sample_matches_checked_in_file(void **state)
{
    struct sbuf s = SBUF_INIT;
    sbuf_init(&s);
    config_write_sample(&s);
    assert_non_null(strstr(s.buf, "retention_days = 90"));
    FILE *f = fopen("citybrain.conf.sample", "r");
    assert_non_null(f);
    char *file = calloc(1, s.len + 2);
    size_t n = fread(file, 1, s.len + 1, f);
    fclose(f);
    assert_int_equal(n, s.len);
    assert_memory_equal(file, s.buf, s.len);
    free(file);
    sbuf_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_env_flags_in_order),
        cmocka_unit_test(test_bad_values_are_refused),
        cmocka_unit_test(test_sample_matches_checked_in_file),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
