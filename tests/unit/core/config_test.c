/* Tests of core/config: the defaults, every flag in both spellings, every bound at its
 * edge, the exact sentences of errors, the INI file (keys, sections, comments, errors with
 * file:line) and the precedence of flags over the file. Temporary INI files are created
 * under $TMPDIR (or /tmp) and removed before any assertion runs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"

#define ERR_CAP 512u

/* config_parse() over "ringkv" followed by the given arguments. */
#define PARSE(cfg, err, ...)                                                                     \
    config_parse((int)(sizeof((char *[]){ "ringkv", __VA_ARGS__ }) / sizeof(char *)),          \
                 (char *[]){ "ringkv", __VA_ARGS__, NULL }, (cfg), (err), ERR_CAP)

/* Expects args to parse; returns the config. */
#define PARSE_OK(cfg, ...)                                                                       \
    do {                                                                                         \
        char ok_err_[ERR_CAP];                                                                   \
        enum config_rc ok_rc_ = PARSE((cfg), ok_err_, __VA_ARGS__);                              \
        cr_assert_eq(ok_rc_, CONFIG_OK, "unexpected error: %s", ok_err_);                        \
        cr_assert_str_empty(ok_err_);                                                            \
    } while (0)

/* Expects args to be rejected with exactly the sentence msg. */
#define PARSE_ERR(msg, ...)                                                                      \
    do {                                                                                         \
        struct rkv_config err_cfg_;                                                              \
        char err_err_[ERR_CAP];                                                                  \
        enum config_rc err_rc_ = PARSE(&err_cfg_, err_err_, __VA_ARGS__);                        \
        cr_assert_eq(err_rc_, CONFIG_ERROR);                                                     \
        cr_assert_str_eq(err_err_, (msg));                                                       \
    } while (0)

#define SHARDS_MSG(v) "--shards: must be an integer from 1 to 64, got \"" v "\""

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1u);
    cr_assert_not_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* Writes text to a new temporary file; path_out receives its name. */
static void ini_write(const char *text, char path_out[256])
{
    const char *dir = getenv("TMPDIR");
    snprintf(path_out, 256, "%s/rkv_config_test_XXXXXX", dir != NULL && dir[0] != '\0' ? dir : "/tmp");
    int fd = mkstemp(path_out);
    cr_assert_geq(fd, 0, "mkstemp %s", path_out);
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
}

/* Parses args in which "@FILE" stands for a temporary file holding ini, then removes the
 * file. path_out (optional) receives the file's name for checking messages. */
static enum config_rc parse_with_file(const char *ini, const char *const *args, struct rkv_config *cfg,
                                      char err[ERR_CAP], char path_out[256])
{
    char path[256];
    ini_write(ini, path);
    char *argv[32];
    int argc = 0;
    argv[argc++] = "ringkv";
    for (; *args != NULL; args++) {
        cr_assert_lt(argc, 30);
        argv[argc++] = strcmp(*args, "@FILE") == 0 ? path : (char *)*args;
    }
    argv[argc] = NULL;
    enum config_rc rc = config_parse(argc, argv, cfg, err, ERR_CAP);
    unlink(path);
    if (path_out != NULL)
        memcpy(path_out, path, sizeof path);
    return rc;
}

static enum config_rc parse_file_only(const char *ini, struct rkv_config *cfg, char err[ERR_CAP], char path_out[256])
{
    static const char *const args[] = { "--config", "@FILE", NULL };
    return parse_with_file(ini, args, cfg, err, path_out);
}

/* Expects the file to be rejected with "PATH:" followed by tail. */
static void file_err(const char *ini, const char *tail)
{
    struct rkv_config cfg;
    char err[ERR_CAP];
    char path[256];
    enum config_rc rc = parse_file_only(ini, &cfg, err, path);
    cr_assert_eq(rc, CONFIG_ERROR, "accepted: %s", ini);
    char expect[ERR_CAP];
    snprintf(expect, sizeof expect, "%s:%s", path, tail);
    cr_assert_str_eq(err, expect);
}

/* ---- defaults ----------------------------------------------------------------------- */

Test(config, no_flags_give_the_documented_defaults)
{
    struct rkv_config cfg;
    char err[ERR_CAP] = "garbage";
    cr_assert_eq(config_parse(1, (char *[]){ "ringkv", NULL }, &cfg, err, sizeof err), CONFIG_OK);
    cr_assert_str_empty(err);
    cr_assert_str_eq(cfg.node_id, "node1");
    cr_assert_str_eq(cfg.data_dir, "./data");
    cr_assert_str_eq(cfg.listen.host, "127.0.0.1");
    cr_assert_eq(cfg.listen.port, 7379);
    cr_assert_eq(cfg.vnodes, RKV_VNODES_DEFAULT);
    cr_assert_eq(cfg.conns_per_shard, RKV_CONNS_PER_SHARD_DEFAULT);
    cr_assert_eq(cfg.idle_timeout_s, RKV_IDLE_TIMEOUT_S_DEFAULT);
    cr_assert_eq(cfg.cache_bytes, RKV_WT_CACHE_BYTES_DEFAULT);
    cr_assert_eq(cfg.row_cache_bytes, config_row_cache_bytes_default());
    cr_assert_eq(cfg.row_cache_value_bytes_max, 64u * 1024u);
    cr_assert_eq(cfg.row_cache_value_bytes_max, RKV_ROW_CACHE_VALUE_BYTES_DEFAULT);
    cr_assert_eq(cfg.sweep_interval_s, 10u);
    cr_assert_eq(cfg.sweep_interval_s, RKV_SWEEP_INTERVAL_S_DEFAULT);
    cr_assert_eq(cfg.tombstone_grace_s, 72u * 3600u, "72 hours");
    cr_assert_eq(cfg.tombstone_grace_s, RKV_TOMBSTONE_GRACE_S_DEFAULT);
    cr_assert(cfg.pin_threads);
    cr_assert_eq(cfg.log_level, RKV_LOG_INFO);
}

Test(config, default_shards_are_the_online_cpus_capped_at_the_maximum)
{
    struct rkv_config cfg;
    char err[ERR_CAP];
    cr_assert_eq(config_parse(1, (char *[]){ "ringkv", NULL }, &cfg, err, sizeof err), CONFIG_OK);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    uint32_t expect = cpus < 1 ? 1u : cpus > (long)RKV_SHARDS_MAX ? RKV_SHARDS_MAX : (uint32_t)cpus;
    cr_assert_eq(cfg.shards, expect);
    cr_assert_geq(cfg.shards, 1u);
    cr_assert_leq(cfg.shards, RKV_SHARDS_MAX);
}

Test(config, argc_0_gives_the_defaults)
{
    struct rkv_config cfg;
    char err[ERR_CAP];
    cr_assert_eq(config_parse(0, (char *[]){ NULL }, &cfg, err, sizeof err), CONFIG_OK);
    cr_assert_str_eq(cfg.node_id, "node1");
}

/* ---- flag syntax -------------------------------------------------------------------- */

Test(config, flag_value_may_follow_as_the_next_argument_or_after_an_equals_sign)
{
    struct rkv_config a, b;
    PARSE_OK(&a, "--shards", "3", "--node-id", "n-a");
    PARSE_OK(&b, "--shards=3", "--node-id=n-a");
    cr_assert_eq(a.shards, 3u);
    cr_assert_eq(b.shards, 3u);
    cr_assert_str_eq(a.node_id, "n-a");
    cr_assert_str_eq(b.node_id, "n-a");
}

Test(config, a_repeated_flag_keeps_its_last_value)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--vnodes", "10", "--vnodes=20");
    cr_assert_eq(cfg.vnodes, 20u);
}

Test(config, unknown_flag_is_an_error)
{
    PARSE_ERR("unknown flag \"--bogus\" (see --help)", "--bogus", "1");
    PARSE_ERR("unknown flag \"--shard\" (see --help)", "--shard=2");
}

Test(config, file_only_keys_are_unknown_flags)
{
    PARSE_ERR("unknown flag \"--pin\" (see --help)", "--pin", "true");
}

Test(config, positional_argument_is_an_error)
{
    PARSE_ERR("unexpected argument \"data\": ringkv takes only flags (see --help)", "data");
    PARSE_ERR("unexpected argument \"-h\": ringkv takes only flags (see --help)", "-h");
    PARSE_ERR("unexpected argument \"--\": ringkv takes only flags (see --help)", "--");
    PARSE_ERR("unexpected argument \"7\": ringkv takes only flags (see --help)", "--shards", "4", "7");
}

Test(config, missing_value_at_the_end_is_an_error)
{
    PARSE_ERR("--shards: missing value", "--shards");
    PARSE_ERR("--config: missing value", "--config");
}

Test(config, a_flag_where_a_value_belongs_is_a_missing_value)
{
    PARSE_ERR("--data: missing value", "--data", "--shards", "4");
}

Test(config, a_value_starting_with_dashes_is_given_with_an_equals_sign)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--data=--odd-dir");
    cr_assert_str_eq(cfg.data_dir, "--odd-dir");
}

Test(config, flags_without_a_value_reject_one)
{
    PARSE_ERR("--no-pin: takes no value, got \"1\"", "--no-pin=1");
    PARSE_ERR("--help: takes no value, got \"\"", "--help=");
}

Test(config, an_empty_value_after_equals_is_checked_like_any_value)
{
    PARSE_ERR(SHARDS_MSG(""), "--shards=");
}

Test(config, help_returns_config_help)
{
    struct rkv_config cfg;
    char err[ERR_CAP];
    cr_assert_eq(PARSE(&cfg, err, "--help"), CONFIG_HELP);
    cr_assert_eq(PARSE(&cfg, err, "--shards", "2", "--help"), CONFIG_HELP);
}

Test(config, help_wins_over_a_bad_value_and_a_missing_config_file)
{
    struct rkv_config cfg;
    char err[ERR_CAP];
    cr_assert_eq(PARSE(&cfg, err, "--shards", "999", "--config", "/nonexistent/ringkv.ini", "--help"), CONFIG_HELP);
}

Test(config, help_after_a_malformed_command_line_is_still_an_error)
{
    PARSE_ERR("unknown flag \"--nope\" (see --help)", "--nope", "--help");
}

Test(config, a_long_bad_value_is_quoted_cut_to_64_bytes)
{
    char *v = repeat('x', 100);
    char *cut = repeat('x', 64);
    char flag[128], msg[256];
    snprintf(flag, sizeof flag, "--shards=%s", v);
    snprintf(msg, sizeof msg, "--shards: must be an integer from 1 to 64, got \"%s...\"", cut);
    PARSE_ERR(msg, flag);
    free(v);
    free(cut);
}

Test(config, a_small_error_buffer_gets_a_cut_terminated_sentence)
{
    struct rkv_config cfg;
    char err[12];
    memset(err, 'Z', sizeof err);
    enum config_rc rc = config_parse(3, (char *[]){ "ringkv", "--shards", "0", NULL }, &cfg, err, sizeof err);
    cr_assert_eq(rc, CONFIG_ERROR);
    cr_assert_str_eq(err, "--shards: m");
}

Test(config, a_zero_sized_error_buffer_is_allowed)
{
    struct rkv_config cfg;
    cr_assert_eq(config_parse(3, (char *[]){ "ringkv", "--shards", "0", NULL }, &cfg, NULL, 0), CONFIG_ERROR);
}

/* ---- --node-id ---------------------------------------------------------------------- */

Test(config, node_id_of_every_allowed_character_is_accepted)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--node-id", "AZaz09._-");
    cr_assert_str_eq(cfg.node_id, "AZaz09._-");
}

Test(config, node_id_of_1_character_is_accepted)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--node-id", "x");
    cr_assert_str_eq(cfg.node_id, "x");
}

Test(config, node_id_of_64_characters_is_accepted)
{
    struct rkv_config cfg;
    char *id = repeat('n', RKV_NODE_ID_BYTES_MAX);
    PARSE_OK(&cfg, "--node-id", id);
    cr_assert_str_eq(cfg.node_id, id);
    free(id);
}

Test(config, node_id_of_65_characters_is_rejected)
{
    char *id = repeat('n', RKV_NODE_ID_BYTES_MAX + 1u);
    char *cut = repeat('n', 64);
    char msg[256];
    snprintf(msg, sizeof msg, "--node-id: must be 1 to 64 characters of A-Z a-z 0-9 . _ -, got \"%s...\"", cut);
    PARSE_ERR(msg, "--node-id", id);
    free(id);
    free(cut);
}

Test(config, empty_node_id_is_rejected)
{
    PARSE_ERR("--node-id: must be 1 to 64 characters of A-Z a-z 0-9 . _ -, got \"\"", "--node-id=");
}

Test(config, node_id_with_a_character_outside_the_set_is_rejected)
{
    static const char *const bad[] = { "node 1", "node/1", "node:1", "n\xc3\xa9", "node@1", "node\t1", "*" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct rkv_config cfg;
        char err[ERR_CAP];
        cr_assert_eq(PARSE(&cfg, err, "--node-id", (char *)bad[i]), CONFIG_ERROR, "accepted \"%s\"", bad[i]);
        cr_assert(strstr(err, "--node-id: must be 1 to 64 characters") == err, "%s", err);
    }
}

/* ---- --data ------------------------------------------------------------------------- */

Test(config, data_flag_sets_the_data_directory)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--data", "/var/lib/ringkv");
    cr_assert_str_eq(cfg.data_dir, "/var/lib/ringkv");
}

Test(config, data_path_of_1023_bytes_is_accepted)
{
    struct rkv_config cfg;
    char *p = repeat('d', RKV_PATH_BYTES_MAX - 1u);
    PARSE_OK(&cfg, "--data", p);
    cr_assert_str_eq(cfg.data_dir, p);
    free(p);
}

Test(config, data_path_of_1024_bytes_is_rejected)
{
    struct rkv_config cfg;
    char err[ERR_CAP];
    char *p = repeat('d', RKV_PATH_BYTES_MAX);
    cr_assert_eq(PARSE(&cfg, err, "--data", p), CONFIG_ERROR);
    cr_assert(strstr(err, "--data: must be a path of 1 to 1023 bytes, got \"dddd") == err, "%s", err);
    free(p);
}

Test(config, empty_data_path_is_rejected)
{
    PARSE_ERR("--data: must be a path of 1 to 1023 bytes, got \"\"", "--data=");
}

/* ---- --listen and config_parse_addr -------------------------------------------------- */

#define LISTEN_MSG(v)                                                                             \
    "--listen: must be HOST:PORT with an IPv4 literal, [IPv6] literal or localhost and a port "  \
    "from 1 to 65535, got \"" v "\""

Test(config, listen_flag_sets_host_and_port)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--listen", "0.0.0.0:9000");
    cr_assert_str_eq(cfg.listen.host, "0.0.0.0");
    cr_assert_eq(cfg.listen.port, 9000);
}

Test(config, listen_port_0_is_rejected)
{
    PARSE_ERR(LISTEN_MSG("127.0.0.1:0"), "--listen", "127.0.0.1:0");
}

Test(config, listen_port_1_is_accepted)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--listen", "127.0.0.1:1");
    cr_assert_eq(cfg.listen.port, 1);
}

Test(config, listen_port_65535_is_accepted)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--listen", "127.0.0.1:65535");
    cr_assert_eq(cfg.listen.port, 65535);
}

Test(config, listen_port_65536_is_rejected)
{
    PARSE_ERR(LISTEN_MSG("127.0.0.1:65536"), "--listen", "127.0.0.1:65536");
}

Test(config, addr_in_brackets_is_ipv6_stored_without_brackets)
{
    struct rkv_addr a;
    cr_assert(config_parse_addr("[::1]:7379", &a));
    cr_assert_str_eq(a.host, "::1");
    cr_assert_eq(a.port, 7379);
    cr_assert(config_parse_addr("[fe80::1:2]:1", &a));
    cr_assert_str_eq(a.host, "fe80::1:2");
}

Test(config, addr_localhost_is_accepted)
{
    struct rkv_addr a;
    cr_assert(config_parse_addr("localhost:80", &a));
    cr_assert_str_eq(a.host, "localhost");
    cr_assert_eq(a.port, 80);
}

Test(config, malformed_addrs_are_rejected_and_leave_a_zeroed_addr)
{
    static const char *const bad[] = {
        "127.0.0.1",        /* no port */
        "127.0.0.1:",       /* empty port */
        ":7379",            /* empty host */
        "127.0.0.1:80x",    /* junk after the port */
        "127.0.0.1:-1",     /* negative */
        "127.0.0.1:+80",    /* sign */
        "127.0.0.1: 80",    /* space */
        "127.0.0.1:99999999999999999999999", /* overflow */
        "::1:80",           /* IPv6 without brackets */
        "[::1]80",          /* no colon after the bracket */
        "[::1",             /* no closing bracket */
        "[127.0.0.1]:80",   /* IPv4 in brackets */
        "[]:80",            /* empty brackets */
        "256.0.0.1:80",     /* not an IPv4 literal */
        "example.com:80",   /* a name other than localhost */
        "",                 /* nothing */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct rkv_addr a;
        memset(&a, 0x5a, sizeof a);
        cr_assert_not(config_parse_addr(bad[i], &a), "accepted \"%s\"", bad[i]);
        cr_assert_eq(a.port, 0);
        cr_assert_str_empty(a.host);
    }
}

Test(config, addr_of_the_longest_ipv6_literal_is_accepted)
{
    struct rkv_addr a;
    cr_assert(config_parse_addr("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535", &a));
    cr_assert_str_eq(a.host, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
    cr_assert_eq(a.port, 65535);
}

Test(config, addr_host_of_64_bytes_or_more_is_rejected)
{
    char s[256];
    char *host = repeat('1', RKV_HOST_BYTES_MAX);
    struct rkv_addr a;
    snprintf(s, sizeof s, "%s:1", host);
    cr_assert_not(config_parse_addr(s, &a));
    snprintf(s, sizeof s, "[%s]:1", host);
    cr_assert_not(config_parse_addr(s, &a));
    free(host);
}

/* ---- numeric flags at their limits --------------------------------------------------- */

Test(config, shards_0_is_rejected)
{
    PARSE_ERR(SHARDS_MSG("0"), "--shards", "0");
}

Test(config, shards_1_is_accepted)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--shards", "1");
    cr_assert_eq(cfg.shards, 1u);
}

Test(config, shards_64_is_accepted)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--shards", "64");
    cr_assert_eq(cfg.shards, RKV_SHARDS_MAX);
}

Test(config, shards_65_is_rejected)
{
    PARSE_ERR(SHARDS_MSG("65"), "--shards", "65");
}

Test(config, shards_abc_is_rejected_with_the_documented_sentence)
{
    PARSE_ERR("--shards: must be an integer from 1 to 64, got \"abc\"", "--shards", "abc");
}

Test(config, numbers_with_signs_spaces_junk_or_overflow_are_rejected)
{
    PARSE_ERR(SHARDS_MSG("-1"), "--shards=-1");
    PARSE_ERR(SHARDS_MSG("+4"), "--shards", "+4");
    PARSE_ERR(SHARDS_MSG(" 4"), "--shards", " 4");
    PARSE_ERR(SHARDS_MSG("4 "), "--shards", "4 ");
    PARSE_ERR(SHARDS_MSG("4x"), "--shards", "4x");
    PARSE_ERR(SHARDS_MSG("0x10"), "--shards", "0x10");
    PARSE_ERR(SHARDS_MSG("4294967297"), "--shards", "4294967297");
    PARSE_ERR(SHARDS_MSG("18446744073709551617"), "--shards", "18446744073709551617");
}

Test(config, numbers_with_leading_zeros_are_decimal)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--shards", "010");
    cr_assert_eq(cfg.shards, 10u);
}

Test(config, vnodes_at_their_limits)
{
    struct rkv_config cfg;
    PARSE_ERR("--vnodes: must be an integer from 1 to 1024, got \"0\"", "--vnodes", "0");
    PARSE_OK(&cfg, "--vnodes", "1");
    cr_assert_eq(cfg.vnodes, 1u);
    PARSE_OK(&cfg, "--vnodes", "1024");
    cr_assert_eq(cfg.vnodes, RKV_VNODES_MAX);
    PARSE_ERR("--vnodes: must be an integer from 1 to 1024, got \"1025\"", "--vnodes", "1025");
}

Test(config, max_conns_at_their_limits)
{
    struct rkv_config cfg;
    PARSE_ERR("--max-conns: must be an integer from 1 to 65536, got \"0\"", "--max-conns", "0");
    PARSE_OK(&cfg, "--max-conns", "1");
    cr_assert_eq(cfg.conns_per_shard, 1u);
    PARSE_OK(&cfg, "--max-conns", "65536");
    cr_assert_eq(cfg.conns_per_shard, RKV_CONNS_PER_SHARD_MAX);
    PARSE_ERR("--max-conns: must be an integer from 1 to 65536, got \"65537\"", "--max-conns", "65537");
}

Test(config, idle_timeout_at_its_limits)
{
    struct rkv_config cfg;
    PARSE_ERR("--idle-timeout: must be an integer from 1 to 86400, got \"0\"", "--idle-timeout", "0");
    PARSE_OK(&cfg, "--idle-timeout", "1");
    cr_assert_eq(cfg.idle_timeout_s, 1u);
    PARSE_OK(&cfg, "--idle-timeout", "86400");
    cr_assert_eq(cfg.idle_timeout_s, RKV_IDLE_TIMEOUT_S_MAX);
    PARSE_ERR("--idle-timeout: must be an integer from 1 to 86400, got \"86401\"", "--idle-timeout", "86401");
}

/* ---- --sweep-interval and --tombstone-grace ----------------------------------------- */

Test(config, sweep_interval_at_its_limits)
{
    struct rkv_config cfg;
    PARSE_ERR("--sweep-interval: must be an integer from 1 to 86400, got \"0\"", "--sweep-interval", "0");
    PARSE_OK(&cfg, "--sweep-interval", "1");
    cr_assert_eq(cfg.sweep_interval_s, 1u);
    PARSE_OK(&cfg, "--sweep-interval=86400");
    cr_assert_eq(cfg.sweep_interval_s, RKV_SWEEP_INTERVAL_S_MAX);
    PARSE_ERR("--sweep-interval: must be an integer from 1 to 86400, got \"86401\"", "--sweep-interval", "86401");
    PARSE_ERR("--sweep-interval: must be an integer from 1 to 86400, got \"10s\"", "--sweep-interval", "10s");
    PARSE_ERR("--sweep-interval: must be an integer from 1 to 86400, got \"-1\"", "--sweep-interval=-1");
    PARSE_ERR("--sweep-interval: missing value", "--sweep-interval");
}

Test(config, tombstone_grace_at_its_limits)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--tombstone-grace", "0");
    cr_assert_eq(cfg.tombstone_grace_s, 0u, "a grace of 0 is allowed");
    PARSE_OK(&cfg, "--tombstone-grace", "1");
    cr_assert_eq(cfg.tombstone_grace_s, 1u);
    PARSE_OK(&cfg, "--tombstone-grace", "315360000");
    cr_assert_eq(cfg.tombstone_grace_s, RKV_TOMBSTONE_GRACE_S_MAX);
    cr_assert_eq(cfg.tombstone_grace_s, RKV_TTL_S_MAX, "ten years, like the longest TTL");
    PARSE_ERR("--tombstone-grace: must be an integer from 0 to 315360000, got \"315360001\"",
              "--tombstone-grace", "315360001");
    PARSE_ERR("--tombstone-grace: must be an integer from 0 to 315360000, got \"18446744073709551616\"",
              "--tombstone-grace", "18446744073709551616");
    PARSE_ERR("--tombstone-grace: must be an integer from 0 to 315360000, got \"\"", "--tombstone-grace=");
    PARSE_ERR("--tombstone-grace: must be an integer from 0 to 315360000, got \"72h\"", "--tombstone-grace", "72h");
}

Test(config, sweep_settings_from_the_file_yield_to_the_flags)
{
    static const char *const args[] = { "--config", "@FILE", "--tombstone-grace", "5", NULL };
    struct rkv_config cfg;
    char err[ERR_CAP];
    enum config_rc rc = parse_with_file("sweep-interval = 2\ntombstone-grace = 600\n", args, &cfg, err, NULL);
    cr_assert_eq(rc, CONFIG_OK, "%s", err);
    cr_assert_eq(cfg.sweep_interval_s, 2u);
    cr_assert_eq(cfg.tombstone_grace_s, 5u);
}

Test(config, file_bad_sweep_values_name_file_line_and_key)
{
    file_err("sweep-interval = 0\n", "1: sweep-interval: must be an integer from 1 to 86400, got \"0\"");
    file_err("shards = 1\ntombstone-grace = 315360001\n",
             "2: tombstone-grace: must be an integer from 0 to 315360000, got \"315360001\"");
}

/* ---- --cache-size ------------------------------------------------------------------- */

#define CACHE_MSG(v) "--cache-size: must be a byte count of at least 200M (suffix K, M or G allowed), got \"" v "\""

Test(config, cache_size_suffixes_are_powers_of_1024)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--cache-size", "204800K");
    cr_assert_eq(cfg.cache_bytes, 204800ull << 10);
    PARSE_OK(&cfg, "--cache-size", "300M");
    cr_assert_eq(cfg.cache_bytes, 300ull << 20);
    PARSE_OK(&cfg, "--cache-size", "2G");
    cr_assert_eq(cfg.cache_bytes, 2ull << 30);
    PARSE_OK(&cfg, "--cache-size", "512m");
    cr_assert_eq(cfg.cache_bytes, 512ull << 20);
    PARSE_OK(&cfg, "--cache-size", "1g");
    cr_assert_eq(cfg.cache_bytes, 1ull << 30);
}

Test(config, cache_size_at_the_minimum_is_accepted)
{
    struct rkv_config cfg;
    char v[32];
    snprintf(v, sizeof v, "%llu", (unsigned long long)RKV_WT_CACHE_BYTES_MIN);
    PARSE_OK(&cfg, "--cache-size", v);
    cr_assert_eq(cfg.cache_bytes, RKV_WT_CACHE_BYTES_MIN);
    PARSE_OK(&cfg, "--cache-size", "200M");
    cr_assert_eq(cfg.cache_bytes, RKV_WT_CACHE_BYTES_MIN);
}

Test(config, cache_size_one_byte_below_the_minimum_is_rejected)
{
    char v[32], msg[256];
    snprintf(v, sizeof v, "%llu", (unsigned long long)RKV_WT_CACHE_BYTES_MIN - 1u);
    snprintf(msg, sizeof msg, CACHE_MSG("%s"), v);
    PARSE_ERR(msg, "--cache-size", v);
    PARSE_ERR(CACHE_MSG("199M"), "--cache-size", "199M");
}

Test(config, cache_size_malformed_values_are_rejected)
{
    PARSE_ERR(CACHE_MSG(""), "--cache-size=");
    PARSE_ERR(CACHE_MSG("M"), "--cache-size", "M");
    PARSE_ERR(CACHE_MSG("1T"), "--cache-size", "1T");
    PARSE_ERR(CACHE_MSG("1.5G"), "--cache-size", "1.5G");
    PARSE_ERR(CACHE_MSG("1GB"), "--cache-size", "1GB");
    PARSE_ERR(CACHE_MSG("-1G"), "--cache-size", "-1G");
    PARSE_ERR(CACHE_MSG("18446744073709551616"), "--cache-size", "18446744073709551616");
    PARSE_ERR(CACHE_MSG("17179869184G"), "--cache-size", "17179869184G");
}

Test(config, cache_size_of_the_largest_representable_count_is_accepted)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--cache-size", "17179869183G");
    cr_assert_eq(cfg.cache_bytes, 17179869183ull << 30);
}

/* ---- --row-cache-size, --row-cache-max-value ------------------------------------------ */

#define ROW_CACHE_MSG(v) "--row-cache-size: must be 0 (off) or a byte count of at least 1M (suffix K, M or G allowed), got \"" v "\""
#define ROW_VALUE_MSG(v) "--row-cache-max-value: must be a byte count from 0 to 1M (suffix K, M or G allowed), got \"" v "\""

Test(config, row_cache_default_is_a_quarter_of_physical_memory)
{
    long pages = sysconf(_SC_PHYS_PAGES), page_bytes = sysconf(_SC_PAGESIZE);
    cr_assert_gt(pages, 0);
    cr_assert_gt(page_bytes, 0);
    uint64_t quarter = (uint64_t)pages * (uint64_t)page_bytes / 4u;
    uint64_t d = config_row_cache_bytes_default();
    cr_assert_leq(d, quarter);
    cr_assert_gt(d + (1ull << 20), quarter, "rounded down to a whole MiB only");
    cr_assert_eq(d % (1ull << 20), 0u);
    cr_assert_geq(d, RKV_ROW_CACHE_BYTES_MIN);
}

Test(config, row_cache_size_zero_switches_the_cache_off)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--row-cache-size", "0");
    cr_assert_eq(cfg.row_cache_bytes, 0u);
    PARSE_OK(&cfg, "--row-cache-size=0K");
    cr_assert_eq(cfg.row_cache_bytes, 0u);
}

Test(config, row_cache_size_takes_suffixes)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--row-cache-size", "1536K");
    cr_assert_eq(cfg.row_cache_bytes, 1536ull << 10);
    PARSE_OK(&cfg, "--row-cache-size", "64m");
    cr_assert_eq(cfg.row_cache_bytes, 64ull << 20);
    PARSE_OK(&cfg, "--row-cache-size", "3G");
    cr_assert_eq(cfg.row_cache_bytes, 3ull << 30);
}

Test(config, row_cache_size_at_the_minimum_is_accepted)
{
    struct rkv_config cfg;
    char v[32];
    snprintf(v, sizeof v, "%llu", (unsigned long long)RKV_ROW_CACHE_BYTES_MIN);
    PARSE_OK(&cfg, "--row-cache-size", v);
    cr_assert_eq(cfg.row_cache_bytes, RKV_ROW_CACHE_BYTES_MIN);
    PARSE_OK(&cfg, "--row-cache-size", "1M");
    cr_assert_eq(cfg.row_cache_bytes, RKV_ROW_CACHE_BYTES_MIN);
}

Test(config, row_cache_size_one_byte_below_the_minimum_and_one_are_rejected)
{
    char v[32], msg[256];
    snprintf(v, sizeof v, "%llu", (unsigned long long)RKV_ROW_CACHE_BYTES_MIN - 1u);
    snprintf(msg, sizeof msg, ROW_CACHE_MSG("%s"), v);
    PARSE_ERR(msg, "--row-cache-size", v);
    PARSE_ERR(ROW_CACHE_MSG("1"), "--row-cache-size", "1");
    PARSE_ERR(ROW_CACHE_MSG("1023K"), "--row-cache-size", "1023K");
}

Test(config, row_cache_size_malformed_values_are_rejected)
{
    PARSE_ERR(ROW_CACHE_MSG(""), "--row-cache-size=");
    PARSE_ERR(ROW_CACHE_MSG("G"), "--row-cache-size", "G");
    PARSE_ERR(ROW_CACHE_MSG("1T"), "--row-cache-size", "1T");
    PARSE_ERR(ROW_CACHE_MSG("-1"), "--row-cache-size", "-1");
    PARSE_ERR(ROW_CACHE_MSG("17179869184G"), "--row-cache-size", "17179869184G");
}

Test(config, row_cache_max_value_bounds_are_zero_and_one_mib)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--row-cache-max-value", "0");
    cr_assert_eq(cfg.row_cache_value_bytes_max, 0u);
    PARSE_OK(&cfg, "--row-cache-max-value", "1M");
    cr_assert_eq(cfg.row_cache_value_bytes_max, RKV_ROW_CACHE_VALUE_BYTES_MAX);
    PARSE_OK(&cfg, "--row-cache-max-value", "1048576");
    cr_assert_eq(cfg.row_cache_value_bytes_max, 1u << 20);
    PARSE_OK(&cfg, "--row-cache-max-value", "4k");
    cr_assert_eq(cfg.row_cache_value_bytes_max, 4096u);
    PARSE_ERR(ROW_VALUE_MSG("1048577"), "--row-cache-max-value", "1048577");
    PARSE_ERR(ROW_VALUE_MSG("1025K"), "--row-cache-max-value", "1025K");
    PARSE_ERR(ROW_VALUE_MSG("1G"), "--row-cache-max-value", "1G");
    PARSE_ERR(ROW_VALUE_MSG("x"), "--row-cache-max-value", "x");
}

Test(config, row_cache_keys_are_read_from_the_file_and_flags_win)
{
    struct rkv_config cfg;
    char path[256], err[ERR_CAP];
    ini_write("row-cache-size = 8M\nrow-cache-max-value = 16K\n", path);
    enum config_rc rc = PARSE(&cfg, err, "--config", path);
    enum config_rc rc2 = PARSE(&cfg, err, "--config", path, "--row-cache-size", "0");
    struct rkv_config cfg2;
    enum config_rc rc3 = PARSE(&cfg2, err, "--config", path);
    unlink(path);
    cr_assert_eq(rc, CONFIG_OK);
    cr_assert_eq(rc2, CONFIG_OK);
    cr_assert_eq(cfg.row_cache_bytes, 0u, "the flag wins");
    cr_assert_eq(cfg.row_cache_value_bytes_max, 16u << 10);
    cr_assert_eq(rc3, CONFIG_OK);
    cr_assert_eq(cfg2.row_cache_bytes, 8ull << 20);
    cr_assert_eq(cfg2.row_cache_value_bytes_max, 16u << 10);
}

/* ---- --no-pin, --log-level ---------------------------------------------------------- */

Test(config, no_pin_turns_pinning_off)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--no-pin");
    cr_assert_not(cfg.pin_threads);
}

Test(config, log_level_accepts_each_level)
{
    static const char *const names[] = { "debug", "info", "warn", "error" };
    static const enum rkv_log_level levels[] = { RKV_LOG_DEBUG, RKV_LOG_INFO, RKV_LOG_WARN, RKV_LOG_ERROR };
    for (size_t i = 0; i < 4; i++) {
        struct rkv_config cfg;
        PARSE_OK(&cfg, "--log-level", (char *)names[i]);
        cr_assert_eq(cfg.log_level, levels[i]);
    }
}

Test(config, log_level_unknown_or_upper_case_is_rejected)
{
    PARSE_ERR("--log-level: must be one of debug, info, warn, error, got \"verbose\"", "--log-level", "verbose");
    PARSE_ERR("--log-level: must be one of debug, info, warn, error, got \"INFO\"", "--log-level", "INFO");
}

/* ---- usage -------------------------------------------------------------------------- */

Test(config, usage_describes_every_flag_and_the_exit_codes)
{
    const char *u = config_usage();
    static const char *const flags[] = { "--node-id", "--data",      "--listen",     "--shards",
                                         "--vnodes",  "--max-conns", "--idle-timeout", "--cache-size",
                                         "--sweep-interval", "--tombstone-grace",
                                         "--row-cache-size", "--row-cache-max-value",
                                         "--no-pin",  "--log-level", "--config",     "--help" };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        cr_assert_not_null(strstr(u, flags[i]), "usage lacks %s", flags[i]);
    cr_assert_not_null(strstr(u, "0  clean stop"));
    cr_assert_not_null(strstr(u, "1  runtime failure"));
    cr_assert_not_null(strstr(u, "2  bad flag or config file"));
}

Test(config, usage_states_the_defaults_and_bounds_of_the_limits)
{
    const char *u = config_usage();
    char s[64];
    snprintf(s, sizeof s, "(default: %u)", RKV_VNODES_DEFAULT);
    cr_assert_not_null(strstr(u, s), "%s", s);
    snprintf(s, sizeof s, "1 to %u (default: %u)", RKV_CONNS_PER_SHARD_MAX, RKV_CONNS_PER_SHARD_DEFAULT);
    cr_assert_not_null(strstr(u, s), "%s", s);
    snprintf(s, sizeof s, "(default: %u)", RKV_IDLE_TIMEOUT_S_DEFAULT);
    cr_assert_not_null(strstr(u, s), "%s", s);
    snprintf(s, sizeof s, "at least %lluM (default: %lluM)", (unsigned long long)(RKV_WT_CACHE_BYTES_MIN >> 20),
             (unsigned long long)(RKV_WT_CACHE_BYTES_DEFAULT >> 20));
    cr_assert_not_null(strstr(u, s), "%s", s);
    snprintf(s, sizeof s, "--shards N          shards (one thread each), 1 to %u\n", RKV_SHARDS_MAX);
    cr_assert_not_null(strstr(u, s), "%s", s);
    snprintf(s, sizeof s, "(default: the online CPUs, at most %u)", RKV_SHARDS_MAX);
    cr_assert_not_null(strstr(u, s), "%s", s);
    cr_assert_not_null(strstr(u, "(default: 127.0.0.1:7379)"));
    cr_assert_not_null(strstr(u, "(default: ./data)"));
    cr_assert_not_null(strstr(u, "(default: node1)"));
    cr_assert_not_null(strstr(u, "(default: info)"));
    snprintf(s, sizeof s, "1 to %u\n                      (default: %u)", RKV_SWEEP_INTERVAL_S_MAX,
             RKV_SWEEP_INTERVAL_S_DEFAULT);
    cr_assert_not_null(strstr(u, s), "%s", s);
    snprintf(s, sizeof s, "0 to %u (ten years)", RKV_TOMBSTONE_GRACE_S_MAX);
    cr_assert_not_null(strstr(u, s), "%s", s);
    snprintf(s, sizeof s, "(default: %u, 72 hours)", RKV_TOMBSTONE_GRACE_S_DEFAULT);
    cr_assert_not_null(strstr(u, s), "%s", s);
    cr_assert_not_null(strstr(u, "sweep-interval, tombstone-grace"), "the file keys are listed");
    cr_assert_not_null(strstr(u, "row-cache-size, row-cache-max-value"), "the file keys are listed");
    cr_assert_not_null(strstr(u, "0 turns it off, else at least 1M"));
    cr_assert_not_null(strstr(u, "0 to 1M (default: 64K)"));
    cr_assert_not_null(strstr(u, "(default: a quarter of physical memory)"));
}

/* ---- the INI file ------------------------------------------------------------------- */

Test(config, file_without_a_section_sets_every_key)
{
    struct rkv_config cfg;
    char err[ERR_CAP];
    enum config_rc rc = parse_file_only("node-id = filenode\n"
                                        "data = /srv/ringkv\n"
                                        "listen = [::1]:8000\n"
                                        "shards = 3\n"
                                        "vnodes = 64\n"
                                        "max-conns = 100\n"
                                        "idle-timeout = 60\n"
                                        "cache-size = 1G\n"
                                        "sweep-interval = 30\n"
                                        "tombstone-grace = 0\n"
                                        "pin = false\n"
                                        "log-level = debug\n",
                                        &cfg, err, NULL);
    cr_assert_eq(rc, CONFIG_OK, "%s", err);
    cr_assert_str_eq(cfg.node_id, "filenode");
    cr_assert_str_eq(cfg.data_dir, "/srv/ringkv");
    cr_assert_str_eq(cfg.listen.host, "::1");
    cr_assert_eq(cfg.listen.port, 8000);
    cr_assert_eq(cfg.shards, 3u);
    cr_assert_eq(cfg.vnodes, 64u);
    cr_assert_eq(cfg.conns_per_shard, 100u);
    cr_assert_eq(cfg.idle_timeout_s, 60u);
    cr_assert_eq(cfg.cache_bytes, 1ull << 30);
    cr_assert_eq(cfg.sweep_interval_s, 30u);
    cr_assert_eq(cfg.tombstone_grace_s, 0u);
    cr_assert_not(cfg.pin_threads);
    cr_assert_eq(cfg.log_level, RKV_LOG_DEBUG);
}

Test(config, file_keys_in_the_ringkv_section_are_read)
{
    struct rkv_config cfg;
    char err[ERR_CAP];
    enum config_rc rc = parse_file_only("shards = 2\n[ringkv]\nvnodes = 7\npin = true\n", &cfg, err, NULL);
    cr_assert_eq(rc, CONFIG_OK, "%s", err);
    cr_assert_eq(cfg.shards, 2u);
    cr_assert_eq(cfg.vnodes, 7u);
    cr_assert(cfg.pin_threads);
}

Test(config, file_comments_blank_lines_and_crlf_are_ignored)
{
    struct rkv_config cfg;
    char err[ERR_CAP];
    enum config_rc rc = parse_file_only("; a comment\r\n# another\r\n\r\n  shards = 5 ; inline\r\nvnodes=9\r\n",
                                        &cfg, err, NULL);
    cr_assert_eq(rc, CONFIG_OK, "%s", err);
    cr_assert_eq(cfg.shards, 5u);
    cr_assert_eq(cfg.vnodes, 9u);
}

Test(config, an_empty_file_keeps_the_defaults)
{
    struct rkv_config cfg;
    char err[ERR_CAP];
    cr_assert_eq(parse_file_only("", &cfg, err, NULL), CONFIG_OK, "%s", err);
    cr_assert_eq(cfg.vnodes, RKV_VNODES_DEFAULT);
}

Test(config, file_unknown_key_names_file_and_line)
{
    file_err("shards = 2\n\nbogus = 1\n", "3: unknown key \"bogus\" (see --help)");
}

Test(config, file_flag_only_keys_are_unknown)
{
    file_err("config = other.ini\n", "1: unknown key \"config\" (see --help)");
    file_err("no-pin = true\n", "1: unknown key \"no-pin\" (see --help)");
    file_err("help = 1\n", "1: unknown key \"help\" (see --help)");
}

Test(config, file_unknown_section_names_file_and_line_even_when_empty)
{
    file_err("shards = 2\n[server]\n", "2: unknown section [server] (keys go in [ringkv] or before any section)");
    file_err("[ringkv]\nshards = 2\n[other]\nvnodes = 3\n",
             "3: unknown section [other] (keys go in [ringkv] or before any section)");
}

Test(config, file_bad_value_names_file_line_and_key)
{
    file_err("vnodes = 10\nshards = 65\n", "2: shards: must be an integer from 1 to 64, got \"65\"");
    file_err("pin = yes\n", "1: pin: must be true or false, got \"yes\"");
    file_err("listen = 127.0.0.1:65536\n",
             "1: listen: must be HOST:PORT with an IPv4 literal, [IPv6] literal or localhost and a port "
             "from 1 to 65535, got \"127.0.0.1:65536\"");
}

Test(config, file_syntax_error_names_file_and_line)
{
    file_err("shards = 2\nthis line has no equals sign\n",
             "2: syntax error (expected \"key = value\" or \"[ringkv]\")");
    file_err("[ringkv\nshards = 2\n", "1: syntax error (expected \"key = value\" or \"[ringkv]\")");
}

Test(config, file_first_error_wins)
{
    file_err("oops\nshards = 0\n", "1: syntax error (expected \"key = value\" or \"[ringkv]\")");
    file_err("shards = 0\noops\n", "1: shards: must be an integer from 1 to 64, got \"0\"");
}

Test(config, file_key_given_twice_is_an_error)
{
    file_err("shards = 2\n[ringkv]\nshards = 3\n", "3: shards: given twice in the file");
}

Test(config, file_line_of_198_bytes_is_read)
{
    char ini[512];
    char *dir = repeat('d', 198 - strlen("data = "));
    snprintf(ini, sizeof ini, "data = %s\nshards = 2\n", dir);
    struct rkv_config cfg;
    char err[ERR_CAP];
    cr_assert_eq(parse_file_only(ini, &cfg, err, NULL), CONFIG_OK, "%s", err);
    cr_assert_str_eq(cfg.data_dir, dir);
    cr_assert_eq(cfg.shards, 2u);
    free(dir);
}

Test(config, file_line_of_199_bytes_is_rejected_with_its_line)
{
    char ini[512];
    char *dir = repeat('d', 199 - strlen("data = "));
    snprintf(ini, sizeof ini, "shards = 2\ndata = %s\n", dir);
    file_err(ini, "2: line longer than 198 bytes");
    free(dir);
}

Test(config, missing_file_is_an_error_naming_it)
{
    struct rkv_config cfg;
    char err[ERR_CAP];
    cr_assert_eq(PARSE(&cfg, err, "--config", "/nonexistent/ringkv.ini"), CONFIG_ERROR);
    cr_assert_str_eq(err, "--config: cannot open \"/nonexistent/ringkv.ini\": No such file or directory");
}

Test(config, empty_config_path_is_rejected)
{
    PARSE_ERR("--config: must be a path of 1 to 1023 bytes, got \"\"", "--config=");
}

Test(config, flags_after_config_win_over_the_file)
{
    static const char *const args[] = { "--config", "@FILE", "--shards", "2", NULL };
    struct rkv_config cfg;
    char err[ERR_CAP];
    cr_assert_eq(parse_with_file("shards = 8\nvnodes = 9\n", args, &cfg, err, NULL), CONFIG_OK, "%s", err);
    cr_assert_eq(cfg.shards, 2u);
    cr_assert_eq(cfg.vnodes, 9u);
}

Test(config, flags_before_config_win_over_the_file)
{
    static const char *const args[] = { "--shards", "2", "--no-pin", "--config", "@FILE", NULL };
    struct rkv_config cfg;
    char err[ERR_CAP];
    cr_assert_eq(parse_with_file("shards = 8\npin = true\nvnodes = 9\n", args, &cfg, err, NULL), CONFIG_OK,
                 "%s", err);
    cr_assert_eq(cfg.shards, 2u);
    cr_assert_not(cfg.pin_threads);
    cr_assert_eq(cfg.vnodes, 9u);
}

Test(config, a_bad_flag_is_reported_even_when_the_file_is_fine)
{
    static const char *const args[] = { "--config", "@FILE", "--vnodes", "0", NULL };
    struct rkv_config cfg;
    char err[ERR_CAP];
    cr_assert_eq(parse_with_file("vnodes = 9\n", args, &cfg, err, NULL), CONFIG_ERROR);
    cr_assert_str_eq(err, "--vnodes: must be an integer from 1 to 1024, got \"0\"");
}

Test(config, a_bad_file_value_is_an_error_even_when_a_flag_overrides_it)
{
    static const char *const args[] = { "--shards", "2", "--config", "@FILE", NULL };
    struct rkv_config cfg;
    char err[ERR_CAP];
    char path[256];
    cr_assert_eq(parse_with_file("shards = 0\n", args, &cfg, err, path), CONFIG_ERROR);
    char expect[ERR_CAP];
    snprintf(expect, sizeof expect, "%s:1: shards: must be an integer from 1 to 64, got \"0\"", path);
    cr_assert_str_eq(err, expect);
}

/* ---- cluster flags (issue 5) ------------------------------------------------------------ */

Test(config, cluster_defaults_are_a_node_of_its_own)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--shards", "2");
    cr_assert(!cfg.peer_enabled);
    cr_assert_eq(cfg.seed_count, 0u);
    cr_assert_eq(cfg.rf, 3u);
    cr_assert_eq(cfg.request_timeout_ms, 1000u);
    cr_assert_eq(cfg.max_skew_ms, 5000u);
    cr_assert(!cfg.sloppy_quorum);
    cr_assert(cfg.hinted_handoff);
    cr_assert_eq(cfg.hint_max_age_s, 10800u);
}

Test(config, peer_and_seeds_are_parsed)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--shards", "2", "--peer", "127.0.0.1:7150", "--seeds", "127.0.0.1:7250,[::1]:7350,localhost:9");
    cr_assert(cfg.peer_enabled);
    cr_assert_str_eq(cfg.peer.host, "127.0.0.1");
    cr_assert_eq(cfg.peer.port, 7150);
    cr_assert_eq(cfg.seed_count, 3u);
    cr_assert_eq(cfg.seeds[0].port, 7250);
    cr_assert_str_eq(cfg.seeds[1].host, "::1");
    cr_assert_eq(cfg.seeds[2].port, 9);
}

Test(config, bad_seeds_are_rejected)
{
    PARSE_ERR("--seeds: needs --peer (this node's own peer address)", "--seeds", "127.0.0.1:7250");
    PARSE_ERR("--seeds: must be HOST:PORT items separated by commas, got \"127.0.0.1:1,\"", "--peer", "127.0.0.1:1",
              "--seeds", "127.0.0.1:1,");
    PARSE_ERR("--seeds: must be HOST:PORT items separated by commas, got \",127.0.0.1:1\"", "--peer", "127.0.0.1:1",
              "--seeds", ",127.0.0.1:1");
    PARSE_ERR("--seeds: seed 127.0.0.1:5 is listed twice", "--peer", "127.0.0.1:1", "--seeds", "127.0.0.1:5,127.0.0.1:5");
    PARSE_ERR("--seeds: each seed must be HOST:PORT with an IPv4 literal, [IPv6] literal or localhost and a port from "
              "1 to 65535, got \"example.com:5\"",
              "--peer", "127.0.0.1:1", "--seeds", "example.com:5");
}

Test(config, peer_port_leaves_room_for_every_shard)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--shards", "2", "--peer", "127.0.0.1:65534");
    PARSE_ERR("--peer: shard 2 would listen on port 65534 + 2, past 65535", "--shards", "3", "--peer", "127.0.0.1:65534");
}

Test(config, rf_timeout_skew_and_hint_age_at_their_limits)
{
    struct rkv_config cfg;
    PARSE_ERR("--rf: must be an integer from 1 to 7, got \"0\"", "--rf", "0");
    PARSE_OK(&cfg, "--rf", "1");
    cr_assert_eq(cfg.rf, 1u);
    PARSE_OK(&cfg, "--rf", "7");
    cr_assert_eq(cfg.rf, 7u);
    PARSE_ERR("--rf: must be an integer from 1 to 7, got \"8\"", "--rf", "8");
    PARSE_ERR("--request-timeout: must be an integer from 10 to 60000, got \"9\"", "--request-timeout", "9");
    PARSE_OK(&cfg, "--request-timeout", "10");
    cr_assert_eq(cfg.request_timeout_ms, 10u);
    PARSE_OK(&cfg, "--request-timeout", "60000");
    PARSE_ERR("--request-timeout: must be an integer from 10 to 60000, got \"60001\"", "--request-timeout", "60001");
    PARSE_ERR("--max-skew: must be an integer from 1 to 600000, got \"0\"", "--max-skew", "0");
    PARSE_OK(&cfg, "--max-skew", "600000");
    cr_assert_eq(cfg.max_skew_ms, 600000u);
    PARSE_ERR("--max-skew: must be an integer from 1 to 600000, got \"600001\"", "--max-skew", "600001");
    PARSE_ERR("--hint-max-age: must be an integer from 1 to 259200, got \"0\"", "--hint-max-age", "0");
    PARSE_OK(&cfg, "--hint-max-age", "259200", "--tombstone-grace", "259201");
    cr_assert_eq(cfg.hint_max_age_s, 259200u);
    PARSE_ERR("--hint-max-age: must be an integer from 1 to 259200, got \"259201\"", "--hint-max-age", "259201");
    /* A hint replayed after its key's newer tombstone was purged would bring the key back. */
    PARSE_ERR("--hint-max-age: must be less than --tombstone-grace (3600 s) while hinted handoff is on",
              "--peer", "127.0.0.1:7000", "--hint-max-age", "3600", "--tombstone-grace", "3600");
    PARSE_OK(&cfg, "--peer", "127.0.0.1:7000", "--hint-max-age", "3600", "--tombstone-grace", "3600",
             "--hinted-handoff", "off");
}

Test(config, sloppy_quorum_and_hinted_handoff_switches)
{
    struct rkv_config cfg;
    PARSE_OK(&cfg, "--sloppy-quorum", "--hinted-handoff", "off");
    cr_assert(cfg.sloppy_quorum);
    cr_assert(!cfg.hinted_handoff);
    PARSE_ERR("--sloppy-quorum: takes no value, got \"yes\"", "--sloppy-quorum=yes");
    PARSE_ERR("--hinted-handoff: must be on or off, got \"maybe\"", "--hinted-handoff", "maybe");
    char path[256];
    ini_write("sloppy-quorum = true\nhinted-handoff = off\nrf = 2\n", path);
    char err[ERR_CAP];
    enum config_rc rc = PARSE(&cfg, err, "--config", path);
    unlink(path);
    cr_assert_eq(rc, CONFIG_OK, "%s", err);
    cr_assert(cfg.sloppy_quorum);
    cr_assert(!cfg.hinted_handoff);
    cr_assert_eq(cfg.rf, 2u);
}
