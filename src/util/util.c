/* util.c - errors, allocation, buffers, arenas, logging and time. */
#include "util/util.h"
#include "util/jsonw.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cb_errno(int err)
{
    return err < CB_ESYS_BASE ? CB_ESYS_BASE - err : 0;
}

const char *cb_strerror(int err)
{
    if (cb_errno(err)) {
        const char *text = strerrordesc_np(cb_errno(err));
        return text ? text : "system error";
    }
    switch (err) {
    case CB_OK:
        return "ok";
    case CB_EINVAL:
        return "invalid input";
    case CB_ENOTFOUND:
        return "not found";
    case CB_EEXIST:
        return "already exists";
    case CB_EIO:
        return "i/o error";
    case CB_ESTORE:
        return "store error";
    case CB_ETOOBIG:
        return "too large";
    case CB_EBUSY:
        return "busy, try again later";
    case CB_EAUTH:
        return "unauthenticated";
    case CB_EPERM:
        return "forbidden";
    case CB_ECLOSED:
        return "shutting down";
    case CB_EPARSE:
        return "parse error";
    }
    return "unknown error";
}

static void die_oom(size_t n)
{
    fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die_oom(n);
    return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        die_oom(nmemb * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die_oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- sbuf ---- */

static char sbuf_empty[1];

void sbuf_init(struct sbuf *sb)
{
    sb->buf = sbuf_empty;
    sb->len = 0;
    sb->cap = 0;
}

void sbuf_release(struct sbuf *sb)
{
    if (sb->cap)
        free(sb->buf);
    sbuf_init(sb);
}

void sbuf_reset(struct sbuf *sb)
{
    sb->len = 0;
    if (sb->cap)
        sb->buf[0] = '\0';
}

void sbuf_grow(struct sbuf *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap *= 2;
    if (sb->cap) {
        sb->buf = xrealloc(sb->buf, cap);
    } else {
        char *b = xmalloc(cap);
        if (sb->buf && sb->len)
            memcpy(b, sb->buf, sb->len);
        sb->buf = b;
    }
    sb->cap = cap;
}

void sbuf_add(struct sbuf *sb, const void *data, size_t n)
{
    sbuf_grow(sb, n);
    memcpy(sb->buf + sb->len, data, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void sbuf_addstr(struct sbuf *sb, const char *s)
{
    sbuf_add(sb, s, strlen(s));
}

void sbuf_addch(struct sbuf *sb, char c)
{
    sbuf_add(sb, &c, 1);
}

void sbuf_addf(struct sbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    sbuf_grow(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void sbuf_add_json_str(struct sbuf *sb, const char *s)
{
    jsonw_add_str(sb, s, strlen(s));
}

char *sbuf_detach(struct sbuf *sb, size_t *OUT_len)
{
    char *r = sb->cap ? sb->buf : xstrdup("");
    if (OUT_len)
        *OUT_len = sb->len;
    sbuf_init(sb);
    return r;
}

/* ---- arena ---- */

struct arena_chunk {
    struct arena_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

#define ARENA_CHUNK 65536

void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct arena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        c = xmalloc(sizeof(*c) + size);
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->used_total += n;
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void arena_release(struct arena *a)
{
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

/* ---- logging ---- */

static enum log_level log_threshold = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level level)
{
    log_threshold = level;
}

int log_level_parse(const char *name)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < log_threshold)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char *extra = strstr(msg, " | ");
    if (extra) {
        *extra = '\0';
        extra += 3;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "ts=%s.%03ldZ level=%s mod=%s msg=\"%s\"%s%s\n", when,
            ts.tv_nsec / 1000000, names[level], module, msg, extra ? " " : "",
            extra ? extra : "");
    pthread_mutex_unlock(&log_lock);
}

/* ---- time ---- */

int64_t time_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t time_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t time_days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void time_civil_from_days(int64_t z, int *OUT_y, unsigned *OUT_m,
                          unsigned *OUT_d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t y = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    *OUT_y = (int)(y + (m <= 2));
    *OUT_m = m;
    *OUT_d = d;
}

void time_format_iso(int64_t epoch_s, int offset_minutes, char *out)
{
    int64_t local = epoch_s + (int64_t)offset_minutes * 60;
    int64_t days = local / 86400, sec = local % 86400;
    if (sec < 0) {
        sec += 86400;
        days--;
    }
    int y;
    unsigned m, d;
    time_civil_from_days(days, &y, &m, &d);
    int off = offset_minutes < 0 ? -offset_minutes : offset_minutes;
    snprintf(out, 32, "%04d-%02u-%02uT%02d:%02d:%02d%c%02d:%02d", y, m, d,
             (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60),
             offset_minutes < 0 ? '-' : '+', off / 60, off % 60);
}

int time_date_valid(int y, unsigned m, unsigned d)
{
    static const unsigned char mdays[] = {31, 28, 31, 30, 31, 30,
                                          31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m < 1 || m > 12 || d < 1)
        return 0;
    return d <= mdays[m - 1] + (unsigned)(m == 2 && leap);
}

int time_parse_date(const char *s, size_t len, int64_t *OUT_day)
{
    int y, m, d;
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return CB_EINVAL;
    for (size_t i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return CB_EINVAL;
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
        (s[3] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1900 || y > 2200 || !time_date_valid(y, (unsigned)m, (unsigned)d))
        return CB_EINVAL;
    *OUT_day = time_days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

static int digits(const char *s, size_t len, size_t at, int n, int *OUT_v)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (at + i >= len || s[at + i] < '0' || s[at + i] > '9')
            return -1 - i;
        v = v * 10 + (s[at + i] - '0');
    }
    *OUT_v = v;
    return 0;
}

static int iso_fail(int *OUT_col, size_t at)
{
    if (OUT_col)
        *OUT_col = (int)at + 1;
    return CB_EINVAL;
}

static int iso_offset(const char *s, size_t len, size_t at, int *OUT_sec,
                      int *OUT_col)
{
    *OUT_sec = 0;
    if (at == len)
        return 0;
    if (s[at] == 'Z' && at + 1 == len)
        return 0;
    if ((s[at] != '+' && s[at] != '-') || len - at != 6 || s[at + 3] != ':')
        return iso_fail(OUT_col, at);
    int hh, mm;
    if (digits(s, len, at + 1, 2, &hh) || digits(s, len, at + 4, 2, &mm) ||
        hh > 23 || mm > 59)
        return iso_fail(OUT_col, at + 1);
    *OUT_sec = (hh * 3600 + mm * 60) * (s[at] == '-' ? -1 : 1);
    return 0;
}

int time_parse_iso(const char *s, size_t len, int64_t *OUT_ns, int *OUT_col)
{
    int y, mo, d, h, mi, se, off;
    static const struct {
        size_t at;
        int n;
        char sep;
    } part[] = {{0, 4, '-'},  {5, 2, '-'},  {8, 2, 'T'},
                {11, 2, ':'}, {14, 2, ':'}, {17, 2, 0}};
    int *dst[] = {&y, &mo, &d, &h, &mi, &se};
    for (int i = 0; i < 6; i++) {
        if (digits(s, len, part[i].at, part[i].n, dst[i]))
            return iso_fail(OUT_col, part[i].at);
        size_t sep = part[i].at + part[i].n;
        if (!part[i].sep)
            continue;
        if (sep >= len ||
            !(s[sep] == part[i].sep || (part[i].sep == 'T' && s[sep] == ' ')))
            return iso_fail(OUT_col, sep);
    }
    if (y < 1900 || y > 2200) /* keeps nanoseconds inside int64_t */
        return iso_fail(OUT_col, 0);
    if (!time_date_valid(y, (unsigned)mo, (unsigned)d))
        return iso_fail(OUT_col, 0);
    if (h > 23 || mi > 59 || se > 60)
        return iso_fail(OUT_col, 11);
    size_t at = 19;
    int64_t frac = 0;
    if (at < len && s[at] == '.') {
        int64_t scale = 100000000;
        at++;
        size_t start = at;
        while (at < len && s[at] >= '0' && s[at] <= '9') {
            frac += (s[at] - '0') * scale;
            scale /= 10;
            at++;
        }
        if (at == start)
            return iso_fail(OUT_col, at);
    }
    if (iso_offset(s, len, at, &off, OUT_col))
        return CB_EINVAL;
    int64_t days = time_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - off;
    *OUT_ns = secs * 1000000000 + frac;
    return 0;
}

int parse_int64(const char *s, size_t len, int64_t *OUT_v)
{
    char tmp[32];
    if (len == 0 || len >= sizeof(tmp) ||
        !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
        return CB_EINVAL;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno || *end || end == tmp)
        return CB_EINVAL;
    *OUT_v = v;
    return 0;
}

int parse_double(const char *s, size_t len, double *OUT_v)
{
    char tmp[64];
    if (len == 0 || len >= sizeof(tmp))
        return CB_EINVAL;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (errno || *end || end == tmp || !isfinite(v))
        return CB_EINVAL;
    *OUT_v = v;
    return 0;
}
