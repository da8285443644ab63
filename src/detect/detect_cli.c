/*
 * detect_cli.c - citybrain detect-series: the detector over CSV on stdin.
 *
 * Input, one row per line (a header row is optional):
 *
 *     timestamp,value
 *     2014-07-01 00:00:00,10844
 *
 * Output, a header and then one line per input row, in input order:
 *
 *     timestamp,value,anomaly_score
 *     2014-07-01 00:00:00,10844,0.000000
 *
 * The timestamp and value fields are echoed byte for byte.  The score has at
 * least 6 significant digits in fixed notation (more decimals below 0.1).
 * Bad rows never stop the run: they are written with score 0 and a warning
 * naming their line goes to the warning stream (the first 100 of them, then
 * a count at the end), and the exit status is 1.  Timestamps accept
 * "YYYY-MM-DD", "T" or a space, then "HH:MM[:SS[.fff]]" and an optional "Z"
 * or "+HH:MM" offset, which is ignored: the day and week shapes live in the
 * wall-clock time as written.  Epoch seconds (digits, an optional fraction)
 * are UTC; 13 digits are taken as epoch milliseconds.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect.h"
#include "util/util.h"

#define DETECT_MAX_WARNINGS 100

/* One CSV line split into its first two fields (raw text, for echoing). */
struct detect_row {
    const char *ts, *value;
    size_t ts_len, value_len;
};

struct detect_cli {
    FILE *out, *warn;
    struct detector *det;
    struct sbuf line_out;
    long line_no;
    long bad_rows;
    int seen_first; /* a non-blank line has been read */
};

static const char detect_usage[] =
    "usage: citybrain detect-series [--probation N]\n"
    "  reads CSV timestamp,value on stdin (ISO 8601 or epoch-second\n"
    "  timestamps); writes timestamp,value,anomaly_score on stdout, one\n"
    "  line per row.  A bad row scores 0, is reported on stderr with its\n"
    "  line number, and makes the exit status 1.\n"
    "  --probation N  score the first N rows 0 while learning\n"
    "                 (default: one day of data, at least 32 rows)\n";

/* Returns the length of the field at s: up to the first comma outside
 * double quotes, or len. */
static size_t detect__field_len(const char *s, size_t len)
{
    int quoted = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (s[i] == ',' && !quoted)
            return i;
    }
    return len;
}

static void detect__split(const char *line, size_t len, struct detect_row *row)
{
    row->ts = line;
    row->ts_len = detect__field_len(line, len);
    row->value = line + row->ts_len;
    row->value_len = 0;
    if (row->ts_len < len) {
        row->value++;
        size_t rest = len - row->ts_len - 1;
        row->value_len = detect__field_len(row->value, rest);
    }
}

/* Narrows s/len to the field's content: no blanks, no enclosing quotes. */
static void detect__unwrap(const char **s, size_t *len)
{
    while (*len && isspace((unsigned char)**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && isspace((unsigned char)(*s)[*len - 1]))
        (*len)--;
    if (*len >= 2 && (*s)[0] == '"' && (*s)[*len - 1] == '"') {
        (*s)++;
        *len -= 2;
    }
}

/* Reads exactly n digits at s into *OUT_v; 0 or -1. */
static int detect__digits(const char *s, int n, int *OUT_v)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *OUT_v = v;
    return 0;
}

static int detect__days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

/* Parses the optional tail after the minutes: ":SS[.fff]" and a zone.
 * Returns 0 or -1; *OUT_sec gets the seconds. */
static int detect__time_tail(const char *s, size_t len, int *OUT_sec)
{
    size_t i = 0;
    *OUT_sec = 0;
    if (i < len && s[i] == ':') {
        if (len < i + 3 || detect__digits(s + i + 1, 2, OUT_sec) ||
            *OUT_sec > 60)
            return -1;
        i += 3;
        if (i < len && (s[i] == '.' || s[i] == ',')) {
            for (i++; i < len && isdigit((unsigned char)s[i]); i++)
                ;
        }
    }
    if (i < len && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == len ? 0 : -1;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        int hh, mm;
        size_t rest = len - i - 1;
        const char *z = s + i + 1;
        if (rest == 5 && z[2] == ':')
            return detect__digits(z, 2, &hh) || detect__digits(z + 3, 2, &mm);
        if (rest == 4 || rest == 2)
            return detect__digits(z, (int)rest, &hh);
        return -1;
    }
    return i == len ? 0 : -1;
}

/* Parses epoch seconds ("1764550800", "1764550800.25"; 13 integer digits
 * are milliseconds).  Returns 0 or CB_EINVAL. */
static int detect__parse_epoch(const char *s, size_t len, int64_t *OUT_ts)
{
    size_t digits = 0;
    while (digits < len && isdigit((unsigned char)s[digits]))
        digits++;
    if (digits == 0 || digits > 13)
        return CB_EINVAL;
    if (digits < len) {
        if (s[digits] != '.' || digits + 1 == len)
            return CB_EINVAL;
        for (size_t i = digits + 1; i < len; i++)
            if (!isdigit((unsigned char)s[i]))
                return CB_EINVAL;
    }
    int64_t v = 0;
    for (size_t i = 0; i < digits; i++)
        v = v * 10 + (s[i] - '0');
    *OUT_ts = digits == 13 ? v / 1000 : v;
    return 0;
}

/* Parses a wall-clock timestamp (see the file comment) into seconds since
 * 1970-01-01 00:00 of the same clock.  Returns 0 or CB_EINVAL. */
static int detect__parse_time(const char *s, size_t len, int64_t *OUT_ts)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (len < 10 || s[4] != '-')
        return detect__parse_epoch(s, len, OUT_ts);
    if (detect__digits(s, 4, &y) || detect__digits(s + 5, 2, &mo) ||
        s[7] != '-' || detect__digits(s + 8, 2, &d))
        return CB_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > detect__days_in_month(y, mo))
        return CB_EINVAL;
    if (len > 10) {
        if ((s[10] != ' ' && s[10] != 'T') || len < 16 ||
            detect__digits(s + 11, 2, &h) || s[13] != ':' ||
            detect__digits(s + 14, 2, &mi) || h > 23 || mi > 59 ||
            detect__time_tail(s + 16, len - 16, &sec))
            return CB_EINVAL;
    }
    *OUT_ts = time_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
              h * 3600 + mi * 60 + sec;
    return 0;
}

/* Writes the score in fixed notation with at least 6 significant digits,
 * and near 1 enough decimals that 1 - score keeps 6 of its own, so that
 * thresholds like 0.9999 and 0.99999 can be told apart (at most 17). */
static void detect__format_score(double score, char *buf, size_t size)
{
    int prec = 6;
    if (score > 0 && score < 0.1)
        prec = 5 - (int)floor(log10(score));
    else if (score > 0.9 && score < 1.0)
        prec = 5 - (int)floor(log10(1.0 - score));
    if (prec > 17)
        prec = 17;
    if (prec > 15 || !(score >= 0.0 && score <= 1.0)) {
        snprintf(buf, size, "%.*f", prec, score);
        return;
    }
    /* the common case by hand: printf costs as much as the detector */
    uint64_t scale = 1;
    for (int i = 0; i < prec; i++)
        scale *= 10;
    uint64_t v = (uint64_t)llround(score * (double)scale);
    uint64_t frac = v % scale;
    buf[0] = (char)('0' + v / scale);
    buf[1] = '.';
    for (int i = prec; i >= 1; i--) {
        buf[1 + i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    buf[2 + prec] = '\0';
}

static void detect__warn(struct detect_cli *cli, const char *what,
                         const char *text, size_t len)
{
    cli->bad_rows++;
    if (!cli->warn || cli->bad_rows > DETECT_MAX_WARNINGS)
        return;
    int shown = len > 40 ? 40 : (int)len;
    fprintf(cli->warn, "detect-series: line %ld: %s '%.*s%s'; scored 0\n",
            cli->line_no, what, shown, text, len > 40 ? "..." : "");
}

/* Writes one output line and flushes it.  Returns 0 or CB_EIO. */
static int detect__emit(struct detect_cli *cli, const struct detect_row *row,
                        double score)
{
    char num[40];
    detect__format_score(score, num, sizeof(num));
    struct sbuf *sb = &cli->line_out;
    sbuf_reset(sb);
    sbuf_add(sb, row->ts, row->ts_len);
    sbuf_addch(sb, ',');
    sbuf_add(sb, row->value, row->value_len);
    sbuf_addch(sb, ',');
    sbuf_addstr(sb, num);
    sbuf_addch(sb, '\n');
    if (fwrite(sb->buf, 1, sb->len, cli->out) != sb->len ||
        fflush(cli->out) != 0)
        return CB_EIO;
    return 0;
}

/* Scores one data row; the first row may turn out to be the header. */
static int detect__row(struct detect_cli *cli, const struct detect_row *row)
{
    const char *ts_text = row->ts, *value_text = row->value;
    size_t ts_len = row->ts_len, value_len = row->value_len;
    int first = !cli->seen_first;
    cli->seen_first = 1;
    detect__unwrap(&ts_text, &ts_len);
    detect__unwrap(&value_text, &value_len);
    int64_t ts;
    if (detect__parse_time(ts_text, ts_len, &ts)) {
        if (first)
            return 0; /* a header row */
        detect__warn(cli, "bad timestamp", row->ts, row->ts_len);
        return detect__emit(cli, row, 0.0);
    }
    double value;
    struct detect_result res = {0};
    if (row->value == row->ts + row->ts_len) {
        detect__warn(cli, "no value field after", row->ts, row->ts_len);
        return detect__emit(cli, row, 0.0);
    }
    if (parse_double(value_text, value_len, &value) ||
        detect_update(cli->det, ts, value, &res)) {
        detect__warn(cli, "bad value", row->value, row->value_len);
        return detect__emit(cli, row, 0.0);
    }
    return detect__emit(cli, row, res.score);
}

/* Handles one raw input line (newline included, if any). */
static int detect__line(struct detect_cli *cli, char *line, size_t len)
{
    cli->line_no++;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (cli->line_no == 1 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) {
        line += 3;
        len -= 3;
    }
    size_t i = 0;
    while (i < len && isspace((unsigned char)line[i]))
        i++;
    if (i == len)
        return 0; /* blank lines are not rows */
    struct detect_row row;
    detect__split(line, len, &row);
    return detect__row(cli, &row);
}

int detect_run(FILE *in, FILE *out, FILE *warn, long probation,
               long *OUT_bad_rows)
{
    struct detect_params params;
    detect_params_init(&params);
    params.probation_rows = probation;
    struct detect_cli cli = {.out = out, .warn = warn};
    cli.det = detect_new(&params);
    sbuf_init(&cli.line_out);
    int err = 0;
    if (fputs("timestamp,value,anomaly_score\n", out) == EOF || fflush(out))
        err = CB_EIO;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while (!err && (got = getline(&line, &cap, in)) >= 0)
        err = detect__line(&cli, line, (size_t)got);
    if (!err && ferror(in))
        err = CB_EIO;
    if (warn && cli.bad_rows > 0)
        fprintf(warn, "detect-series: %ld bad rows in all, scored 0\n",
                cli.bad_rows);
    if (OUT_bad_rows)
        *OUT_bad_rows = cli.bad_rows;
    free(line);
    sbuf_release(&cli.line_out);
    detect_free(cli.det);
    return err;
}

/* Parses N of --probation; 0 or CB_EINVAL. */
static int detect__parse_probation(const char *text, long *OUT_rows)
{
    int64_t v;
    if (!text || parse_int64(text, strlen(text), &v) || v < 0 || v > 1000000000)
        return CB_EINVAL;
    *OUT_rows = (long)v;
    return 0;
}

int detect_main(int argc, char **argv)
{
    long probation = -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(detect_usage, stdout);
            return 0;
        }
        const char *value = NULL;
        if (!strcmp(arg, "--probation"))
            value = i + 1 < argc ? argv[++i] : NULL;
        else if (!strncmp(arg, "--probation=", 12))
            value = arg + 12;
        else {
            fprintf(stderr, "error: unknown option '%s'\n%s", arg,
                    detect_usage);
            return 2;
        }
        if (detect__parse_probation(value, &probation)) {
            fprintf(stderr, "error: --probation needs a count, got '%s'\n",
                    value ? value : "");
            return 2;
        }
    }
    long bad_rows = 0;
    int err = detect_run(stdin, stdout, stderr, probation, &bad_rows);
    if (err) {
        fprintf(stderr, "error: detect-series: %s\n", cb_strerror(err));
        return 1;
    }
    return bad_rows > 0 ? 1 : 0;
}
